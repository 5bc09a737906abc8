package operator

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

const mib = 1 << 20

func TestWorthTrimming(t *testing.T) {
	tests := []struct {
		name      string
		prev, cur heapSample
		atTrim    uint64
		want      bool
	}{
		{"quiet after 1,000 MiB since start", heapSample{allocated: 1000 * mib}, heapSample{allocated: 1002 * mib}, 0, true},
		{"quiet after 100 MiB since the last trim", heapSample{allocated: 1000 * mib}, heapSample{allocated: 1001 * mib}, 901 * mib, true},
		{"too little since the last trim", heapSample{allocated: 1000 * mib}, heapSample{allocated: 1000 * mib}, 1000*mib - minBurst + 1, false},
		{"exactly the least burst", heapSample{allocated: 1000 * mib}, heapSample{allocated: 1000 * mib}, 1000*mib - minBurst, true},
		{"a minute's inventory refresh with a live heap of 112 MiB", heapSample{allocated: 1000 * mib, live: 112 * mib}, heapSample{allocated: 1000 * mib, live: 112 * mib}, 980 * mib, true},
		{"less than an eighth of the live heap", heapSample{allocated: 1000 * mib, live: 400 * mib}, heapSample{allocated: 1000 * mib, live: 400 * mib}, 951 * mib, false},
		{"exactly an eighth of the live heap", heapSample{allocated: 1000 * mib, live: 400 * mib}, heapSample{allocated: 1000 * mib, live: 400 * mib}, 950 * mib, true},
		{"busy: maxQuiet in the interval", heapSample{allocated: 1000 * mib}, heapSample{allocated: 1000*mib + maxQuiet}, 0, false},
		{"just under maxQuiet", heapSample{allocated: 1000 * mib}, heapSample{allocated: 1000*mib + maxQuiet - 1}, 0, true},
		{"busy relative to the burst: an eighth of it in the interval", heapSample{allocated: 1000 * mib}, heapSample{allocated: 1010 * mib}, 930 * mib, false},
	}
	for _, tt := range tests {
		if got := worthTrimming(tt.prev, tt.cur, tt.atTrim); got != tt.want {
			t.Errorf("%s: worthTrimming = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestMemTrimmer: a quiet process holding garbage is trimmed; a busy one is
// not; nor is a quiet one again within MinGap of its last trim.
func TestMemTrimmer(t *testing.T) {
	samples := []heapSample{
		{allocated: 500 * mib}, // at start
		{allocated: 501 * mib}, // tick 1: quiet after 501 MiB: trim
		{allocated: 501 * mib}, // read after the trim
		{allocated: 700 * mib}, // tick 2: busy
		{allocated: 701 * mib}, // tick 3: quiet after 200 MiB: trim unless within MinGap
		{allocated: 701 * mib}, // read after a trim
		{allocated: 702 * mib}, // tick 4: quiet, but 1 MiB since the last trim (or 201 without one: within MinGap)
	}
	for _, tt := range []struct {
		gap   time.Duration
		trims int
	}{{time.Hour, 1}, {time.Nanosecond, 2}} {
		var mu sync.Mutex
		reads, trims := 0, 0
		ctx, cancel := context.WithCancel(context.Background())
		m := &memTrimmer{Interval: time.Millisecond, MinGap: tt.gap, Log: logr.Discard(),
			trim: func() { mu.Lock(); trims++; mu.Unlock() },
			read: func() heapSample {
				mu.Lock()
				defer mu.Unlock()
				if reads == len(samples) {
					cancel()
					return samples[len(samples)-1]
				}
				reads++
				return samples[reads-1]
			}}
		done := make(chan error)
		go func() { done <- m.Start(ctx) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Start did not return after its context ended")
		}
		cancel()
		if trims != tt.trims {
			t.Errorf("MinGap %s: %d trims, want %d", tt.gap, trims, tt.trims)
		}
	}
}

// TestReadHeap: the runtime answers every metric the trimmer reads.
func TestReadHeap(t *testing.T) {
	runtime.GC() // the live heap is known after a collection
	s := readHeap()
	if s.allocated == 0 || s.live == 0 || s.held == 0 {
		t.Errorf("readHeap = %+v, want every field set", s)
	}
}
