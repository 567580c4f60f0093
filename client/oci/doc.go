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
// tokens are cached per scope; WithKeychain takes credentials from
// docker's config.json and credential helpers (go-containerregistry's
// authn.DefaultKeychain).
//
// Image level: a Store is a registry repository (Repository), an OCI
// layout directory (Layout) or an OCI archive (Archive); ParseLocation
// and Open make one from "host/repo:tag", "oci:DIR:TAG" or
// "oci-archive:FILE:TAG". Copy moves an image or an index with all its
// platforms, and optionally its referrers, between any two: blobs the
// target has are skipped, blobs of another repository of the same
// registry are mounted, the others are transferred a few at a time;
// uploads go in chunks (at least OCI-Chunk-Min-Length) and resume from
// the offset the registry reports after a failure; downloads into a layout
// fetch parallel ranges, each resumed where it stopped, verified against
// the digest. Requests that fail with a network error, 429 or a 5xx are
// retried with exponential backoff and full jitter, honouring Retry-After
// (WithRetry).
package oci
