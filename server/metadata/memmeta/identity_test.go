package memmeta_test

import (
	"testing"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/metadata/metadatatest"
)

func TestIdentityContract(t *testing.T) {
	metadatatest.RunIdentity(t, func(t *testing.T) metadata.Identity { return memmeta.New() })
}
