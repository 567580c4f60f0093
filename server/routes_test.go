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
// handlers in step with spec/generic.
func TestEveryGenericRouteHasAHandler(t *testing.T) {
	hs := New(memmeta.New(), nil).genericHandlers()
	for _, r := range generic.Routes() {
		if h, ok := hs[r.ID]; !ok || h == nil {
			t.Errorf("route %s (%v %s) has no handler", r.ID, r.Methods, r.Path)
		}
	}
	for id := range hs {
		if _, ok := generic.Lookup(id); !ok {
			t.Errorf("handler for %s, which is not in the route table", id)
		}
	}
}
