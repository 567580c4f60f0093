package accounts

import (
	"testing"

	"github.com/regkit/regkit/server/metadata/memmeta"
	spec "github.com/regkit/regkit/spec/accounts"
)

// TestEveryRouteHasAHandler keeps the API in step with spec/accounts: a
// row added to the table without a handler, or a handler without a row,
// fails here.
func TestEveryRouteHasAHandler(t *testing.T) {
	hs := New(Config{Meta: memmeta.New()}).handlers()
	for _, r := range spec.Routes() {
		if h, ok := hs[r.ID]; !ok || h == nil {
			t.Errorf("route %s (%s %s) has no handler", r.ID, r.Method, r.Path)
		}
	}
	for id := range hs {
		if _, ok := spec.Lookup(id); !ok {
			t.Errorf("handler for %s, which is not in the route table", id)
		}
	}
}
