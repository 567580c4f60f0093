package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
)

// UnsupportedPrefix starts the Skip message of a spec whose feature the
// registry does not offer; reports count such specs as unsupported.
const UnsupportedPrefix = "unsupported:"

// ExchangesEntry is the name of the Ginkgo report entry that carries a
// failed spec's HTTP exchanges ([]Exchange).
const ExchangesEntry = "http-exchanges"

// Report file names inside the report directory.
const (
	JUnitFile   = "junit.xml"
	ResultsFile = "results.json"
	HTMLFile    = "report.html"
)

// areas are the labels that name an area or a feature; every other label of
// a spec is a route ID.
var areas = []string{"pull", "push", "discovery", "management", "auth", "chunked", "referrers", "generic", "setup", "extension", "strict", "official"}

// IsArea reports whether a spec label names an area or feature rather than
// a route ID.
func IsArea(label string) bool { return slices.Contains(areas, label) }

// Status is the outcome of one spec.
type Status string

// Spec outcomes.
const (
	StatusPassed      Status = "passed"
	StatusFailed      Status = "failed"
	StatusSkipped     Status = "skipped"
	StatusUnsupported Status = "unsupported"
)

// Summary counts the outcomes of a run.
type Summary struct {
	Passed      int `json:"passed"`
	Failed      int `json:"failed"`
	Skipped     int `json:"skipped"`
	Unsupported int `json:"unsupported"`
}

// Line returns "N passed, N failed, N skipped", unsupported specs counted
// as skipped.
func (s Summary) Line() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", s.Passed, s.Failed, s.Skipped+s.Unsupported)
}

// Total returns the number of specs.
func (s Summary) Total() int { return s.Passed + s.Failed + s.Skipped + s.Unsupported }

func (s *Summary) add(st Status) {
	switch st {
	case StatusPassed:
		s.Passed++
	case StatusFailed:
		s.Failed++
	case StatusUnsupported:
		s.Unsupported++
	default:
		s.Skipped++
	}
}

// SpecResult is one spec in the results file and the HTML report.
type SpecResult struct {
	// Name is the spec's full text (containers and leaf).
	Name string `json:"name"`
	// Status is its outcome.
	Status Status `json:"status"`
	// Labels are its route IDs and areas.
	Labels []string `json:"labels"`
	// Message is the failure, skip or unsupported reason.
	Message string `json:"message,omitempty"`
	// Location is where it failed.
	Location string `json:"location,omitempty"`
	// Duration is how long it ran.
	Duration time.Duration `json:"duration"`
	// Exchanges are the HTTP exchanges of a failed spec.
	Exchanges []Exchange `json:"exchanges,omitempty"`
	// Output is the official harness's record of a failed test's requests
	// and responses.
	Output string `json:"output,omitempty"`
}

// Group counts the outcomes of the specs of one route or area.
type Group struct {
	Summary
	// Specs are the names and outcomes of the group's specs.
	Specs []GroupSpec `json:"specs"`
	// Official counts the official harness's tests of the route, when its
	// results were merged in (see MergeOfficial).
	Official *Summary `json:"official,omitempty"`
}

// GroupSpec names one spec of a group.
type GroupSpec struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
}

// Results is the content of results.json.
type Results struct {
	// Suite is the Ginkgo suite description.
	Suite string `json:"suite"`
	// Registry is the URL under test.
	Registry string `json:"registry"`
	// Settings are the run's settings, secrets redacted.
	Settings map[string]string `json:"settings"`
	// Start and Duration time the run.
	Start time.Time `json:"start"`
	// Duration is the run's length.
	Duration time.Duration `json:"duration"`
	// Summary counts every spec.
	Summary Summary `json:"summary"`
	// Routes groups specs by route ID.
	Routes map[string]*Group `json:"routes"`
	// Areas groups specs by area or feature label.
	Areas map[string]*Group `json:"areas"`
	// Specs are every spec in run order.
	Specs []SpecResult `json:"specs"`
	// Official is the official harness's verdicts, when merged in.
	Official *Official `json:"official,omitempty"`
}

