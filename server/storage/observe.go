package storage

import (
	"errors"
	"time"
)

// ObserveFunc receives one finished operation of a Store: its name
// (put_blob, read_blob, delete_blob, start_upload, upload_status,
// append_upload, finish_upload, cancel_upload), its duration and its
// error (nil on success; answers such as ErrUploadUnknown, *RangeError
// and *BusyError are passed as nil: they are the client's, not the
// storage's).
type ObserveFunc func(op string, d time.Duration, err error)

// WithObserver makes the Store report every operation to f (for
// metrics).
func WithObserver(f ObserveFunc) Option { return func(o *options) { o.observe = f } }

// observe reports the operation op that started at start; deferred with
// a pointer to the operation's error.
func (s *Store) observe(op string, start time.Time, errp *error) {
	if s.opts.observe == nil {
		return
	}
	err := *errp
	var re *RangeError
	var be *BusyError
	if errors.Is(err, ErrUploadUnknown) || errors.Is(err, ErrDigestMismatch) || errors.Is(err, ErrDigestInvalid) ||
		errors.Is(err, ErrSizeMismatch) || errors.Is(err, ErrInvalidRange) || errors.As(err, &re) || errors.As(err, &be) {
		err = nil
	}
	s.opts.observe(op, time.Since(start), err)
}
