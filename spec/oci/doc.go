// Package oci defines the OCI Distribution API (v1.1, with the Docker
// Registry v2 media types) as data: the route table, a request parser shared
// by server and client, error codes and their HTTP statuses, media types,
// header names and helpers, and the repository, tag and digest grammars.
//
// The package is a leaf: it imports only the standard library,
// github.com/opencontainers/go-digest and the image-spec types.
package oci
