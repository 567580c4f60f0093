package main

import (
	"context"
	"errors"
	"net"

	"github.com/regkit/regkit/client/generic"
	"github.com/regkit/regkit/client/oci"
	ocispec "github.com/regkit/regkit/spec/oci"
)

// Exit codes of the client verbs, for scripts:
//
//	0  success
//	1  any other failure
//	2  usage: bad flags or arguments
//	3  not found: the manifest, blob, repository, tag or package does not exist
//	4  authentication or permission: 401 or 403
//	5  unreachable: network errors, 429 or 5xx after every retry
//	6  integrity: content that does not match its digest or size
//	7  conflict: the target already exists (a package file), 409
const (
	exitOther       = 1
	exitUsage       = 2
	exitNotFound    = 3
	exitAuth        = 4
	exitUnreachable = 5
	exitIntegrity   = 6
	exitConflict    = 7
)

// exitCode maps an error of a client verb to its exit code.
func exitCode(err error) int {
	var oe *ocispec.Error
	var ge *generic.Error
	var ne net.Error
	var oe2 *net.OpError
	switch {
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, oci.ErrNotFound), errors.Is(err, ocispec.ErrManifestUnknown), errors.Is(err, ocispec.ErrBlobUnknown),
		errors.Is(err, ocispec.ErrNameUnknown), errors.Is(err, generic.ErrNotFound):
		return exitNotFound
	case errors.Is(err, ocispec.ErrUnauthorized), errors.Is(err, ocispec.ErrDenied), errors.Is(err, generic.ErrUnauthorized):
		return exitAuth
	case errors.Is(err, ocispec.ErrDigestInvalid), errors.Is(err, ocispec.ErrSizeInvalid), errors.Is(err, generic.ErrIntegrity):
		return exitIntegrity
	case errors.Is(err, generic.ErrConflict):
		return exitConflict
	case errors.As(err, &oe):
		return statusExit(oe.HTTPStatus())
	case errors.As(err, &ge):
		return statusExit(ge.Status)
	case errors.As(err, &oe2), errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		return exitUnreachable
	}
	return exitOther
}

func statusExit(status int) int {
	switch {
	case status == 404:
		return exitNotFound
	case status == 401 || status == 403:
		return exitAuth
	case status == 409:
		return exitConflict
	case status == 429 || status >= 500:
		return exitUnreachable
	}
	return exitOther
}
