// Package oci is a Go client for the OCI Distribution API v1.1 (and Docker
// Registry v2 registries), built from the route table of
// github.com/regkit/regkit/spec/oci: every method fills in a spec Request
// and asks it for its URL, so the client and the reference server can
// never disagree about paths or query parameters.
//
// Methods are noun-first (BlobGet, UploadChunk, ManifestPut, TagList, ...)
// and take a context first. A response with a status outside 2xx becomes
// the *Error of spec/oci's DecodeErrors, so
//
//	errors.Is(err, ocispec.ErrBlobUnknown)
//
// holds for a missing blob, whichever registry answered. Registries that
// require authentication are supported with WithBasicAuth (HTTP Basic, or
// the credentials sent to a Bearer token realm) and WithBearerToken; the
// Bearer token flow of a 401 challenge is followed automatically and its
// tokens are cached per scope.
package oci
