package oci

import (
	"testing"

	"github.com/regkit/regkit/spec/oci"
)

// TestEveryRouteHasAHandler keeps the API in step with spec/oci: a route
// added to the table without a handler, or a handler of a route that is
// not in the table, fails here.
func TestEveryRouteHasAHandler(t *testing.T) {
	a := New(Config{})
	for _, r := range oci.Routes() {
		if !a.Handles(r.ID) {
			t.Errorf("route %s (%v %s) has no handler", r.ID, r.Methods, r.Path)
		}
	}
	for id := range a.handlers {
		if _, ok := oci.Lookup(id); !ok {
			t.Errorf("handler for %s, which is not in the route table", id)
		}
	}
}
