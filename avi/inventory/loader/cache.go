package loader

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/metrics"
)

// LoadFunc produces a fresh snapshot; Load bound to a client and settings.
type LoadFunc func(ctx context.Context) (*inventory.Snapshot, error)

// Cache holds the current Snapshot for lock-free readers (admission webhooks)
// and refreshes it periodically and after writes. It implements
// controller-runtime's manager.Runnable (Start) and LeaderElectionRunnable
// (every replica runs it: webhooks on followers need the inventory too).
type Cache struct {
	load LoadFunc
	// Interval between periodic refreshes (default 60s).
	Interval time.Duration
	// MinGap is the least time between two refreshes triggered by RefreshSoon,
	// so a burst of writes costs one reload (default 1s).
	MinGap time.Duration

	cur   atomic.Pointer[inventory.Snapshot]
	dirty atomic.Bool
	soon  chan struct{}
	mu    sync.Mutex // serialises refreshes

	// VsVip writes vipgate made, folded into the snapshot by the runner
	// (pending), and kept (recent) until a load that started after them has
	// landed, since a load that started before a write does not show it.
	obsMu   sync.Mutex
	pending []observed
	recent  []observed
	fold    chan struct{}

	// OnRefresh, when set before Start, is called with every new snapshot
	// (settings checks and gauges that follow the controller).
	OnRefresh func(ctx context.Context, s *inventory.Snapshot)
}

// NewCache returns a cache filled by load. Nothing is loaded until Refresh or Start.
func NewCache(load LoadFunc, interval time.Duration) *Cache {
	if interval <= 0 {
		interval = 60 * time.Second
	}
	return &Cache{load: load, Interval: interval, MinGap: time.Second, soon: make(chan struct{}, 1), fold: make(chan struct{}, 1)}
}

// foldDelay batches observed writes before they are folded in.
const foldDelay = 50 * time.Millisecond

// foldShare bounds the folding's CPU: a fold copies the snapshot, so its
// cost grows with the VIPs in use, and the pause before the next one is at
// least foldShare times what the last one took (a fold of 4 ms, at 10,000
// VIPs, waits 80 ms: a twentieth of a core at most, however many there are).
const foldShare = 20

// foldPause is how long to batch writes after a fold that took last.
func foldPause(last time.Duration) time.Duration {
	return max(foldDelay, foldShare*last)
}

// observed is one VsVip write and when it was seen.
type observed struct {
	at time.Time
	ch inventory.VsVipChange
}

// Observe records a VsVip write vipgate made (the addresses the controller
// answered with, or a deletion): the writes themselves keep the inventory
// current, so a burst of creates costs no reload. The running cache folds
// them in within a moment; until then Dirty reports them.
func (c *Cache) Observe(ch inventory.VsVipChange) {
	c.obsMu.Lock()
	c.pending = append(c.pending, observed{time.Now(), ch})
	c.obsMu.Unlock()
	select {
	case c.fold <- struct{}{}:
	default:
	}
}

// foldPending applies the writes observed so far to the current snapshot.
func (c *Cache) foldPending() {
	c.mu.Lock() // not while a refresh swaps the snapshot
	defer c.mu.Unlock()
	c.obsMu.Lock()
	batch := c.pending
	c.pending = nil
	c.recent = append(c.recent, batch...)
	c.obsMu.Unlock()
	if cur := c.cur.Load(); cur != nil && len(batch) > 0 {
		c.cur.Store(cur.With(changesOf(batch)))
	}
}

func changesOf(obs []observed) []inventory.VsVipChange {
	out := make([]inventory.VsVipChange, len(obs))
	for i, o := range obs {
		out[i] = o.ch
	}
	return out
}

// Snapshot returns the current snapshot, or nil before the first successful load.
func (c *Cache) Snapshot() *inventory.Snapshot { return c.cur.Load() }

// Stale reports whether there is no snapshot or it is older than bound at
// now; controller-dependent admission checks then fail open with a warning.
func (c *Cache) Stale(now time.Time, bound time.Duration) bool {
	s := c.cur.Load()
	return s == nil || s.Age(now) > bound
}

// Dirty reports that a write happened that the current snapshot may not show.
func (c *Cache) Dirty() bool {
	c.obsMu.Lock()
	pending := len(c.pending) > 0
	c.obsMu.Unlock()
	return pending || c.dirty.Load()
}

// Refresh loads a new snapshot now and swaps it in. On failure the previous
// snapshot stays (it ages towards Stale).
func (c *Cache) Refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	wasDirty := c.dirty.Swap(false)
	started := time.Now()
	s, err := c.load(ctx)
	if err != nil {
		if wasDirty {
			c.dirty.Store(true)
		}
		metrics.InventoryRefreshFailed()
		return err
	}
	// Writes seen since this load started may be missing from it.
	c.obsMu.Lock()
	c.recent = append(c.recent, c.pending...)
	c.pending = nil
	c.recent = slices.DeleteFunc(c.recent, func(o observed) bool { return o.at.Before(started) })
	replay := changesOf(c.recent)
	c.obsMu.Unlock()
	if len(replay) > 0 {
		s = s.With(replay)
	}
	c.cur.Store(s)
	metrics.InventoryRefreshed(s.FetchedAt)
	if c.OnRefresh != nil {
		c.OnRefresh(ctx, s)
	}
	return nil
}

// Set installs a snapshot directly (tests, or a caller that built one).
func (c *Cache) Set(s *inventory.Snapshot) { c.cur.Store(s) }

// RefreshSoon asks the running refresher for a reload; calls coalesce.
func (c *Cache) RefreshSoon() {
	select {
	case c.soon <- struct{}{}:
	default:
	}
}

// Invalidate records that the controller changed (call after each write):
// the snapshot is marked Dirty and a reload is requested. Readers keep the
// old snapshot until the new one is in, so admission never blocks.
func (c *Cache) Invalidate() {
	c.dirty.Store(true)
	c.RefreshSoon()
}

// Start loads once, then refreshes every Interval and on RefreshSoon until
// ctx ends. Load errors are logged and retried at the next tick; they do not
// stop the manager.
func (c *Cache) Start(ctx context.Context) error {
	log := logr.FromContextOrDiscard(ctx).WithName("inventory")
	refresh := func() {
		if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
			log.Error(err, "inventory refresh failed; keeping the previous snapshot")
		}
	}
	// operator.New may have loaded a snapshot already (start-up checks); a
	// fresh one is not fetched a second time.
	if cur := c.cur.Load(); cur == nil || c.dirty.Load() || time.Since(cur.FetchedAt) >= c.Interval {
		refresh()
	}
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	last := time.Now()
	var lastFold time.Duration
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.fold:
			// Batch the writes of a burst: one copy of the snapshot per pause.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(foldPause(lastFold)):
			}
			start := time.Now()
			c.foldPending()
			lastFold = time.Since(start)
			continue
		case <-t.C:
		case <-c.soon:
			if gap := c.MinGap - time.Since(last); gap > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(gap):
				}
			}
		}
		refresh()
		last = time.Now()
	}
}

// NeedLeaderElection is false: followers serve admission and need the inventory.
func (c *Cache) NeedLeaderElection() bool { return false }
