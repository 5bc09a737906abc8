package apply_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avisim"
)

// BenchmarkApply1000Services creates 1,000 Services' desired sets (VsVip,
// one pool with 3 servers, VS) against avisim through alb-sdk over HTTPS,
// with 8 concurrent workers as a reconciler would run, then re-applies them
// all (a resync) and reports writes and wall time per Service for both.
func BenchmarkApply1000Services(b *testing.B) {
	seed := avisim.DemoSeed()
	seed.Networks = append(seed.Networks, avisim.SeedNetwork{Name: "big", Cloud: "Default-Cloud", VRF: "global",
		Subnets: []avisim.SeedSubnet{{Prefix: "10.100.0.0/16", StaticRanges: []avisim.SeedRange{{Begin: "10.100.0.1", End: "10.100.255.254"}}}}})
	seed.Clouds[0].IPAMNetworks = append(seed.Clouds[0].IPAMNetworks, "big")
	e := newEnv(b, seed, "big")
	const n, workers = 1000, 8
	ctx := context.Background()
	var createMS, resyncMS, createWrites, resyncWrites float64
	for iter := 0; iter < b.N; iter++ {
		sets := make([]*model.Set, n)
		for i := range sets {
			sets[i] = e.build(b, service(fmt.Sprintf("s%d-%d", iter, i), 80), "10.1.0.1", "10.1.0.2", "10.1.0.3")
		}
		run := func() (time.Duration, int) {
			e.sim.ResetCounts()
			start := time.Now()
			var wg sync.WaitGroup
			ch := make(chan *model.Set)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for s := range ch {
						if _, err := e.a.Apply(ctx, s); err != nil {
							b.Error(err)
						}
					}
				}()
			}
			for _, s := range sets {
				ch <- s
			}
			close(ch)
			wg.Wait()
			return time.Since(start), e.sim.Writes()
		}
		d, w := run()
		createMS += d.Seconds() * 1000 / n
		createWrites += float64(w) / n
		d, w = run()
		resyncMS += d.Seconds() * 1000 / n
		resyncWrites += float64(w) / n
	}
	N := float64(b.N)
	b.ReportMetric(createWrites/N, "writes/svc-create")
	b.ReportMetric(createMS/N, "ms/svc-create")
	b.ReportMetric(resyncWrites/N, "writes/svc-resync")
	b.ReportMetric(resyncMS/N, "ms/svc-resync")
}
