package avisim

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/vmware/alb-sdk/go/clients"
	"github.com/vmware/alb-sdk/go/models"
)

// BenchmarkMixedGetPut measures the simulator's throughput through alb-sdk
// over loopback TLS: parallel clients (one alb-sdk session each, as
// alb-sdk's transport keeps only two idle connections per host), three
// GETs by uuid for every PUT. Each client updates its own pool so that
// _last_modified never conflicts.
func BenchmarkMixedGetPut(b *testing.B) {
	sim := startSim(b, DemoSeed())
	const clientsN = 8
	b.SetParallelism(clientsN / 2)
	cs := make(chan *clients.AviClient, clientsN*4)
	pools := make(chan *models.Pool, clientsN*4)
	for i := 0; i < cap(cs); i++ {
		c := newClient(b, sim)
		p, err := c.Pool.Create(&models.Pool{Name: s(fmt.Sprintf("bench-%d", i)), CreatedBy: s("vipgate-bench")})
		must(b, err)
		cs <- c
		pools <- p
	}
	var failed atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, p := <-cs, <-pools
		mixedGetPut(pb, c, p, &failed)
	})
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkSharedSession is the same mix through one alb-sdk session used
// by all goroutines, the way a reconciler might share a client. alb-sdk's
// default transport keeps two idle connections per host, so the extra
// parallel requests pay for new TLS handshakes.
func BenchmarkSharedSession(b *testing.B) {
	sim := startSim(b, DemoSeed())
	b.SetParallelism(4)
	c := newClient(b, sim)
	var n atomic.Int64
	var failed atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := n.Add(1)
		p, err := c.Pool.Create(&models.Pool{Name: s(fmt.Sprintf("shared-%d", id))})
		if err != nil {
			failed.Add(1)
			return
		}
		mixedGetPut(pb, c, p, &failed)
	})
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// mixedGetPut is both benchmarks' request mix: three GETs of a pool for each
// PUT of it, counting failed requests.
func mixedGetPut(pb *testing.PB, c *clients.AviClient, p *models.Pool, failed *atomic.Int64) {
	i := 0
	for pb.Next() {
		if i%4 == 3 {
			p.Description = s(fmt.Sprintf("rev %d", i))
			np, err := c.Pool.Update(p)
			if err != nil {
				failed.Add(1)
			} else {
				p = np
			}
		} else if _, err := c.Pool.Get(*p.UUID); err != nil {
			failed.Add(1)
		}
		i++
	}
}

// BenchmarkListPages reads a collection of 10,000 pools in pages of 200
// with include_name and a created_by filter, the way a client's start-up
// reads what it wrote: the cost of one page (ms/page) at that size.
func BenchmarkListPages(b *testing.B) {
	sim := startSim(b, DemoSeed())
	const n, clientsN = 10000, 8
	errs := make(chan error, clientsN)
	for w := range clientsN {
		go func() {
			c := newClient(b, sim)
			var err error
			for i := w; i < n && err == nil; i += clientsN {
				_, err = c.Pool.Create(&models.Pool{Name: s(fmt.Sprintf("page-%05d", i)), CreatedBy: s("vipgate-bench")})
			}
			errs <- err
		}()
	}
	for range clientsN {
		must(b, <-errs)
	}
	c := newClient(b, sim)
	pages := 0
	b.ResetTimer()
	for range b.N {
		for page := 1; ; page++ {
			res, err := c.AviSession.GetCollectionRaw(fmt.Sprintf("api/pool?created_by=vipgate-bench&include_name=true&page_size=200&page=%d", page))
			must(b, err)
			pages++
			if res.Next == "" {
				break
			}
		}
	}
	b.StopTimer()
	if pages != b.N*n/200 {
		b.Fatalf("read %d pages, want %d", pages, b.N*n/200)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(pages), "ms/page")
}
