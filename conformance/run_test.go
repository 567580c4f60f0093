package conformance_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/regkit/regkit/conformance"
)

// TestRun runs a small suite through Run (Ginkgo allows one run per
// process, so this is the package's only Ginkgo test) and checks the
// summary and the three report files.
func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte(`{"errors":[{"code":"UNKNOWN","message":"teapot"}]}`))
	}))
	defer srv.Close()
	cfg := conformance.Default()
	cfg.URL, cfg.ReportDir, cfg.Username, cfg.Password = srv.URL, t.TempDir(), "u", "s3cret-value"
	suite := func(cfg *conformance.Config) {
		rec := conformance.NewRecorder(0)
		c, err := conformance.NewClient(cfg, rec)
		if err != nil {
			t.Fatal(err)
		}
		Describe("demo", Label("pull"), func() {
			ReportBeforeEach(func(SpecReport) { rec.Mark() })
			AfterEach(func() {
				if CurrentSpecReport().Failed() {
					AddReportEntry(conformance.ExchangesEntry, rec.Exchanges(), types.ReportEntryVisibilityNever)
				}
			})
			It("passes", Label("end-1"), func() { Expect(1).To(Equal(1)) })
			It("fails with an exchange", Label("end-2"), func(ctx SpecContext) {
				resp, err := c.Do(ctx, conformance.Request{Method: http.MethodGet, URL: "/v2/", Header: http.Header{"Authorization": {"Basic c2VjcmV0"}}})
				Expect(err).NotTo(HaveOccurred())
				Expect(resp.Status).To(Equal(http.StatusOK))
			})
			It("is unsupported", Label("end-12a", "referrers"), func() { Skip(conformance.UnsupportedPrefix + " no referrers API") })
			It("is skipped", Label("end-2"), func() { Skip("not today") })
		})
	}
	sum, err := conformance.Run(context.Background(), cfg, suite)
	if err != nil {
		t.Fatal(err)
	}
	want := conformance.Summary{Passed: 1, Failed: 1, Skipped: 1, Unsupported: 1}
	if sum != want {
		t.Errorf("summary = %+v, want %+v", sum, want)
	}
	if got := sum.Line(); got != "1 passed, 1 failed, 2 skipped" {
		t.Errorf("Line() = %q", got)
	}
	var res conformance.Results
	b, err := os.ReadFile(filepath.Join(cfg.ReportDir, conformance.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if g := res.Routes["end-2"]; g == nil || g.Failed != 1 || g.Skipped != 1 {
		t.Errorf("routes[end-2] = %+v", g)
	}
	if g := res.Areas["referrers"]; g == nil || g.Unsupported != 1 {
		t.Errorf("areas[referrers] = %+v", g)
	}
	html, err := os.ReadFile(filepath.Join(cfg.ReportDir, conformance.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"fails with an exchange", "418", "teapot", "no referrers API"} {
		if !strings.Contains(string(html), s) {
			t.Errorf("report.html lacks %q", s)
		}
	}
	for _, f := range []string{conformance.JUnitFile, conformance.ResultsFile, conformance.HTMLFile} {
		b, err := os.ReadFile(filepath.Join(cfg.ReportDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "s3cret-value") || strings.Contains(string(b), "c2VjcmV0") {
			t.Errorf("%s leaks a secret", f)
		}
	}
}
