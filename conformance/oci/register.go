package oci

import (
	"slices"

	. "github.com/onsi/ginkgo/v2"

	"github.com/regkit/regkit/conformance"
)

// credentialsLabel marks the one spec that checks the credentials and runs
// even when they fail.
const credentialsLabel = "credentials"

// Register adds the OCI conformance specs for cfg to the Ginkgo suite being
// built. Call it before RunSpecs (from a test function or a var
// initialiser of a suite), or pass it to conformance.Run. All state lives in
// closures created here; nothing is read from the environment.
func Register(cfg *conformance.Config) {
	e := newEnv(cfg)
	Describe("OCI Distribution", func() {
		ReportBeforeEach(func(SpecReport) { e.rec.Mark() })
		BeforeEach(func(ctx SpecContext) {
			if !slices.Contains(CurrentSpecReport().Labels(), credentialsLabel) {
				e.need(ctx)
			}
		})
		AfterEach(e.attachExchanges)

		// The credentials spec comes first; every other spec skips with its
		// reason when the credentials do not work.
		e.authSpecs()
		e.pullSpecs()
		e.manifestSpecs()
		e.pushSpecs()
		e.uploadSpecs()
		e.mountSpecs()
		e.sha512Specs()
		e.tagSpecs()
		e.referrerSpecs()
		e.catalogSpecs()
		e.managementSpecs()
	})
}
