package storage

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"gocloud.dev/gcerrors"
	"google.golang.org/api/googleapi"
)

// IsUnavailable reports whether err means that the bucket could not be
// reached or is throttling (after the SDK's own retries with backoff):
// connection refused or reset, a connection closed before the answer, a
// timeout, or an HTTP 429 or 5xx answer.
// The server answers such errors with 503 and Retry-After.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	switch gcerrors.Code(err) {
	case gcerrors.ResourceExhausted, gcerrors.DeadlineExceeded:
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	// The connection ended before a whole answer came (the service died
	// or a proxy dropped it in the middle of the request): net/http
	// reports io.EOF or io.ErrUnexpectedEOF inside a *url.Error.
	var ue *url.Error
	if errors.As(err, &ue) && (errors.Is(ue.Err, io.EOF) || errors.Is(ue.Err, io.ErrUnexpectedEOF)) {
		return true
	}
	status := 0
	var hs interface{ HTTPStatusCode() int } // S3 (smithy) response errors
	var ae *azcore.ResponseError
	var ge *googleapi.Error
	switch {
	case errors.As(err, &hs):
		status = hs.HTTPStatusCode()
	case errors.As(err, &ae):
		status = ae.StatusCode
	case errors.As(err, &ge):
		status = ge.Code
	}
	return status == http.StatusTooManyRequests || status >= 500
}
