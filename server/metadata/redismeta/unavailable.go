package redismeta

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata/driver"
)

// isUnavailable reports whether err means that Redis cannot serve the
// command now, as opposed to a command that failed on its own merits:
//
//   - network errors: connection refused, reset or closed, dial, read and
//     write timeouts, EOF in the middle of a reply;
//   - go-redis's pool timeout and exhaustion, and a closed client (the
//     process is shutting down);
//   - replies of a server that is not ready or not writable: LOADING,
//     BUSY, MASTERDOWN, CLUSTERDOWN, TRYAGAIN, READONLY (a failover in
//     progress), NOREPLICAS, the maximum number of clients, and OOM (the
//     server's maxmemory is reached; reads still work).
//
// Errors already marked, redis.Nil and the caller's own context
// cancellation or deadline are not.
func isUnavailable(err error) bool {
	if err == nil || errors.Is(err, driver.ErrUnavailable) || errors.Is(err, redis.Nil) {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	switch {
	case errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrPoolExhausted),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case redis.IsLoadingError(err), redis.IsMasterDownError(err), redis.IsClusterDownError(err),
		redis.IsTryAgainError(err), redis.IsReadOnlyError(err), redis.IsMaxClientsError(err),
		redis.IsNoReplicasError(err), redis.IsOOMError(err), redis.HasErrorPrefix(err, "BUSY "):
		return true
	}
	return false
}
