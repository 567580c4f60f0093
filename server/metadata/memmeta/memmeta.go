// Package memmeta is the in-memory metadata store for tests: the portable
// rules of package metadata over memdriver. It loses everything on Close.
package memmeta

import (
	"github.com/regkit/regkit/server/metadata"
	"github.com/regkit/regkit/server/metadata/memdriver"
)

// Store is the in-memory store: a metadata.DB over a memdriver.Driver.
type Store = metadata.DB

// New returns an empty store.
func New() *Store { return metadata.New(memdriver.New()) }
