package core

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/regkit/regkit/spec/generic"
	"github.com/regkit/regkit/spec/oci"
)

// Request bodies as the protocol packages see them: the guard of package
// server wraps every body so that a failed read is a *BodyError (the
// client's fault, answered with 400 or 408 in the protocol's format), and
// Exactly holds a body to the length its Content-Range announced.

// BodyError is an error reading a request body: the client's, not the
// server's.
type BodyError struct {
	Err error
	// Rate and Window are set when the body was slower than the minimum
	// rate.
	Rate   int64
	Window time.Duration
}

func (e *BodyError) Error() string { return "request body: " + e.Err.Error() }

func (e *BodyError) Unwrap() error { return e.Err }

// Slow reports whether the body was too slow (else it ended early or
// broke).
func (e *BodyError) Slow() bool { return e.Window > 0 }

// Status is the HTTP status of the error: 408 for a slow body, else 400.
func (e *BodyError) Status() int {
	if e.Slow() {
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}

// Message explains the error to the client.
func (e *BodyError) Message() string {
	if e.Slow() {
		return fmt.Sprintf("the request body arrived slower than this registry's minimum of %d bytes/s over %v; nothing of this request was stored: send it again (an upload session keeps its last acknowledged Range)", e.Rate, e.Window)
	}
	return fmt.Sprintf("the request body could not be read to its end (%v): the client sent less than it announced, broke its encoding or went away; nothing of this request was stored: send it again (an upload session keeps its last acknowledged Range)", e.Err)
}

// OCIBodyError returns the OCI error (with code) for err when err comes
// from reading the request body, else nil.
func OCIBodyError(err error, code oci.Code) *oci.Error {
	var be *BodyError
	if !errors.As(err, &be) {
		return nil
	}
	return code.Errorf("%s", be.Message()).WithStatus(be.Status())
}

// GenericBodyError returns the error of the generic and management APIs
// for err when err comes from reading the request body, else nil.
func GenericBodyError(err error) *generic.Error {
	var be *BodyError
	if !errors.As(err, &be) {
		return nil
	}
	return generic.Errorf(be.Status(), "%s", be.Message())
}

// AddSize adds two sizes of at least 0, saturating at math.MaxInt64
// instead of overflowing (a client chooses Content-Length).
func AddSize(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// SetRetryAfter sets Retry-After to d in whole seconds (at least 1).
func SetRetryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(int((d+time.Second-1)/time.Second), 1)))
}

// BadBodyError reports a request body that did not match the length its
// Content-Range announced.
type BadBodyError struct{ Want, Got int64 }

func (e *BadBodyError) Error() string {
	if e.Got > e.Want {
		return "the body is longer than its Content-Range (" + strconv.FormatInt(e.Want, 10) + " bytes)"
	}
	return fmt.Sprintf("the body ended after %d of the %d bytes its Content-Range announced", e.Got, e.Want)
}

// Exactly returns a reader of r that fails unless r holds exactly the
// bytes start-end (inclusive) of a Content-Range, so a short or long chunk
// never becomes part of an upload. A range whose length does not fit in
// an int64 is an error.
func Exactly(r io.Reader, start, end int64) (io.Reader, error) {
	if start < 0 || end < start || end-start == math.MaxInt64 {
		return nil, fmt.Errorf("the range %d-%d is not a valid length", start, end)
	}
	return &exactReader{r: r, want: end - start + 1}, nil
}

type exactReader struct {
	r         io.Reader
	want, got int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.got == e.want {
		// Expect EOF: probe one byte.
		var one [1]byte
		n, err := e.r.Read(one[:])
		if n > 0 {
			return 0, &BadBodyError{Want: e.want, Got: e.want + 1}
		}
		if err == nil {
			return 0, nil
		}
		return 0, err
	}
	if rem := e.want - e.got; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := e.r.Read(p)
	e.got += int64(n)
	if err == io.EOF && e.got < e.want {
		return n, &BadBodyError{Want: e.want, Got: e.got}
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}
