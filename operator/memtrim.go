package operator

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/go-logr/logr"
)

// memTrimmer returns to the operating system the memory a burst of work
// left behind, once the process has gone quiet (one collection and release,
// debug.FreeOSMemory, at most once per MinGap). vipgate's work comes in
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
	// live is the heap the last collection found reachable (for the log).
	live uint64
	// held is the heap's objects (live or garbage) and its free memory not
	// yet returned to the operating system.
	held uint64
}

// The thresholds of worthTrimming.
const (
	// minBurst is the least allocated since the last trim worth one: less
	// leaves little garbage behind.
	minBurst = 16 << 20
	// maxQuiet is the most allocated in one interval of a quiet process.
	maxQuiet = 16 << 20
)

// worthTrimming says whether a trim is due: since the last one (or the
// start, when allocatedAtTrim is 0) the process allocated at least minBurst
// and at least an eighth of the live heap (a trim is a full collection,
// whose cost grows with the live heap), and in the last interval (prev to
// cur) it was quiet, allocating less than maxQuiet and less than an eighth
// of the burst. The live heap of the last collection is no guide to the
// garbage: that collection often ran in the middle of the burst, when much
// more was reachable than after it.
//
// A quiet process is trimmed after any work worth it, not only after large
// bursts: at 10,000 Services the inventory's refresh reads every VsVip once
// a minute (about 20 MiB of garbage), and with the collector's 50% target
// that garbage stayed resident, up to half the live heap again, until the
// next collection.
func worthTrimming(prev, cur heapSample, allocatedAtTrim uint64) bool {
	burst := cur.allocated - allocatedAtTrim
	recent := cur.allocated - prev.allocated
	return burst >= minBurst && burst >= cur.live/8 && recent < maxQuiet && recent < burst/8
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
	var atTrim uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			cur := m.read()
			if now.Sub(last) >= m.MinGap && worthTrimming(prev, cur, atTrim) {
				m.trim()
				last = now
				after := m.read()
				m.Log.V(1).Info("returned memory to the operating system after a burst of work",
					"allocatedMiB", (cur.allocated-atTrim)>>20, "heldMiB", cur.held>>20, "heldAfterMiB", after.held>>20, "liveMiB", after.live>>20)
				cur, atTrim = after, after.allocated
			}
			prev = cur
		}
	}
}

// NeedLeaderElection is false: every replica holds caches.
func (m *memTrimmer) NeedLeaderElection() bool { return false }
