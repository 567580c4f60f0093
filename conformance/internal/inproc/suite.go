package inproc

import (
	"testing"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/regkit/regkit/conformance"
)

// RunSuite validates cfg, registers a suite's specs with register, and
// runs them under go test with cfg's label filter, writing cfg's reports
// and logging the closing line.
func RunSuite(t *testing.T, name string, cfg *conformance.Config, register func()) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	gomega.RegisterFailHandler(ginkgo.Fail)
	register()
	ginkgo.ReportAfterSuite("conformance reports", func(r ginkgo.Report) {
		sum, err := conformance.WriteReports(cfg.ReportDir, r, cfg)
		if err != nil {
			t.Errorf("writing reports: %v", err)
		}
		t.Logf("%s (%d unsupported) against %s", sum.Line(), sum.Unsupported, cfg.URL)
	})
	suiteConfig, reporterConfig := ginkgo.GinkgoConfiguration()
	if cfg.Labels != "" {
		suiteConfig.LabelFilter = cfg.Labels
	}
	ginkgo.RunSpecs(t, name, suiteConfig, reporterConfig)
}
