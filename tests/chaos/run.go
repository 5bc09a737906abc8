package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/inventory/loader"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/avisim/dataplane"
	"github.com/vipgate/vipgate/tests/harness"
)

// params configure one run (see the package documentation for the
// environment variables that set them).
type params struct {
	Seed     uint64
	Steps    int
	Clusters int
	// Flavour is the cloud; "" derives it from the seed.
	Flavour string
	// Replay, when set, is a step file to run instead of generating.
	Replay string
	// Pace is the pause between two steps.
	Pace time.Duration
	// Bound is how long a quiescent point waits for vipgate to converge
	// after faults end (kill -9 failover included: a lease outlives its
	// holder by 15 s).
	Bound    time.Duration
	FailFast bool
	// NoScenarios leaves the five scheduled scenarios out (random operations only).
	NoScenarios bool
}

// flavourOf derives the cloud flavour from the seed, from a PCG stream of
// its own, so the operation sequence does not depend on it.
func flavourOf(seed uint64) string {
	if rand.New(rand.NewPCG(seed, 2)).IntN(2) == 0 {
		return FlavourVCenter
	}
	return FlavourAWS
}

// run is one seeded chaos run: the controller, the clusters and vipgate
// processes, the oracle's state, the checkers and the counters.
type run struct {
	t       *testing.T
	p       params
	flavour string
	layouts []layout
	ops     []Op
	dir     string
	bin     string

	sim      *avisim.Sim
	ctl      *ctlProxy
	clusters []*cluster
	imp      *impostor
	// inv is the controller inventory the oracle judges with: static parts
	// loaded once, VIPs in use and SE group labels refreshed from the
	// simulator's store for each verdict.
	inv *inventory.Snapshot

	marks *marks
	st    *stats
	// step is the step being executed; lastQuiesce the step of the last
	// quiescent point (0 before the first).
	step        atomic.Int64
	lastQuiesce atomic.Int64
	// sampleNow asks the watcher for one sample now; it closes the channel
	// it is sent once the sample is checked (syncSample).
	sampleNow chan chan struct{}
	// good are the indexes in ops of the quiescent points that passed, in
	// order.
	good     []int
	executed []string

	// timeBy is the time spent per operation kind (the report prints it).
	timeBy   map[string]time.Duration
	setupFor time.Duration

	faultMu  sync.Mutex
	faultGen map[string]int

	stable *targets

	// quietSince holds, per "cluster/namespace", when the last converge
	// there ended, as long as no operation that disturbs (faults, restarts)
	// came since: the next converge judges the controller refusals between.
	quietSince sync.Map

	fullMu sync.Mutex
	full   map[string]bool

	logMu     sync.Mutex
	log       *os.File
	cleanupMu sync.Mutex
	cleanups  []func()
}

// cleanup registers f to run (in reverse order) when the run ends; set-up
// registers from several goroutines.
func (r *run) cleanup(f func()) {
	r.cleanupMu.Lock()
	r.cleanups = append(r.cleanups, f)
	r.cleanupMu.Unlock()
}

// markFull records that a VIP network was seen without a free address.
func (r *run) markFull(network string) {
	r.fullMu.Lock()
	r.full[network] = true
	r.fullMu.Unlock()
}

// sawFull reports whether a network was ever seen full in this run.
func (r *run) sawFull(network string) bool {
	r.fullMu.Lock()
	defer r.fullMu.Unlock()
	return r.full[network]
}

// logf writes to the run log (always) and to the test log.
func (r *run) logf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	r.logMu.Lock()
	if r.log != nil {
		fmt.Fprintf(r.log, "%s %s\n", time.Now().Format("15:04:05.000"), msg)
	}
	r.logMu.Unlock()
}

