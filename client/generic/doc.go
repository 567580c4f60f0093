// Package generic is a Go client for generic packages: the package API
// /api/packages/{owner}/generic/{name}/{version}/{filename} and the
// management API /api/v1/packages of Gitea and of regkit, built from the
// route table of github.com/regkit/regkit/spec/generic (the client never
// concatenates paths; it fills in a spec Request and asks for its URL).
//
// Uploads are monolithic (one PUT, what Gitea offers) or resumable through
// regkit's upload sessions (UploadResumable: chunks with Content-Range,
// and after a failure the rest is sent from the offset the server holds);
// Upload picks one by size and falls back to a PUT on servers without
// sessions. Downloads fetch parallel ranges with If-Range, each range
// resumed from where it stopped, and are verified against the file's
// sha256. Errors are *Error values of spec/generic, so
//
//	errors.Is(err, generic.ErrNotFound)
//
// holds for any 404. Requests that fail with a network error, 429 or a
// 5xx are retried with backoff and jitter (honouring Retry-After).
package generic
