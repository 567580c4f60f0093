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

func packagesContract(t *testing.T, c redis.UniversalClient) {
	metadatatest.RunPackages(t, func(t *testing.T) metadata.Packages {
		return redismeta.New(c, redismeta.WithPrefix(fmt.Sprintf("pkgtest%d:", storeSeq.Add(1))))
	})
}

func TestPackagesContract(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { c.Close() })
	packagesContract(t, c)
}

// TestPackagesContractCluster proves the key design: every packages script
// and MULTI would fail with CROSSSLOT if an owner's keys were not in one
// slot.
func TestPackagesContractCluster(t *testing.T) {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: redistest.StartCluster(t, 3)})
	t.Cleanup(func() { c.Close() })
	packagesContract(t, c)
}
