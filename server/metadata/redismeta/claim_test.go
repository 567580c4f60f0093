package redismeta_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
)

// TestConcurrentClaims: writers racing to store one blob through the
// store over Redis (optimistic transactions on one shard, really
// concurrent) all commit their claims.
func TestConcurrentClaims(t *testing.T) {
	ctx := t.Context()
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	defer c.Close()
	s := redismeta.New(c)
	for round := range 50 {
		d := digest.FromString(fmt.Sprint("x", round))
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				claim, _, err := s.ClaimBlob(ctx, metadata.Blob{Digest: d, Key: "k"})
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if _, err := s.PutBlob(ctx, metadata.Blob{Digest: d, Size: 1, Key: "k", Inc: claim.Inc}); err != nil {
					t.Errorf("round %d put (claim inc %s): %v", round, claim.Inc, err)
				}
			})
		}
		wg.Wait()
	}
}
