package generic

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/regkit/regkit/conformance"
)

// Register adds the generic registry's conformance specs for cfg to the
// Ginkgo suite being built; owner is the user or organization the run
// writes packages to ("" takes the first component of cfg.Namespace).
// Call it before RunSpecs, or pass Suite(owner) to conformance.Run. All
// state lives in closures created here.
func Register(cfg *conformance.Config, owner string) {
	e := newEnv(cfg, owner)
	Describe("Generic packages", func() {
		ReportBeforeEach(func(SpecReport) { e.rec.Mark() })
		BeforeEach(func(ctx SpecContext) { e.need(ctx) })
		AfterEach(e.attachExchanges)

		e.fileSpecs()
		e.downloadSpecs()
		e.deleteSpecs()
		e.badInputSpecs()
		e.uploadSessionSpecs()
		e.listSpecs()
		e.versionSpecs()
		e.latestSpecs()
		e.linkSpecs()
		e.containerSpecs()
	})
}

// Suite returns the conformance.Suite of the generic registry for owner.
func Suite(owner string) conformance.Suite {
	return func(cfg *conformance.Config) { Register(cfg, owner) }
}
