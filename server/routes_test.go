package server

import (
	"testing"

	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/spec/generic"
	"github.com/regkit/regkit/spec/oci"
)

// TestEveryRouteHasAHandler keeps the server in step with spec/oci: a
// route added to the table without a handler fails here.
func TestEveryRouteHasAHandler(t *testing.T) {
	s := New(memmeta.New(), nil)
	for _, r := range oci.Routes() {
		if !s.oci.Handles(r.ID) {
			t.Errorf("route %s (%v %s) has no handler", r.ID, r.Methods, r.Path)
		}
	}
}

// TestEveryGenericRouteHasAHandler keeps the generic and management
// handlers in step with spec/generic (server/generic's own test checks the
// other direction).
func TestEveryGenericRouteHasAHandler(t *testing.T) {
	s := New(memmeta.New(), nil)
	for _, r := range generic.Routes() {
		if !s.generic.Handles(r.ID) {
			t.Errorf("route %s (%v %s) has no handler", r.ID, r.Methods, r.Path)
		}
	}
}
