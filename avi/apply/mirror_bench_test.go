package apply_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avisim"
)

// BenchmarkMirror10kServices measures what the applier's mirror costs per
// object: the controller is seeded with 10,000 Services' objects (VsVip,
// one pool of 3 servers, virtual service: 30,000 objects, as BuildL4 makes
// them), a fresh applier reads them all in collection pages (ListOwned, as
// at start-up), and the live heap it retains after a GC is divided by the
// objects it mirrors.
func BenchmarkMirror10kServices(b *testing.B) {
	const n = 10_000
	seed := avisim.DemoSeed()
	seed.Networks = append(seed.Networks, avisim.SeedNetwork{Name: "big", Cloud: "Default-Cloud", VRF: "global",
		Subnets: []avisim.SeedSubnet{{Prefix: "10.100.0.0/16", StaticRanges: []avisim.SeedRange{{Begin: "10.100.0.1", End: "10.100.255.254"}}}}})
	seed.Clouds[0].IPAMNetworks = append(seed.Clouds[0].IPAMNetworks, "big")
	// The sets are built against a throwaway env for its settings; the
	// seeded controller is the one measured.
	e := newEnv(b, avisim.DemoSeed(), "big")
	for i := range n {
		set := e.build(b, service(fmt.Sprintf("svc-%d", i), 80), "10.1.0.1", "10.1.0.2", "10.1.0.3")
		for _, o := range []struct {
			typ string
			obj any
		}{{model.TypeVsVip, set.VsVips[0]}, {model.TypePool, set.Pools[0]}, {model.TypeVirtualService, set.VirtualServices[0]}} {
			body, err := json.Marshal(o.obj)
			if err != nil {
				b.Fatal(err)
			}
			seed.Objects = append(seed.Objects, avisim.SeedObject{Type: o.typ, Body: body})
		}
	}
	e = newEnv(b, seed, "big")
	// A first read warms the simulator and the client (sessions, buffers)
	// so the measured read's growth is the applier's alone.
	load(b, apply.New(e.c, e.s.CreatedBy(), "c1--"), e, 3*n)
	b.ResetTimer()
	var perObject float64
	for range b.N {
		a := apply.New(e.c, e.s.CreatedBy(), "c1--")
		before := liveHeap()
		load(b, a, e, 3*n)
		after := liveHeap()
		perObject += float64(after-before) / float64(3*n)
		runtime.KeepAlive(a)
	}
	b.ReportMetric(perObject/float64(b.N), "B/mirrored-object")
}

// load reads every object into a's mirror and checks it holds want.
func load(b *testing.B, a *apply.Applier, e *env, want int) {
	objs, err := a.ListOwned(context.Background(), e.s.CreatedBy(), "*")
	if err != nil {
		b.Fatal(err)
	}
	if len(objs) != want {
		b.Fatalf("mirrored %d objects, want %d", len(objs), want)
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
