package oci_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/regkit/regkit/conformance"
	"github.com/regkit/regkit/conformance/oci"
	"github.com/regkit/regkit/server"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/storage"
)

// TestOCIConformance runs the OCI suite through go test and Ginkgo: against
// REGKIT_CONFORMANCE_URL (with the other REGKIT_CONFORMANCE_* settings)
// when it is set, otherwise against regkit's own server in this process.
// Reports go to REGKIT_CONFORMANCE_REPORT when it is set.
func TestOCIConformance(t *testing.T) {
	cfg := conformance.Default()
	if err := cfg.LoadEnv(os.Getenv); err != nil {
		t.Fatal(err)
	}
	if cfg.URL == "" {
		cfg.URL = startServer(t)
		// regkit implements every optional feature: check them all.
		on := conformance.FeatureOn
		cfg.Referrers, cfg.Delete, cfg.SHA512, cfg.Catalog, cfg.AutoMount = on, on, on, on, on
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	RegisterFailHandler(Fail)
	oci.Register(cfg)
	ReportAfterSuite("conformance reports", func(r Report) {
		sum, err := conformance.WriteReports(cfg.ReportDir, r, cfg)
		if err != nil {
			t.Errorf("writing reports: %v", err)
		}
		t.Logf("%s (%d unsupported) against %s", sum.Line(), sum.Unsupported, cfg.URL)
	})
	suiteConfig, reporterConfig := GinkgoConfiguration()
	if cfg.Labels != "" {
		suiteConfig.LabelFilter = cfg.Labels
	}
	RunSpecs(t, "OCI conformance", suiteConfig, reporterConfig)
}

// startServer starts regkit's server on memory storage and returns its URL.
func startServer(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	meta := memmeta.New()
	store, err := storage.Open(ctx, "mem://", meta)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(server.New(meta, store, server.WithLogger(log), server.WithDelete(true), server.WithAutoMount(true)))
	t.Cleanup(srv.Close)
	return srv.URL
}
