package boltmeta

import (
	"context"
	"errors"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/regkit/regkit/server/metadata/driver"
)

// Group commit. bbolt serializes write transactions and each one ends in
// an fsync, so concurrent writers queue behind one another's fsync. Update
// instead queues its function; the first writer to find no commit running
// becomes the leader and runs every queued function, in queue order, in
// one bolt transaction with one fsync, then hands the lead to the first
// writer that queued meanwhile. A lone writer commits at once, as before:
// nothing waits for company (bolt's own DB.Batch waits up to a delay).
//
// Functions of one batch see each other's writes, as if run one after the
// other, and each gets its own Tx (its shard and clock). When one returns
// an error the whole transaction is rolled back and the batch is redone in
// three parts: the functions before it as a batch, it alone (so it returns
// its error over the state its predecessors left), and the ones after it.
// That reruns functions, which driver.Driver.Update allows ("fn may run
// more than once").
//
// Durability is unchanged: Update returns once the transaction holding its
// function has committed (and, unless WithNoSync, is on disk).

// call is one queued Update.
type call struct {
	ctx   context.Context
	shard string
	fn    func(driver.Tx) error
	err   error
	panic any           // a panic of fn, re-raised in the caller's goroutine
	wake  chan struct{} // closed when done or when the call is to lead
	lead  bool          // set (under group.mu) before wake: run the queue
	done  bool          // set (under group.mu) before wake: err is final
}

// group is the queue of writers waiting for a commit.
type group struct {
	mu      sync.Mutex
	queue   []*call
	running bool
}

// errRedo aborts a batch's transaction after one of its functions failed.
var errRedo = errors.New("boltmeta: redo the batch")

// update runs fn through group commit (see above).
func (d *Driver) update(ctx context.Context, shard string, fn func(driver.Tx) error) error {
	c := &call{ctx: ctx, shard: shard, fn: fn, wake: make(chan struct{})}
	g := &d.group
	g.mu.Lock()
	if g.running {
		g.queue = append(g.queue, c)
		g.mu.Unlock()
		<-c.wake
		if c.done {
			return c.result()
		}
		// Led: the queue was handed to this call (c is at its head).
	} else {
		g.running = true
		g.queue = append(g.queue, c)
		g.mu.Unlock()
	}
	g.mu.Lock()
	batch := g.queue
	g.queue = nil
	g.mu.Unlock()

	d.runBatch(batch)

	g.mu.Lock()
	for _, b := range batch {
		b.done = true
		if b != c {
			close(b.wake)
		}
	}
	if len(g.queue) > 0 {
		next := g.queue[0]
		next.lead = true
		close(next.wake)
	} else {
		g.running = false
	}
	g.mu.Unlock()
	return c.result()
}

// result returns the call's error, re-raising a panic of its function.
func (c *call) result() error {
	if c.panic != nil {
		panic(c.panic)
	}
	return c.err
}

// runBatch commits batch, setting each call's err (see the package notes
// above on how a failing function is isolated).
func (d *Driver) runBatch(batch []*call) {
	live := batch[:0:0]
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.err = err
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 {
		d.runSolo(live[0])
		return
	}
	failed := -1
	err := d.db.Update(func(tx *bolt.Tx) error {
		for i, c := range live {
			if err := c.run(tx, d); err != nil {
				failed = i
				return errRedo
			}
		}
		return nil
	})
	if failed >= 0 {
		d.runBatch(live[:failed])
		d.runSolo(live[failed])
		d.runBatch(live[failed+1:])
		return
	}
	for _, c := range live {
		c.err = err
	}
}

// runSolo runs one call in its own transaction.
func (d *Driver) runSolo(c *call) {
	c.err = d.db.Update(func(tx *bolt.Tx) error { return c.run(tx, d) })
}

// run calls the function over tx, turning a panic into an error (and
// keeping it to re-raise for the caller).
func (c *call) run(tx *bolt.Tx, d *Driver) (err error) {
	c.panic = nil
	defer func() {
		if p := recover(); p != nil {
			c.panic = p
			err = fmt.Errorf("boltmeta: update panicked: %v", p)
		}
	}()
	return c.fn(&txn{tx: tx, prefix: shardPrefix(c.shard), now: d.now()})
}
