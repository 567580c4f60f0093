package generic

import (
	"testing"

	"github.com/regkit/regkit/spec/generic"
)

// TestEveryRouteHasAHandler keeps the APIs in step with spec/generic: a
// route without a handler, or a handler of a route not in the table,
// fails here.
func TestEveryRouteHasAHandler(t *testing.T) {
	s := New(Config{})
	for _, r := range generic.Routes() {
		if h, ok := s.handlers[r.ID]; !ok || h == nil {
			t.Errorf("route %s (%v %s) has no handler", r.ID, r.Methods, r.Path)
		}
	}
	for id := range s.handlers {
		if _, ok := generic.Lookup(id); !ok {
			t.Errorf("handler for %s, which is not in the route table", id)
		}
	}
}
