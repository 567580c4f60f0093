// Package generic is the conformance suite of the Gitea-compatible generic
// package registry (/api/packages/{owner}/generic/...) and the package
// management API (/api/v1/packages/...), as the README's "Generic
// packages" section and docs/gitea.md describe them. Register adds its Ginkgo specs; conformance.Run runs
// them. Every spec is labelled with its route IDs (gen-*, pkg-*) and area
// (generic, management); specs of regkit extensions Gitea lacks carry the
// label "extension", so a run against Gitea can leave them out with
// --labels '!extension'.
//
// The suite sends raw HTTP built from spec/generic and writes only
// packages named conformance-<run>-... of the configured owner.
package generic