// runChaos runs one seeded run and fails t when an invariant was violated.
func runChaos(t *testing.T, p params) {
	r := &run{t: t, p: p, marks: newMarks(), st: newStats(), faultGen: map[string]int{}, full: map[string]bool{}, timeBy: map[string]time.Duration{},
		sampleNow: make(chan chan struct{})}
	r.flavour = p.Flavour
	if r.flavour == "" {
		r.flavour = flavourOf(p.Seed)
	}
	r.layouts = layouts(r.flavour)
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	r.dir = filepath.Join(root, ".cache", "chaos", fmt.Sprintf("run-%d-%s-%d", p.Seed, time.Now().Format("150405"), os.Getpid()))
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if r.log, err = os.Create(filepath.Join(r.dir, "run.log")); err != nil {
		t.Fatal(err)
	}
	if p.Replay != "" {
		if r.ops, err = readSteps(p.Replay); err != nil {
			t.Fatal(err)
		}
	} else {
		r.ops = Generate(p.Seed, p.Steps, p.Clusters, !p.NoScenarios)
	}
	stepsFile := filepath.Join(r.dir, "steps.jsonl")
	if err := writeSteps(stepsFile, r.ops); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("chaos: CHAOS_SEED=%d CHAOS_STEPS=%d CHAOS_CLUSTERS=%d cloud=%s (%d operations; log and steps in %s)\n",
		p.Seed, p.Steps, p.Clusters, r.flavour, len(r.ops), r.dir)
	t.Logf("seed %d, %d steps, %d clusters, cloud %s; run folder %s", p.Seed, len(r.ops), p.Clusters, r.flavour, r.dir)
	defer func() {
		for i := len(r.cleanups) - 1; i >= 0; i-- {
			r.cleanups[i]()
		}
		r.log.Close()
	}()
	start := time.Now()
	if err := r.setup(t); err != nil {
		t.Fatalf("setting up the run: %v", err)
	}
	r.setupFor = time.Since(start)
	r.logf("set up in %s", r.setupFor.Round(time.Millisecond))
	var failedBefore int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { r.watch(ctx) })
	wg.Go(func() { r.probe(ctx) })
	for i, op := range r.ops {
		r.step.Store(int64(op.Step))
		began := time.Now()
		res := r.exec(op)
		took := time.Since(began)
		r.timeBy[op.Kind] += took
		line := fmt.Sprintf("%s\n      -> %s (%s)", op, res, took.Round(time.Millisecond))
		r.executed = append(r.executed, line)
		r.logf("%s", line)
		if op.Kind == OpQuiesce {
			_, failed := r.st.totals()
			if failed == failedBefore {
				r.good = append(r.good, i)
			}
			failedBefore = failed
		}
		if p.FailFast && r.st.failureCount() > 0 {
			r.logf("stopping at the first failure (CHAOS_FAILFAST)")
			break
		}
		if p.Pace > 0 {
			time.Sleep(p.Pace)
		}
	}
	cancel()
	wg.Wait()
	r.checkRaces()
	r.report(t, stepsFile, time.Since(start))
}

// setup starts the simulated controller (with its data plane), the
// controller proxy, the clusters and their vipgate processes.
func (r *run) setup(t *testing.T) error {
	var err error
	if r.bin, err = vipgateBinary(); err != nil {
		return err
	}
	r.sim, err = avisim.New(avisim.Options{Seed: controllerSeed(r.flavour), Username: "admin", Password: "admin",
		DataPlane: &dataplane.Options{MonitorTimeScale: monitorTimeScale, ServersOnLoopback: true}})
	if err != nil {
		return err
	}
	r.sim.StartTLS()
	r.cleanup(r.sim.Close)
	if r.ctl, err = newCtlProxy(r.sim.Host()); err != nil {
		return err
	}
	r.cleanup(r.ctl.close)
	if err := r.loadInventory(); err != nil {
		return err
	}
	type res struct {
		cl  *cluster
		err error
	}
	out := make([]res, r.p.Clusters)
	var wg sync.WaitGroup
	for i := range r.p.Clusters {
		wg.Go(func() {
			cl, err := r.startCluster(t, i, replicasOf(i))
			out[i] = res{cl, err}
		})
	}
	var impErr error
	if slices.ContainsFunc(r.ops, func(o Op) bool { return o.Kind == OpImpostor }) {
		wg.Go(func() { impErr = r.startImpostorEnv() })
	}
	wg.Wait()
	if impErr != nil {
		return impErr
	}
	for _, o := range out {
		if o.err != nil {
			return o.err
		}
		r.clusters = append(r.clusters, o.cl)
	}
	r.stable = newTargets()
	return nil
}

