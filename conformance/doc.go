// Package conformance runs Ginkgo v2 conformance suites against a registry
// and writes their reports.
//
// A suite is a function that registers Ginkgo specs for a Config, such as
// conformance/oci.Register. Run runs suites programmatically (for the
// regkit command) and writes JUnit XML, a JSON results file keyed by route ID
// and area, and a self-contained HTML report; a user's own Ginkgo suite can
// call a suite's Register directly and WriteReports from a ReportAfterSuite.
//
// The package also holds what suites share: Config (flags, environment,
// YAML, with secrets redacted), Client (raw HTTP that records every exchange
// and speaks anonymous, Basic and Bearer-token auth), and the convention that
// a spec skipped with a message starting "unsupported:" reports a feature
// the registry does not offer rather than a skip.
package conformance
