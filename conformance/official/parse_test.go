package official

import (
	"slices"
	"strings"
	"testing"

	"github.com/regkit/regkit/spec/oci"
)

const closing = `Test results
OCI Conformance Test: FAIL

OCI Conformance Result: FAIL
  Disabled......................:          2
  Skip..........................:          3
  Pass..........................:       1020
  FAIL..........................:          4
  Error.........................:          1
  Total.........................:       1030

API conformance:
  Tag listing...................:       Pass
`

func TestParseCounts(t *testing.T) {
	c, ok := parseCounts(closing)
	want := Counts{Result: "FAIL", Disabled: 2, Skip: 3, Pass: 1020, Fail: 4, Error: 1, Total: 1030}
	if !ok || c != want {
		t.Fatalf("parseCounts = %+v, %v; want %+v", c, ok, want)
	}
	if !strings.HasPrefix(c.Line(), "1020 passed, 5 failed, 5 skipped") {
		t.Errorf("Line() = %q", c.Line())
	}
	if _, ok := parseCounts("no counts here"); ok {
		t.Error("parseCounts found counts in output without them")
	}
}

func TestRoutesOf(t *testing.T) {
	for name, want := range map[string][]oci.RouteID{
		"OCI Conformance Test/ping":                                              {oci.RouteBase},
		"OCI Conformance Test/sha256 blobs/post only/blob-post-only":             {oci.RouteUploadMonolithic},
		"OCI Conformance Test/sha256 blobs/range requests/range 500-1499":        {oci.RouteBlob},
		"OCI Conformance Test/sha512 blobs/mount anonymous/blob-mount-anonymous": {oci.RouteBlobMount},
		"OCI Conformance Test/sha256 blobs/post cancel/blob-post-cancel":         {oci.RouteUploadStart, oci.RouteUploadCancel},
		"OCI Conformance Test/image/push/manifest-by-tag":                        {oci.RouteManifestPut},
		"OCI Conformance Test/tag-param-sha256/push/manifest-by-digest":          {oci.RouteManifestPutTags},
		"OCI Conformance Test/image/pull/manifest-by-digest":                     {oci.RouteManifest},
		"OCI Conformance Test/missing-manifest/by-tag":                           {oci.RouteManifest},
		"OCI Conformance Test/image/delete/tag-delete":                           {oci.RouteManifestDelete},
		"OCI Conformance Test/artifacts-with-subject/referrers":                  {oci.RouteReferrers},
		"OCI Conformance Test/image/tag-list":                                    {oci.RouteTags},
	} {
		if got := RoutesOf(name); !slices.Equal(got, want) {
			t.Errorf("RoutesOf(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestParseJUnit(t *testing.T) {
	doc := `<testsuites><testsuite name="OCI Conformance Test">
<testcase name="OCI Conformance Test/ping" status="passed"></testcase>
<testcase name="OCI Conformance Test/empty/referrers" status="failure"><system-out>unexpected status code 404</system-out><system-err>GET ...</system-err></testcase>
<testcase name="OCI Conformance Test/sha256 blobs/mount/blob-mount" status="skipped"><system-err>OCI Conformance Test/sha256 blobs/mount/blob-mount: skipping test:
  registry returned status 202, fell back to blob POST+PUT</system-err></testcase>
</testsuite></testsuites>`
	cases, err := ParseJUnit([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 3 || !cases[1].Failed() || cases[1].Message != "unexpected status code 404" || !cases[2].Skipped() ||
		cases[2].Message != "registry returned status 202, fell back to blob POST+PUT" {
		t.Fatalf("cases: %+v", cases)
	}
	r := &Result{Cases: cases}
	off := r.Report("official")
	if len(off.Specs) != 3 || off.Specs[1].Status != "failed" || off.Specs[1].Output != "GET ..." || !slices.Contains(off.Specs[0].Labels, "end-1") {
		t.Errorf("report: %+v", off.Specs)
	}
	if _, err := ParseJUnit([]byte(`<testsuites></testsuites>`)); err == nil {
		t.Error("a junit.xml without test cases parsed")
	}
}

func TestEnvSettings(t *testing.T) {
	o := Options{URL: "https://reg.example:5000", Repo1: "a/1", Repo2: "a/2", ResultsDir: "/tmp/x", Username: "u", Password: "p",
		Environ: []string{"OCI_DATA_SPARSE=false", "OCI_LOG=", "HOME=/root"}, Settings: map[string]string{"OCI_API_REFERRER": "false"}}
	m, err := o.Env()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"OCI_REGISTRY": "reg.example:5000", "OCI_TLS": "enabled", "OCI_VERSION": "dev", "OCI_DATA_SPARSE": "false",
		"OCI_API_REFERRER": "false", "OCI_LOG": "warn", "OCI_DATA_SHA512": "true", "OCI_API_MANIFESTS_TAG_PARAM": "true", "OCI_USERNAME": "u"} {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	if _, err := (Options{URL: "http://reg.example/prefix", Repo1: "a", Repo2: "b"}).Env(); err == nil {
		t.Error("a registry under a path was accepted")
	}
}
