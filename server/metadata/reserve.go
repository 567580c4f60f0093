package metadata

import (
	"context"
	"fmt"
)

// Reservations account for bytes being uploaded into a namespace before
// they are committed, and for the upload sessions open in it, so that
// quotas and caps hold while uploads run in parallel (see package quota).
//
// A holder (an upload session, or a one-shot upload) reserves the bytes
// it will have stored when its next chunk is written; its reservation is
// dropped (Release) once its bytes count in the namespace's usage, or it
// gave up. Holders whose process died are found and released by their
// callers (quota.Checker), which can tell live sessions from dead ones.
type Reservations interface {
	// Reserve raises the reservation of holder in namespace ns to n bytes
	// (it never lowers it; a new holder starts at 0). It fails with a
	// *LimitError, changing nothing, when limit > 0 and base (the
	// namespace's committed usage, as read by the caller) plus the sum of
	// ns's reservations after the change would exceed limit, or when the
	// holder is new, maxHolders > 0 and ns has maxHolders holders already.
	// The check and the change are one atomic step, so concurrent
	// reservations never together exceed what the limit leaves.
	Reserve(ctx context.Context, ns, holder string, n, base, limit int64, maxHolders int) error
	// Release drops the reservation of holder in ns; releasing an unknown
	// holder is not an error.
	Release(ctx context.Context, ns, holder string) error
	// Holders returns the holders of ns with their reservations; an
	// empty, non-nil map when none.
	Holders(ctx context.Context, ns string) (map[string]int64, error)
}

// LimitError is Reserve's refusal. Match it with errors.As.
type LimitError struct {
	// Holders reports that the holder cap was reached (else the byte
	// limit).
	Holders bool
	// Count is the number of holders of the namespace.
	Count int
	// Reserved is the sum of the namespace's reservations.
	Reserved int64
}

// Error implements error.
func (e *LimitError) Error() string {
	if e.Holders {
		return fmt.Sprintf("metadata: %d uploads are open in the namespace already", e.Count)
	}
	return fmt.Sprintf("metadata: %d bytes are reserved in the namespace already", e.Reserved)
}
