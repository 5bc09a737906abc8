package chaos

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/tests/harness"
)

// ciSeeds are the fixed seeds of the bounded run in make test: one per
// cloud flavour (see flavourOf), both carrying every scenario.
var ciSeeds = []uint64{1, 4}

// TestChaosCI is the bounded chaos run of make test: the fixed seeds plus
// one random seed (printed), CHAOS_STEPS steps each (200 by default) on
// CHAOS_CLUSTERS clusters (2 by default), the seeds side by side
// (CHAOS_PARALLEL=0: one after another). CHAOS_SEED=<n> runs that seed
// only, CHAOS_SEED=random one random seed; make chaos runs it longer.
func TestChaosCI(t *testing.T) {
	ctrl.SetLogger(harness.Logger())
	session.SilenceSDKInfoLogs()
	p := envParams(t)
	var seeds []uint64
	switch v := os.Getenv("CHAOS_SEED"); v {
	case "":
		seeds = append(slices.Clone(ciSeeds), rand.Uint64()%1_000_000)
	case "random":
		seeds = []uint64{rand.Uint64() % 1_000_000}
	default:
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED=%q: want a number or random", v)
		}
		seeds = []uint64{n}
	}
	parallel := len(seeds) > 1 && os.Getenv("CHAOS_PARALLEL") != "0"
	fmt.Printf("chaos: seeds %v (in parallel: %v)\n", seeds, parallel)
	// Runs share nothing but the machine, and most of a run is waiting
	// (leases, convergence), so they overlap well. Subtests run from
	// goroutines rather than with t.Parallel, which -parallel (GOMAXPROCS
	// by default) would cap.
	var wg sync.WaitGroup
	for _, s := range seeds {
		p := p
		p.Seed = s
		run := func() { t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) { runChaos(t, p) }) }
		if parallel {
			wg.Go(run)
		} else {
			run()
		}
	}
	wg.Wait()
}
