package operator

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/go-logr/logr"
)

// memTrimmer returns to the operating system the memory a burst of work
// left behind, once the process has gone quiet. vipgate's work comes in
// bursts (start-up, a full resync, thousands of objects created at once)
// that decode far more than it keeps; afterwards it allocates so little that
// the next collection can be minutes away (the runtime forces one every two
// minutes) and the garbage, and the free memory the runtime returns only
// gradually, stay resident. One collection when quiet gives them back.
//
// It is a manager.Runnable that every replica runs (webhook-only replicas
// hold the same caches).
type memTrimmer struct {
	// Interval between two looks at the heap.
	Interval time.Duration
	// MinGap is the least time between two trims.
	MinGap time.Duration
	Log    logr.Logger

	// trim and read are debug.FreeOSMemory and readHeap (tests replace them).
	trim func()
	read func() heapSample
}

// heapSample is what the trimmer reads of the runtime.
type heapSample struct {
	// allocated is the bytes allocated since the process started.
	allocated uint64
	// live is the heap the last collection found reachable.
	live uint64
	// held is the heap's objects (live or garbage) and its free memory not
	// yet returned to the operating system.
	held uint64
}

// minExcess is the least memory held beyond the live heap worth a trim.
const minExcess = 32 << 20

// worthTrimming says whether, between two samples one interval apart, the
// process was quiet (it allocated less than an eighth of what a trim would
// return, so the memory would not be taken back at once) and holds at
// least minExcess beyond its live heap.
func worthTrimming(prev, cur heapSample) bool {
	if cur.held <= cur.live {
		return false
	}
	excess := cur.held - cur.live
	return excess >= minExcess && cur.allocated-prev.allocated < excess/8
}

var heapMetrics = []string{
	"/gc/heap/allocs:bytes",
	"/gc/heap/live:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/free:bytes",
}

func readHeap() heapSample {
	s := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	return heapSample{allocated: v(0), live: v(1), held: v(2) + v(3)}
}

// Start looks at the heap every Interval until ctx ends.
func (m *memTrimmer) Start(ctx context.Context) error {
	if m.trim == nil {
		m.trim = debug.FreeOSMemory
	}
	if m.read == nil {
		m.read = readHeap
	}
	if m.Interval == 0 {
		m.Interval = 10 * time.Second
	}
	if m.MinGap == 0 {
		m.MinGap = time.Minute
	}
	tick := time.NewTicker(m.Interval)
	defer tick.Stop()
	prev := m.read()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			cur := m.read()
			if now.Sub(last) >= m.MinGap && worthTrimming(prev, cur) {
				m.trim()
				last = now
				after := m.read()
				m.Log.V(1).Info("returned memory to the operating system after a burst of work",
					"heldMiB", cur.held>>20, "liveMiB", cur.live>>20, "heldAfterMiB", after.held>>20)
				cur = after
			}
			prev = cur
		}
	}
}

// NeedLeaderElection is false: every replica holds caches.
func (m *memTrimmer) NeedLeaderElection() bool { return false }
