package reconcile

import (
	"sync"
	"time"

	"github.com/vipgate/vipgate/metrics"
)

// Shard syncs wait for a burst of Ingress changes to end. A shard's VsVip (a
// DNS record per host) and its policy set (a rule per route) list every
// Ingress on the shard, so a sync made while Ingresses are still arriving
// writes them with an intermediate membership, and the next sync writes
// them again: N Ingresses created at once cost a PUT of each per sync
// instead of one write per object. The watch notes each Ingress event
// against the shards it touches; a sync starts once its shard has had no
// event for a while (settle after a burst, a fifth of it after a lone
// change, so one edit is not held back long), or once the oldest event it
// has not handled is settleCap times settle old, so a steady stream of
// changes cannot hold a shard back for ever.

// DefaultIngressSettle is IngressReconciler.Settle when it is zero.
const DefaultIngressSettle = time.Second

// settleCap bounds a shard's wait, in multiples of settle.
const settleCap = 30

// arrival is what a shard has seen since its last sync began.
type arrival struct {
	first, last time.Time
	events      int
}

// arrivals records Ingress events per shard.
type arrivals struct {
	mu sync.Mutex
	by map[string]*arrival
}

// note records an event touching shard.
func (a *arrivals) note(shard string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.by == nil {
		a.by = map[string]*arrival{}
	}
	e := a.by[shard]
	if e == nil {
		e = &arrival{first: now}
		a.by[shard] = e
		metrics.ShardsSettling(1)
	}
	e.last = now
	e.events++
}

// wait returns how long a sync of shard should still wait; 0 means start
// now, and the events noted so far are then this sync's (events noted
// from here on are the next one's).
func (a *arrivals) wait(shard string, now time.Time, settle time.Duration) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.by[shard]
	if e == nil {
		return 0
	}
	quiet := settle / 5
	if e.events > 1 {
		quiet = settle
	}
	left := e.last.Add(quiet).Sub(now)
	if capLeft := e.first.Add(settleCap * settle).Sub(now); capLeft < left {
		left = capLeft
	}
	if left > 0 {
		return left
	}
	delete(a.by, shard)
	metrics.ShardsSettling(-1)
	return 0
}

// settle is the reconciler's quiet period (0 when syncs do not wait).
func (r *IngressReconciler) settle() time.Duration {
	switch {
	case r.Settle < 0:
		return 0
	case r.Settle == 0:
		return DefaultIngressSettle
	}
	return r.Settle
}
