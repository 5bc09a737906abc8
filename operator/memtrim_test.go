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
		want      bool
	}{
		{"quiet, 100 MiB held beyond 50 MiB live", heapSample{allocated: 1000 * mib}, heapSample{allocated: 1002 * mib, live: 50 * mib, held: 150 * mib}, true},
		{"busy: allocated more than an eighth of the excess", heapSample{allocated: 1000 * mib}, heapSample{allocated: 1013 * mib, live: 50 * mib, held: 150 * mib}, false},
		{"just under an eighth", heapSample{allocated: 1000 * mib}, heapSample{allocated: 1000*mib + 100*mib/8 - 1, live: 50 * mib, held: 150 * mib}, true},
		{"too little to return", heapSample{allocated: 1000 * mib}, heapSample{allocated: 1000 * mib, live: 50 * mib, held: 50*mib + minExcess - 1}, false},
		{"exactly the minimum", heapSample{allocated: 1000 * mib}, heapSample{allocated: 1000 * mib, live: 50 * mib, held: 50*mib + minExcess}, true},
		{"live above held (a collection in progress)", heapSample{}, heapSample{live: 80 * mib, held: 60 * mib}, false},
	}
	for _, tt := range tests {
		if got := worthTrimming(tt.prev, tt.cur); got != tt.want {
			t.Errorf("%s: worthTrimming = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestMemTrimmer: a quiet process holding garbage is trimmed; a busy one is
// not; nor is a quiet one again within MinGap of its last trim.
func TestMemTrimmer(t *testing.T) {
	quiet := heapSample{allocated: 0, live: 50 * mib, held: 150 * mib}
	samples := []heapSample{
		{allocated: 0, live: 50 * mib, held: 60 * mib}, // at start
		quiet, // tick 1: quiet, 100 MiB held beyond live: trim
		{allocated: 0, live: 50 * mib, held: 50 * mib},          // read after the trim
		{allocated: 200 * mib, live: 50 * mib, held: 150 * mib}, // tick 2: busy
		{allocated: 200 * mib, live: 50 * mib, held: 150 * mib}, // tick 3: quiet again: trim unless within MinGap
		{allocated: 200 * mib, live: 50 * mib, held: 50 * mib},  // read after a trim
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
