package official

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/spec/oci"
)

// Case is one test case of the harness's junit.xml.
type Case struct {
	// Name is the harness's path of the test, e.g.
	// "OCI Conformance Test/sha256 blobs/post only/blob-post-only".
	Name string
	// Status is the junit status: passed, skipped, failure or error.
	Status string
	// Message is the failure (the harness's errors) or the skip reason.
	Message string
	// Output is the harness's record of the test's requests and responses.
	Output string
	// Routes are the spec/oci routes the test exercises.
	Routes []oci.RouteID
}

// Failed reports whether the case failed or errored.
func (c Case) Failed() bool { return c.Status == "failure" || c.Status == "error" }

// Skipped reports whether the case was skipped or disabled.
func (c Case) Skipped() bool { return c.Status == "skipped" }

// ParseJUnit reads the test cases of the harness's junit.xml.
func ParseJUnit(b []byte) ([]Case, error) {
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name      string `xml:"name,attr"`
				Status    string `xml:"status,attr"`
				SystemOut string `xml:"system-out"`
				SystemErr string `xml:"system-err"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("official harness junit.xml: %w", err)
	}
	var out []Case
	for _, s := range doc.Suites {
		for _, tc := range s.Cases {
			c := Case{Name: tc.Name, Status: tc.Status, Output: tc.SystemErr, Routes: RoutesOf(tc.Name)}
			switch {
			case c.Failed():
				c.Message = strings.TrimSpace(tc.SystemOut)
			case c.Skipped():
				c.Message = skipReason(tc.SystemErr)
			}
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("official harness junit.xml has no test case")
	}
	return out, nil
}

// skipReason is the reason line after the harness's "skipping test:".
func skipReason(output string) string {
	_, after, ok := strings.Cut(output, "skipping test:")
	if !ok {
		return "skipped"
	}
	return strings.TrimSpace(after)
}

// RoutesOf maps a harness test path to the spec/oci routes its last step
// exercises.
func RoutesOf(name string) []oci.RouteID {
	parts := strings.Split(name, "/")
	leaf := parts[len(parts)-1]
	parent := ""
	if len(parts) > 1 {
		parent = parts[len(parts)-2]
	}
	group := ""
	if len(parts) > 2 {
		group = parts[1]
	}
	switch {
	case leaf == "ping":
		return []oci.RouteID{oci.RouteBase}
	case leaf == "blob-head", leaf == "blob-get", leaf == "get-missing", strings.HasPrefix(leaf, "range "):
		return []oci.RouteID{oci.RouteBlob}
	case leaf == "blob-post-put":
		return []oci.RouteID{oci.RouteUploadStart, oci.RouteUploadFinish}
	case leaf == "blob-post-only":
		return []oci.RouteID{oci.RouteUploadMonolithic}
	case leaf == "blob-patch-chunked", leaf == "blob-patch-stream":
		return []oci.RouteID{oci.RouteUploadStart, oci.RouteUploadChunk, oci.RouteUploadFinish}
	case leaf == "blob-post-cancel":
		return []oci.RouteID{oci.RouteUploadStart, oci.RouteUploadCancel}
	case leaf == "blob-mount", leaf == "blob-mount-anonymous":
		return []oci.RouteID{oci.RouteBlobMount}
	case leaf == "blob-delete":
		return []oci.RouteID{oci.RouteBlobDelete}
	case leaf == "manifest-delete", leaf == "tag-delete":
		return []oci.RouteID{oci.RouteManifestDelete}
	case leaf == "tag-list", leaf == "tag list":
		return []oci.RouteID{oci.RouteTags}
	case leaf == "referrers":
		return []oci.RouteID{oci.RouteReferrers}
	case leaf == "manifest-put", parent == "push":
		if strings.HasPrefix(group, "tag-param") {
			return []oci.RouteID{oci.RouteManifestPutTags}
		}
		return []oci.RouteID{oci.RouteManifestPut}
	case strings.HasPrefix(leaf, "manifest-"), parent == "missing-manifest":
		return []oci.RouteID{oci.RouteManifest}
	}
	return nil
}

// maxOutput bounds the harness output kept per failed case in a report.
const maxOutput = 16 << 10

// Report returns r as the official part of a merged conformance report;
// reportDir is where the harness's own reports are, relative to the
// merged report.
func (r *Result) Report(reportDir string) conformance.Official {
	off := conformance.Official{Harness: Module + "@" + Version, Closing: r.Counts.Line(), ReportDir: reportDir}
	for _, c := range r.Cases {
		s := conformance.SpecResult{Name: c.Name, Status: conformance.StatusPassed, Labels: []string{conformance.OfficialArea}}
		for _, id := range c.Routes {
			s.Labels = append(s.Labels, string(id))
		}
		switch {
		case c.Failed():
			s.Status, s.Message, s.Output = conformance.StatusFailed, c.Message, tail(c.Output, maxOutput)
		case c.Skipped():
			s.Status, s.Message = conformance.StatusSkipped, c.Message
		}
		off.Specs = append(off.Specs, s)
	}
	return off
}
