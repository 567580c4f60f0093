// Package generic defines, as data, regkit's Gitea-compatible generic
// package API (/api/packages/{owner}/generic/...) and the package
// management API (/api/v1/packages/...): the route table, a request
// parser shared by server, client and conformance suite, the error
// formats, the owner, name, version and filename grammars, and SemVer 2.0.0
// detection and ordering.
//
// The package is a leaf: it imports only the standard library.
package generic
