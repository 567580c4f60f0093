package memmeta_test

import (
	"testing"

	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/memmeta"
	"github.com/regkit/regkit/server/metadata/metadatatest"
)

func TestContract(t *testing.T) {
	metadatatest.Run(t, func(t *testing.T) metadata.Store { return memmeta.New() })
}