// monitorTimeScale speeds up the controller's health monitors (System-TCP
// checks every 5 s instead of 10, a 2 s answer timeout) without making them
// so tight that a loaded machine fails checks of healthy backends: no
// backend of the suite ever goes down, so a server marked down is a lost
// answer, not news.
const monitorTimeScale = 0.5

// loadInventory loads the oracle's inventory (the static parts: cloud,
// networks, SE groups) through vipgate's own loader, as cluster 0 sees it.
func (r *run) loadInventory() error {
	s, err := r.layouts[0].settings(r.sim.Host())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := r.adminSession(ctx)
	if err != nil {
		return fmt.Errorf("oracle's controller session: %w", err)
	}
	defer c.Close()
	snap, err := loader.Load(ctx, c, s)
	if err != nil {
		return fmt.Errorf("oracle's inventory: %w", err)
	}
	r.inv = snap
	return nil
}

// report prints the table, the closing line and, on failure, the seed and
// the steps that reproduce it.
func (r *run) report(t *testing.T, stepsFile string, took time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos run: seed %d, cloud %s, %d clusters, %d steps in %s\n", r.p.Seed, r.flavour, r.p.Clusters, len(r.executed), took.Round(time.Second))
	var kinds []string
	for k := range r.timeBy {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b string) int { return int(r.timeBy[b] - r.timeBy[a]) })
	fmt.Fprintf(&b, "time: set-up %s", r.setupFor.Round(time.Second))
	for i, k := range kinds {
		if i == 6 {
			break
		}
		fmt.Fprintf(&b, ", %s %s", k, r.timeBy[k].Round(time.Second))
	}
	b.WriteString("\n")
	r.st.print(&b)
	passed, failed := r.st.totals()
	ff := r.st.firstFailure()
	if failed > 0 {
		fmt.Fprintf(&b, "\nreproduce: CHAOS_SEED=%d CHAOS_STEPS=%d CHAOS_CLUSTERS=%d CHAOS_CLOUD=%s make chaos\n", r.p.Seed, r.p.Steps, r.p.Clusters, r.flavour)
		fmt.Fprintf(&b, "or replay (edit the file to shorten it): CHAOS_REPLAY=%s CHAOS_SEED=%d CHAOS_CLOUD=%s make chaos\n", stepsFile, r.p.Seed, r.flavour)
		first := ff.Step
		from, since := 0, "the start"
		for _, i := range r.good {
			if r.ops[i].Step < first {
				from, since = i+1, fmt.Sprintf("step %d, the last quiescent point that passed before it", r.ops[i].Step)
			}
		}
		// The shortened list: steps that name an object a failure of the
		// segment names, and every step without an object (faults,
		// restarts, the impostor, quiescent points).
		var msgs []string
		for _, f := range r.st.failures {
			if f.Step >= first {
				msgs = append(msgs, f.Msg)
			}
		}
		all := strings.Join(msgs, "\n")
		fmt.Fprintf(&b, "\nsteps since %s, through the segment of the first failure (step %d), that touch a failing object or are no object's (all of them in run.log):\n", since, first)
		for i := from; i < len(r.executed); i++ {
			if relevant(r.ops[i], all) {
				b.WriteString("  " + r.executed[i] + "\n")
			}
			if r.ops[i].Kind == OpQuiesce && r.ops[i].Step >= first {
				break
			}
		}
		fmt.Fprintf(&b, "full run log: %s\n", filepath.Join(r.dir, "run.log"))
		// Again last, where a log cut to its tail (a CI summary) shows it.
		fmt.Fprintf(&b, "first failure: step %d, %s: %s\n", ff.Step, invNames[ff.Inv], oneLine(ff.Msg))
	}
	fmt.Fprintf(&b, "\n%d passed, %d failed\n", passed, failed)
	out := b.String()
	fmt.Print(out)
	r.logf("%s", out)
	if err := os.WriteFile(filepath.Join(r.dir, "report.txt"), []byte(out), 0o644); err != nil {
		t.Log(err)
	}
	if failed > 0 {
		t.Errorf("seed %d: %d of %d invariant checks failed (report above; %s); the first, at step %d: %s",
			r.p.Seed, failed, passed+failed, r.dir, ff.Step, oneLine(ff.Msg))
	}
}

