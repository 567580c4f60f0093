// Package accounts is the conformance suite of the account and token API
// under /api/v1 (spec/accounts): users, organizations, members, personal
// and deploy tokens, after Gitea's API where Gitea has the endpoint. It
// runs against any registry with the credentials of a site admin (a
// password login): it creates users and an organization whose names start
// with a prefix unique to the run, and deletes them at the end. Every spec
// carries the ID of the route it checks as a label, and specs of regkit's
// extensions (no Gitea equivalent) also carry LabelExtension.
package accounts

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/regkit/regkit/conformance"
)

// LabelExtension marks specs of routes or fields Gitea does not have.
const LabelExtension = "extension"

// Register adds the account API's specs for cfg to the Ginkgo suite being
// built. cfg's Username and Password must be a site admin's. Call it
// before RunSpecs, or pass Suite() to conformance.Run.
func Register(cfg *conformance.Config) {
	e := newEnv(cfg)
	Describe("Accounts and tokens", Ordered, ContinueOnFailure, func() {
		ReportBeforeEach(func(SpecReport) { e.rec.Mark() })
		BeforeAll(func(ctx SpecContext) { e.setup(ctx) })
		BeforeEach(func() { e.need() })
		AfterEach(e.attachExchanges)
		AfterAll(func(ctx SpecContext) { e.cleanup(ctx) })

		e.userSpecs()
		e.tokenSpecs()
		e.orgSpecs()
		e.memberSpecs()
		e.deployTokenSpecs()
		e.deleteSpecs()
	})
}

// Suite returns the conformance.Suite of the account API.
func Suite() conformance.Suite {
	return func(cfg *conformance.Config) { Register(cfg) }
}
