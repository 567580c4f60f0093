package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// RetryAfterUnavailable is the Retry-After, in seconds, of the 503 that
// answers a request while the metadata store is unreachable.
const RetryAfterUnavailable = 2

// StatusClientClosedRequest is the status the access log and the metrics
// record for a request whose client went away before it was answered (as
// nginx's 499): not a server error, and nothing reaches the client anyway.
const StatusClientClosedRequest = 499

// ErrNoSpace is the message of a request that failed because the disk
// (of the blob store or the embedded metadata store) is full.
const ErrNoSpace = "the registry's storage is full; nothing was stored. Retry later, or ask the registry's operator to free space"

// BuffersBusy is the message of a 503 for storage.ErrBuffersBusy.
const BuffersBusy = "the registry is receiving as many uploads as its memory budget allows; nothing of this request was stored, retry shortly"

// ClientGone reports whether err is the request's own context ending
// because its client went away (not a deadline of the server's).
func ClientGone(r *http.Request, err error) bool {
	return errors.Is(r.Context().Err(), context.Canceled) && errors.Is(err, context.Canceled)
}

// MetadataUnavailable logs that the metadata store could not serve r and
// returns the message for the client.
func MetadataUnavailable(log *slog.Logger, r *http.Request, err error) string {
	log.WarnContext(r.Context(), "metadata store unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	return fmt.Sprintf("the registry's metadata store is unreachable right now; nothing was changed, retry in %d seconds", RetryAfterUnavailable)
}

// BucketUnavailable logs that the bucket (or an upstream registry) could
// not serve r, after the SDK's retries, and returns the client's message.
func BucketUnavailable(log *slog.Logger, r *http.Request, err error) string {
	log.WarnContext(r.Context(), "bucket unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	return "storage temporarily unavailable; retry later"
}

// Started reports whether w's response has begun (its status is sent), so
// that an error can no longer be written: true when w, or what it wraps,
// says so through a Started() bool method.
func Started(w http.ResponseWriter) bool {
	for {
		if s, ok := w.(interface{ Started() bool }); ok {
			return s.Started()
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
}