// specStatus maps a Ginkgo spec state to a Status.
func specStatus(s types.SpecReport) Status {
	switch {
	case s.State == types.SpecStatePassed:
		return StatusPassed
	case s.State == types.SpecStateSkipped && strings.HasPrefix(s.Failure.Message, UnsupportedPrefix):
		return StatusUnsupported
	case s.State.Is(types.SpecStateFailureStates):
		return StatusFailed
	default:
		return StatusSkipped
	}
}

// exchangesOf decodes the HTTP exchanges a spec attached.
func exchangesOf(s types.SpecReport) []Exchange {
	var out []Exchange
	for _, e := range s.ReportEntries {
		if e.Name != ExchangesEntry {
			continue
		}
		b, err := json.Marshal(e.GetRawValue())
		if err != nil {
			continue
		}
		var exs []Exchange
		if json.Unmarshal(b, &exs) == nil {
			out = append(out, exs...)
		}
	}
	return out
}

// Collect turns a Ginkgo report into Results. Only It nodes count as specs;
// a failed setup or teardown node outside any spec counts as a failure.
func Collect(r types.Report, cfg *Config) Results {
	res := Results{
		Suite:    r.SuiteDescription,
		Start:    r.StartTime,
		Duration: r.RunTime,
		Routes:   map[string]*Group{},
		Areas:    map[string]*Group{},
	}
	if cfg != nil {
		res.Registry = cfg.URL
		res.Settings = cfg.Settings()
	}
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			if !s.State.Is(types.SpecStateFailureStates) {
				continue
			}
		}
		name := s.FullText()
		if name == "" {
			name = s.LeafNodeType.String()
		}
		st := specStatus(s)
		sr := SpecResult{
			Name:     name,
			Status:   st,
			Labels:   s.Labels(),
			Duration: s.RunTime,
		}
		if st != StatusPassed {
			sr.Message = s.Failure.Message
			if st == StatusFailed {
				sr.Location = s.Failure.Location.String()
				sr.Exchanges = exchangesOf(s)
			}
		}
		if sr.Labels == nil {
			sr.Labels = []string{}
		}
		res.Specs = append(res.Specs, sr)
		res.Summary.add(st)
		for _, l := range sr.Labels {
			m := res.Routes
			if IsArea(l) {
				m = res.Areas
			}
			g := m[l]
			if g == nil {
				g = &Group{Specs: []GroupSpec{}}
				m[l] = g
			}
			g.add(st)
			g.Specs = append(g.Specs, GroupSpec{Name: name, Status: st})
		}
	}
	return res
}

// WriteReports writes junit.xml, results.json and report.html for r into
// dir (created if needed) and returns the summary.
func WriteReports(dir string, r types.Report, cfg *Config) (Summary, error) {
	res := Collect(r, cfg)
	if dir == "" {
		return res.Summary, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res.Summary, err
	}
	var errs []error
	errs = append(errs, reporters.GenerateJUnitReportWithConfig(r, filepath.Join(dir, JUnitFile), reporters.JunitReportConfig{
		OmitTimelinesForSpecState: types.SpecStatePassed | types.SpecStateSkipped | types.SpecStatePending,
	}))
	if b, err := json.MarshalIndent(res, "", "  "); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, os.WriteFile(filepath.Join(dir, ResultsFile), append(b, '\n'), 0o644))
	}
	errs = append(errs, writeHTML(filepath.Join(dir, HTMLFile), res))
	return res.Summary, errors.Join(errs...)
}

// sortedKeys returns the keys of m in order, route IDs numerically
// ("end-2" before "end-10").
func sortedKeys(m map[string]*Group) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return naturalLess(keys[i], keys[j]) })
	return keys
}

// naturalLess compares strings with digit runs compared as numbers.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitsPrefix(a), digitsPrefix(b)
		if da != "" && db != "" {
			if len(da) != len(db) {
				return len(da) < len(db)
			}
			if da != db {
				return da < db
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitsPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
