package redismeta_test

import (
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/metadatatest"
	"github.com/regkit/regkit/server/metadata/redismeta"
	"github.com/regkit/regkit/server/metadata/redismeta/redistest"
)

func identityContract(t *testing.T, c redis.UniversalClient) {
	metadatatest.RunIdentity(t, func(t *testing.T) metadata.Identity {
		return redismeta.New(c, redismeta.WithPrefix(fmt.Sprintf("idtest%d:", storeSeq.Add(1))))
	})
	t.Run("Counter", func(t *testing.T) {
		metadatatest.RunCounter(t, redismeta.New(c, redismeta.WithPrefix("counter:")))
	})
}

func TestIdentityContract(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { c.Close() })
	identityContract(t, c)
}

// TestIdentityContractCluster proves that every identity script and
// transaction stays in one slot.
func TestIdentityContractCluster(t *testing.T) {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: redistest.StartCluster(t, 3)})
	t.Cleanup(func() { c.Close() })
	identityContract(t, c)
}
