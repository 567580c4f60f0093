// Package archtest holds the repository's architecture tests and no
// product code: layering_test.go fails on an import that points up the
// layers docs/architecture.md draws (cmd → server/* and client/* →
// registry, metadata and storage → spec), and tables_test.go fails when a
// row of a spec/ route table lacks a conformance spec carrying its ID.
package archtest
