package conformance

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/onsi/ginkgo/v2/reporters"
)

// OfficialSuiteName names the official harness's suite in the merged
// junit.xml.
const OfficialSuiteName = "OCI Distribution conformance (official harness)"

// OfficialArea labels the official harness's specs.
const OfficialArea = "official"

// Official is the official OCI conformance harness's verdicts, merged into
// a report beside regkit's own suite (see MergeOfficial).
type Official struct {
	// Harness is the module@version that ran.
	Harness string `json:"harness"`
	// Closing is the harness's closing counts as it printed them.
	Closing string `json:"closing"`
	// Summary counts the test cases of its junit.xml.
	Summary Summary `json:"summary"`
	// ReportDir is where its own reports are, relative to the merged report.
	ReportDir string `json:"report_dir"`
	// Specs are its test cases; their labels are route IDs.
	Specs []SpecResult `json:"specs"`
}

// MergeOfficial adds off to the reports in dir: results.json gains an
// "official" section and per-route official counts, report.html shows both
// suites' verdicts side by side per route, and junit.xml gains the
// harness's suite (replacing one merged before). When dir holds no report
// of regkit's suite yet, the merged report has only the official part.
func MergeOfficial(dir string, off Official) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var res Results
	b, err := os.ReadFile(filepath.Join(dir, ResultsFile))
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &res); err != nil {
			return fmt.Errorf("merge official results: %s: %w", ResultsFile, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		res = Results{Suite: OfficialSuiteName}
	default:
		return err
	}
	addOfficial(&res, off)
	if b, err = json.MarshalIndent(res, "", "  "); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ResultsFile), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := writeHTML(filepath.Join(dir, HTMLFile), res); err != nil {
		return err
	}
	return mergeJUnit(filepath.Join(dir, JUnitFile), off)
}

// addOfficial puts off into res and counts its specs per route.
func addOfficial(res *Results, off Official) {
	if res.Routes == nil {
		res.Routes = map[string]*Group{}
	}
	if res.Areas == nil {
		res.Areas = map[string]*Group{}
	}
	for _, g := range res.Routes {
		g.Official = nil
	}
	off.Summary = Summary{}
	for _, s := range off.Specs {
		off.Summary.add(s.Status)
		for _, l := range s.Labels {
			if IsArea(l) || l == OfficialArea {
				continue
			}
			g := res.Routes[l]
			if g == nil {
				g = &Group{Specs: []GroupSpec{}}
				res.Routes[l] = g
			}
			if g.Official == nil {
				g.Official = &Summary{}
			}
			g.Official.add(s.Status)
		}
	}
	res.Official = &off
}

// mergeJUnit appends the official suite to the junit.xml at path.
func mergeJUnit(path string, off Official) error {
	var suites reporters.JUnitTestSuites
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := xml.Unmarshal(b, &suites); err != nil {
			return fmt.Errorf("merge official results: %s: %w", JUnitFile, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	kept := suites.TestSuites[:0]
	for _, s := range suites.TestSuites {
		if s.Name != OfficialSuiteName {
			kept = append(kept, s)
		}
	}
	suite := reporters.JUnitTestSuite{Name: OfficialSuiteName, Package: off.Harness}
	suite.Properties.Properties = []reporters.JUnitProperty{{Name: "harness", Value: off.Harness}, {Name: "closing", Value: off.Closing}}
	for _, s := range off.Specs {
		tc := reporters.JUnitTestCase{Name: s.Name, Classname: OfficialSuiteName, Time: s.Duration.Seconds()}
		switch s.Status {
		case StatusPassed:
			tc.Status = "passed"
		case StatusFailed:
			tc.Status = "failed"
			tc.Failure = &reporters.JUnitFailure{Message: firstLine(s.Message), Type: "failed", Description: s.Message}
			suite.Failures++
		default:
			tc.Status = "skipped"
			tc.Skipped = &reporters.JUnitSkipped{Message: "skipped - " + firstLine(s.Message)}
			suite.Skipped++
		}
		suite.Tests++
		suite.TestCases = append(suite.TestCases, tc)
	}
	suites.TestSuites = append(kept, suite)
	suites.Tests, suites.Failures, suites.Errors, suites.Disabled = 0, 0, 0, 0
	for _, s := range suites.TestSuites {
		suites.Tests += s.Tests
		suites.Failures += s.Failures
		suites.Errors += s.Errors
		suites.Disabled += s.Disabled + s.Skipped
	}
	out, err := xml.MarshalIndent(suites, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(out, '\n')...), 0o644)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