// checkRaces counts the data race reports of every vipgate process.
func (r *run) checkRaces() {
	var reps []*replica
	for _, cl := range r.clusters {
		reps = append(reps, cl.replicas...)
	}
	if r.imp != nil {
		reps = append(reps, r.imp.rep)
	}
	for _, rep := range reps {
		races := rep.raceReports()
		r.st.check(invRace, len(races) == 0, int(r.step.Load()), rep.name, fmt.Sprintf("%d data race report(s) from %s, the first:\n%s", len(races), rep.name, first(races)))
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// envParams reads the run parameters from the environment with CI defaults.
func envParams(t *testing.T) params {
	p := params{Steps: 200, Clusters: 2, Pace: 25 * time.Millisecond, Bound: 90 * time.Second}
	if v := os.Getenv("CHAOS_STEPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CHAOS_STEPS=%q: want a positive number", v)
		}
		p.Steps = n
	}
	if v := os.Getenv("CHAOS_CLUSTERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 2 {
			t.Fatalf("CHAOS_CLUSTERS=%q: want 1 or 2", v)
		}
		p.Clusters = n
	}
	switch v := os.Getenv("CHAOS_CLOUD"); v {
	case "", FlavourAWS, FlavourVCenter:
		p.Flavour = v
	default:
		t.Fatalf("CHAOS_CLOUD=%q: want %s or %s", v, FlavourVCenter, FlavourAWS)
	}
	if v := os.Getenv("CHAOS_BOUND"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("CHAOS_BOUND=%q: %v", v, err)
		}
		p.Bound = d
	}
	if v := os.Getenv("CHAOS_PACE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("CHAOS_PACE=%q: %v", v, err)
		}
		p.Pace = d
	}
	p.Replay = os.Getenv("CHAOS_REPLAY")
	p.FailFast = os.Getenv("CHAOS_FAILFAST") == "1"
	p.NoScenarios = os.Getenv("CHAOS_SCENARIOS") == "0"
	return p
}

// relevant reports whether op belongs in a failure's shortened step list:
// it names no object (a fault, a restart, a quiescent point, the impostor),
// or one of its objects appears in the failure messages, as "ns/name" or as
// part of a controller object's name ("-ns-name").
func relevant(op Op, msgs string) bool {
	if op.Kind == OpConcurrent {
		for _, s := range op.Sub {
			if relevant(s, msgs) {
				return true
			}
		}
		return false
	}
	switch {
	case op.NS != "" && op.Name != "":
		return strings.Contains(msgs, op.NS+"/"+op.Name) || strings.Contains(msgs, "-"+op.NS+"-"+op.Name)
	case op.NS != "":
		return strings.Contains(msgs, op.NS+"/") || strings.Contains(msgs, "-"+op.NS+"-")
	case strings.HasPrefix(op.Kind, "ais."):
		return strings.Contains(msgs, op.Name)
	case strings.HasPrefix(op.Kind, "node."):
		return strings.Contains(msgs, "static routes")
	}
	return true
}
