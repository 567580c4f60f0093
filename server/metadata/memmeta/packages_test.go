package memmeta_test

import (
	"testing"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/metadata/metadatatest"
)

func TestPackagesContract(t *testing.T) {
	metadatatest.RunPackages(t, func(t *testing.T) metadata.Packages { return memmeta.New() })
}
