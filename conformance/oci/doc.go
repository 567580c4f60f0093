// Package oci is the OCI Distribution conformance suite: Ginkgo v2 specs for
// every route of spec/oci, in the spec's four areas (pull, push, content
// discovery, content management) plus auth, each labelled with its route ID
// and area.
//
// Register adds the specs to the running Ginkgo suite; call it from your own
// suite, or hand it to conformance.Run:
//
//	var _ = oci.Register(cfg)
//
// The specs send raw HTTP built from spec/oci requests, check exact
// statuses, headers and bodies, push into a fresh repository
// <Namespace>/conformance-<random> per run, and delete what they pushed when
// the registry allows deletes. Optional features (referrers, deletes, mount
// without from, sha512, catalog) are detected or forced by the Config and
// reported as unsupported when absent. Credentials are checked first: when
// they do not work, one spec fails with "cannot authenticate" and every
// other spec is skipped with that reason.
package oci
