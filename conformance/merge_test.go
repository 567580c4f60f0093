package conformance_test

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/reporters"

	"github.com/regkit/regkit/conformance"
)

func officialFixture() conformance.Official {
	return conformance.Official{
		Harness: "example.invalid/harness@v0", Closing: "2 passed, 1 failed, 1 skipped", ReportDir: "official",
		Specs: []conformance.SpecResult{
			{Name: "OCI Conformance Test/ping", Status: conformance.StatusPassed, Labels: []string{conformance.OfficialArea, "end-1"}},
			{Name: "OCI Conformance Test/image/pull/blob-get", Status: conformance.StatusPassed, Labels: []string{conformance.OfficialArea, "end-2"}},
			{Name: "OCI Conformance Test/empty/referrers", Status: conformance.StatusFailed, Labels: []string{conformance.OfficialArea, "end-12a"},
				Message: "unexpected status code 404", Output: "GET /v2/x/referrers/sha256:…"},
			{Name: "OCI Conformance Test/sha256 blobs/mount/blob-mount", Status: conformance.StatusSkipped, Labels: []string{conformance.OfficialArea, "end-11"},
				Message: "registry returned status 202"},
		},
	}
}

// TestMergeOfficialIntoRegkitReport merges official verdicts into a
// report of regkit's suite: one results.json with both and per-route
// official counts, one junit.xml with both suites, one HTML page showing
// both side by side. Merging twice replaces the official part.
func TestMergeOfficialIntoRegkitReport(t *testing.T) {
	dir := t.TempDir()
	res := conformance.Results{Suite: "regkit conformance", Summary: conformance.Summary{Passed: 1},
		Routes: map[string]*conformance.Group{"end-2": {Summary: conformance.Summary{Passed: 1}, Specs: []conformance.GroupSpec{{Name: "GET a blob", Status: conformance.StatusPassed}}}},
		Areas:  map[string]*conformance.Group{},
		Specs:  []conformance.SpecResult{{Name: "GET a blob", Status: conformance.StatusPassed, Labels: []string{"end-2"}}}}
	b, _ := json.Marshal(res)
	if err := os.WriteFile(filepath.Join(dir, conformance.ResultsFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	junit := reporters.JUnitTestSuites{Tests: 1, TestSuites: []reporters.JUnitTestSuite{{Name: "regkit conformance", Tests: 1,
		TestCases: []reporters.JUnitTestCase{{Name: "GET a blob", Status: "passed"}}}}}
	jb, _ := xml.Marshal(junit)
	if err := os.WriteFile(filepath.Join(dir, conformance.JUnitFile), jb, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := conformance.MergeOfficial(dir, officialFixture()); err != nil {
			t.Fatal(err)
		}
	}
	var got conformance.Results
	b, _ = os.ReadFile(filepath.Join(dir, conformance.ResultsFile))
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Summary.Passed != 1 || got.Official == nil || got.Official.Summary != (conformance.Summary{Passed: 2, Failed: 1, Skipped: 1}) {
		t.Fatalf("merged results: regkit %+v, official %+v", got.Summary, got.Official)
	}
	if g := got.Routes["end-2"]; g == nil || g.Passed != 1 || g.Official == nil || g.Official.Passed != 1 {
		t.Errorf("end-2 should carry both verdicts: %+v", g)
	}
	if g := got.Routes["end-12a"]; g == nil || g.Official == nil || g.Official.Failed != 1 || g.Passed != 0 {
		t.Errorf("end-12a should carry the official failure: %+v", g)
	}
	var suites reporters.JUnitTestSuites
	jb, _ = os.ReadFile(filepath.Join(dir, conformance.JUnitFile))
	if err := xml.Unmarshal(jb, &suites); err != nil {
		t.Fatal(err)
	}
	if len(suites.TestSuites) != 2 || suites.TestSuites[1].Name != conformance.OfficialSuiteName || suites.TestSuites[1].Tests != 4 ||
		suites.TestSuites[1].Failures != 1 || suites.Tests != 5 || suites.Failures != 1 {
		t.Errorf("junit.xml: %d suites, totals tests=%d failures=%d: %+v", len(suites.TestSuites), suites.Tests, suites.Failures, suites.TestSuites)
	}
	html, _ := os.ReadFile(filepath.Join(dir, conformance.HTMLFile))
	for _, want := range []string{"Official OCI conformance harness", "official harness</th>", "OCI Conformance Test/empty/referrers", "unexpected status code 404", "registry returned status 202", `href="official/report.html"`} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}

// TestMergeOfficialAlone writes a report of the official harness alone
// when dir holds no regkit report.
func TestMergeOfficialAlone(t *testing.T) {
	dir := t.TempDir()
	if err := conformance.MergeOfficial(dir, officialFixture()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{conformance.ResultsFile, conformance.JUnitFile, conformance.HTMLFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}
