package driver

import (
	"hash/maphash"
	"sync"
	"time"
)

// Local is implemented by drivers whose store only one process can open
// at a time (a bbolt file under its lock, memory). Package metadata keeps
// the write leases of such a store's upload sessions in the table it
// returns instead of writing them: there a lease only ever excludes
// writers of the same process, and none outlives the process, so an
// upload PATCH costs one transaction (one fsync'd commit on bbolt) instead
// of two.
type Local interface {
	// LocalLeases returns the driver's lease table; every call returns the
	// same table, shared by every store over the driver.
	LocalLeases() *LeaseTable
}

// Lease is one entry of a LeaseTable.
type Lease struct {
	// Holder is the token holding the lease ("" none).
	Holder string
	// Expires is when the lease ends, by the driver's clock.
	Expires time.Time
}

// leaseStripes is how many locks a LeaseTable spreads its keys over.
const leaseStripes = 64

// LeaseTable holds leases in memory. Its zero value is ready to use.
type LeaseTable struct {
	once    sync.Once
	seed    maphash.Seed
	stripes [leaseStripes]sync.Mutex
	mu      sync.Mutex
	m       map[string]Lease
}

// Lock locks key's stripe and returns its unlock. An operation holds it
// across its check of the lease and the write that depends on it, so
// that no other operation on key runs in between.
func (t *LeaseTable) Lock(key string) (unlock func()) {
	t.once.Do(func() { t.seed = maphash.MakeSeed() })
	m := &t.stripes[maphash.String(t.seed, key)%leaseStripes]
	m.Lock()
	return m.Unlock
}

// Get returns key's lease (the zero Lease when there is none).
func (t *LeaseTable) Get(key string) Lease {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[key]
}

// Set stores key's lease.
func (t *LeaseTable) Set(key string, l Lease) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]Lease{}
	}
	t.m[key] = l
}

// Delete removes key's lease.
func (t *LeaseTable) Delete(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, key)
}

// Len returns the number of leases held.
func (t *LeaseTable) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
