package harness

import (
	"sync"
	"sync/atomic"
)

// Parallel runs fn(0..n-1) on a pool of workers goroutines and returns the
// first error; it stops handing out work once one call failed. Tests and
// benchmarks use it to fill a cluster with thousands of objects quickly.
func Parallel(workers, n int, fn func(i int) error) error {
	var next atomic.Int64
	var first atomic.Pointer[error]
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || first.Load() != nil {
					return
				}
				if err := fn(i); err != nil {
					first.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	if p := first.Load(); p != nil {
		return *p
	}
	return nil
}
