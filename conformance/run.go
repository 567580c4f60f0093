package conformance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"
)

// Suite registers a suite's Ginkgo specs for cfg; conformance/oci.Register
// is one.
type Suite func(cfg *Config)

// failRecorder is the ginkgo.GinkgoTestingT that Run hands to RunSpecs.
type failRecorder struct{ failed bool }

// Fail records that the suite failed.
func (f *failRecorder) Fail() { f.failed = true }

// Run registers suites for cfg, runs them with Ginkgo in this process, and
// writes the reports into cfg.ReportDir (none when it is empty). The summary
// counts every spec; the error is non-nil when the run could not be done or
// reported, not when specs failed (check Summary.Failed).
//
// Ginkgo allows one suite run per process, so Run may be called once. A
// deadline on ctx becomes the suite's timeout.
func Run(ctx context.Context, cfg *Config, suites ...Suite) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	if err := ctx.Err(); err != nil {
		return Summary{}, err
	}
	gomega.RegisterFailHandler(ginkgo.Fail)
	for _, s := range suites {
		s(cfg)
	}
	var (
		report types.Report
		got    bool
	)
	ginkgo.ReportAfterSuite("conformance reports", func(r ginkgo.Report) {
		report, got = r, true
	})
	suiteConfig, reporterConfig := ginkgo.GinkgoConfiguration()
	suiteConfig.LabelFilter = cfg.Labels
	suiteConfig.ParallelTotal, suiteConfig.ParallelProcess = 1, 1
	if dl, ok := ctx.Deadline(); ok {
		suiteConfig.Timeout = time.Until(dl)
	}
	reporterConfig.NoColor = true
	t := &failRecorder{}
	ginkgo.RunSpecs(t, "regkit conformance", suiteConfig, reporterConfig)
	if !got {
		return Summary{}, errors.New("conformance: the suite ended without a report")
	}
	sum, err := WriteReports(cfg.ReportDir, report, cfg)
	if err != nil {
		return sum, fmt.Errorf("conformance reports: %w", err)
	}
	return sum, nil
}
