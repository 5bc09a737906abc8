package bench

// This file: BenchmarkRestart, vipgate as its own process over a cluster at
// the design's size (10,000 LoadBalancer Services, 5,000 Ingresses, 20,000
// Secrets) in sync with the controller: its memory when idle, then a restart
// (the process ended and started again): time until idle, controller calls
// and writes. Run it alone (one per process):
//
//	BENCH_SERVICES=10000 BENCH_INGRESSES=5000 BENCH_SECRETS=20000 \
//	  go test -run '^$' -bench '^BenchmarkRestart$' -benchtime 1x -timeout 90m ./tests/bench/

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
)

// pageSize is the controller's largest collection page (page_size ≤ 200).
const pageSize = 200

// collectionPages is ceil(n / pageSize) for each owned type on the
// controller, and their sum: the reads a client needs to list everything
// it owns once.
func collectionPages(sim *recSim) (map[string]int, int) {
	pages, total := map[string]int{}, 0
	for _, typ := range ownedTypes {
		n := len(sim.Objects("admin", typ))
		p := (n + pageSize - 1) / pageSize
		pages[typ] = p
		total += p
	}
	return pages, total
}

// BenchmarkRestart populates the cluster through a first vipgate process
// (BENCH_SECRETS Secrets, BENCH_SERVICES vipgate LoadBalancer Services and
// BENCH_INGRESSES Ingresses of pbPaths paths on LARGE shards, created by
// BENCH_CLIENTS clients), waits until it is idle and reports:
//
//   - mem-rss-MiB, mem-hwm-MiB: that process's VmRSS when idle and its
//     peak (VmHWM) (goal: RSS < 150 MiB);
//
// then ends it, zeroes avisim's counters, starts a second process and
// reports, until that one is idle (work queues empty, no reconcile and no
// controller call for a second):
//
//   - restart-idle-s: from starting the process (goal < 30 s), and
//     restart-ready-s until /readyz answered;
//   - restart-calls, restart-gets, restart-writes (goal 0): avisim's
//     counters; restart-owned-gets the reads of the object types vipgate
//     writes, next to restart-pages, the collection pages those types fill
//     (goal: collection pages only), and restart-object-reads, those
//     reads that asked for one object (by UUID or name);
//   - restart-rss-MiB, restart-hwm-MiB: the second process's memory;
//
// and for each process, after it has been idle BENCH_SETTLE_S (30) more,
// mem-settled-rss-MiB / restart-settled-rss-MiB, then the highest RSS of
// the BENCH_STEADY_S (90) after that, sampled every second, which holds
// at least one inventory refresh: mem-steady-max-rss-MiB /
// restart-steady-max-rss-MiB;
//
// then, unless BENCH_FULLSYNC_S is 0, waits for the second process's first
// full sync (fullSyncFrequency BENCH_FULLSYNC_S, 240 s by default: after
// the memory measures) and reports (restartFullSync):
//
//   - fullsync-s: from the round's first read until the process is idle;
//   - fullsync-owned-gets, fullsync-object-reads, fullsync-writes (goal:
//     collection pages only, 0 writes besides the probe's);
//   - fullsync-probe-s: a Service created as the round begins, until its
//     VIP is in status, next to idle-probe-s, one created when idle.
func BenchmarkRestart(b *testing.B) {
	claimCluster(b)
	ctx := context.Background()
	nSvc := envInt(b, "BENCH_SERVICES", 10000)
	nIng := envInt(b, "BENCH_INGRESSES", 5000)
	nSec := envInt(b, "BENCH_SECRETS", 20000)
	clients := envInt(b, "BENCH_CLIENTS", 50)
	seed, err := avisim.ParseSeed([]byte(bigSeed))
	if err != nil {
		b.Fatal(err)
	}
	sim := startRecSim(b, seed)
	pbBase(b)
	pbSecrets(b, nSec, nIng, clients)
	dir := procDir(b, sim)
	p1 := startVipgateProc(b, dir, sim.Host(), 1)
	p1.waitIdle(b, sim.calls, 0, 5*time.Minute)
	svcs := watchStatus(b, &corev1.Service{}, "lb-")
	ings := watchStatus(b, &networkingv1.Ingress{}, "ing-")

	var retries atomic.Int64
	cpu := p1.profile(b, "cpu-populate", "cpu")
	t0 := time.Now()
	err = parallel(clients, nSvc, func(i int) error {
		return pbCreate(ctx, pbService(pbNS(i), fmt.Sprintf("lb-%d", i), false), &retries)
	})
	if err != nil {
		b.Fatalf("creating Services: %v", err)
	}
	svcsAt := svcs.waitN(b, "lb-", nSvc, waitLimit(nSvc)).Sub(t0)
	t1 := time.Now()
	err = parallel(clients, nIng, func(i int) error { return pbCreate(ctx, pbIngress(i), &retries) })
	if err != nil {
		b.Fatalf("creating Ingresses: %v", err)
	}
	ingsAt := ings.waitN(b, "ing-", nIng, waitLimit(nIng)).Sub(t1)
	p1.waitIdle(b, sim.calls, 0, waitLimit(nSvc+nIng))
	rss1, hwm1 := p1.memMiB(b)
	p1.profile(b, "heap-populated-last", "heap-last")
	settle := time.Duration(envInt(b, "BENCH_SETTLE_S", 30)) * time.Second
	b.Logf("populated, idle: %s", p1.memDetail())
	rss1s := p1.settledMiB(b, settle)
	cpu()
	b.Logf("populated, %s after idle: %s", settle, p1.memDetail())
	steady := time.Duration(envInt(b, "BENCH_STEADY_S", 90)) * time.Second
	rss1m := p1.steadyMaxMiB(b, steady)
	b.Logf("populated, highest RSS over the next %s: %.1f MiB; at its end: %s", steady, rss1m, p1.memDetail())
	p1.profile(b, "heap-populated", "heap")
	b.Logf("populated: %d Secrets; %d Services all with VIPs after %s; %d Ingresses all with status after %s; %d create retries; vipgate idle at RSS %.1f MiB (peak %.1f MiB)",
		nSec, nSvc, svcsAt.Round(time.Millisecond), nIng, ingsAt.Round(time.Millisecond), retries.Load(), rss1, hwm1)

	// Restart.
	p1.stop()
	pages, totalPages := collectionPages(sim)
	sim.ResetCounts()
	sim.record(true)
	b.ResetTimer()
	fullSyncS := envInt(b, "BENCH_FULLSYNC_S", 240)
	p2 := startVipgateProcSync(b, dir, sim.Host(), 2, cmp.Or(fullSyncS, 1800))
	ready := time.Since(p2.started)
	cpu2 := p2.profile(b, "cpu-restart", "cpu")
	// From /readyz on: the process's CPU before it was ready is in its own
	// counter (vipgate's total is from its start).
	meter := newCPUMeter(b, p2)
	cpu0 := meter.sample()
	cpu0["vipgate"] = 0
	idle := p2.waitIdle(b, sim.calls, nSvc, waitLimit(nSvc+nIng))
	used, _ := meter.since(cpu0)
	b.StopTimer()
	sim.record(false)
	idleAfter := idle.at.Sub(p2.started)
	counts := sim.Counts()
	calls, gets, ownedGets := 0, 0, 0
	owned := map[string]bool{}
	for _, t := range ownedTypes {
		owned[t] = true
	}
	for k, c := range counts {
		calls += c
		if m, typ, _ := strings.Cut(k, " "); m == "GET" {
			gets += c
			if owned[typ] {
				ownedGets += c
			}
		}
	}
	single := singleOwnedReads(sim)
	rss2, hwm2 := p2.memMiB(b)
	p2.profile(b, "heap-restarted-last", "heap-last")
	cpu2()
	b.Logf("restarted, idle: %s", p2.memDetail())
	rss2s := p2.settledMiB(b, settle)
	b.Logf("restarted, %s after idle: %s", settle, p2.memDetail())
	rss2m := p2.steadyMaxMiB(b, steady)
	b.Logf("restarted, highest RSS over the next %s: %.1f MiB; at its end: %s", steady, rss2m, p2.memDetail())
	p2.profile(b, "heap-restarted", "heap")
	var pagesText strings.Builder
	for _, t := range ownedTypes {
		fmt.Fprintf(&pagesText, "%s %d (GETs %d); ", t, pages[t], counts["GET "+t])
	}

	b.ReportMetric(float64(nSvc), "services")
	b.ReportMetric(float64(nIng), "ingresses")
	b.ReportMetric(float64(nSec), "secrets")
	b.ReportMetric(rss1, "mem-rss-MiB")
	b.ReportMetric(hwm1, "mem-hwm-MiB")
	b.ReportMetric(rss1s, "mem-settled-rss-MiB")
	b.ReportMetric(rss1m, "mem-steady-max-rss-MiB")
	b.ReportMetric(ready.Seconds(), "restart-ready-s")
	b.ReportMetric(idleAfter.Seconds(), "restart-idle-s")
	b.ReportMetric(float64(calls), "restart-calls")
	b.ReportMetric(float64(gets), "restart-gets")
	b.ReportMetric(float64(ownedGets), "restart-owned-gets")
	b.ReportMetric(float64(single), "restart-object-reads")
	b.ReportMetric(float64(totalPages), "restart-pages")
	b.ReportMetric(float64(sim.Writes()), "restart-writes")
	b.ReportMetric(rss2, "restart-rss-MiB")
	b.ReportMetric(hwm2, "restart-hwm-MiB")
	b.ReportMetric(rss2s, "restart-settled-rss-MiB")
	b.ReportMetric(rss2m, "restart-steady-max-rss-MiB")
	b.Logf("restart: CPU used until idle (vipgate from its start, the others from its readiness): %s", used)
	b.Logf("restart: ready after %s, idle after %s (reconciles %v); controller calls %s; %d of the reads of owned types were of one object; %d writes; collection pages of owned types: %stotal %d; RSS %.1f MiB (peak %.1f MiB)",
		ready.Round(time.Millisecond), idleAfter.Round(time.Millisecond), idle.reconciles, fmtCounts(counts), single, sim.Writes(), pagesText.String(), totalPages, rss2, hwm2)
	if fullSyncS > 0 {
		restartFullSync(b, sim, p2, time.Duration(fullSyncS)*time.Second, nSvc+nIng)
	}
}

// restartFullSync measures p's first full sync (see BenchmarkRestart): the
// reads of the round, its writes, and how long a Service created as it
// begins waits for its VIP, against one created when p is idle.
func restartFullSync(b *testing.B, sim *recSim, p *vipgateProc, period time.Duration, n int) {
	b.Helper()
	ctx := context.Background()
	if time.Since(p.started) > period-5*time.Second {
		b.Fatalf("the restarted process's first full sync (%s after its start) may have begun before the measures: raise BENCH_FULLSYNC_S", period)
	}
	sim.ResetCounts()
	sim.record(true)
	defer sim.record(false)
	deadline := p.started.Add(period + 2*time.Minute)
	// The round reads every owned collection; pools are among the first
	// (the inventory's periodic refresh reads VsVips, never pools).
	for c := sim.Counts(); c["GET pool"]+c["GET poolgroup"]+c["GET virtualservice"] == 0; c = sim.Counts() {
		if time.Now().After(deadline) {
			b.Fatalf("no full sync began within %s of the process's start; log %s:\n%s", period+2*time.Minute, p.log, tail(p.log, 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t0 := time.Now()
	probe := probeVIP(b, ctx, "lb-probe-fullsync")
	idle := p.waitIdle(b, sim.calls, 0, waitLimit(n))
	took := idle.at.Sub(t0)
	counts := sim.Counts()
	gets, single := 0, singleOwnedReads(sim)
	for _, t := range ownedTypes {
		gets += counts["GET "+t]
	}
	writes := sim.Writes() - probeObjects(sim, "lb-probe-fullsync")
	idleProbe := probeVIP(b, ctx, "lb-probe-idle")
	b.ReportMetric(took.Seconds(), "fullsync-s")
	b.ReportMetric(float64(gets), "fullsync-owned-gets")
	b.ReportMetric(float64(single), "fullsync-object-reads")
	b.ReportMetric(float64(writes), "fullsync-writes")
	b.ReportMetric(probe.Seconds(), "fullsync-probe-s")
	b.ReportMetric(idleProbe.Seconds(), "idle-probe-s")
	b.Logf("full sync: idle %s after its first read (reconciles %v); controller calls %s; %d reads of one object; %d writes besides the probe's; a Service created as it began had its VIP after %s, one created when idle after %s",
		took.Round(time.Millisecond), idle.reconciles, fmtCounts(counts), single, writes, probe.Round(time.Millisecond), idleProbe.Round(time.Millisecond))
}

// probeVIP creates a vipgate Service named name and returns how long it
// took until its VIP was in status.
func probeVIP(b *testing.B, ctx context.Context, name string) time.Duration {
	b.Helper()
	svc := pbService(pbNS(0), name, false)
	t0 := time.Now()
	if err := pbCreate(ctx, svc, new(atomic.Int64)); err != nil {
		b.Fatalf("creating %s: %v", name, err)
	}
	deadline := t0.Add(5 * time.Minute)
	for {
		var got corev1.Service
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(svc), &got); err == nil && len(got.Status.LoadBalancer.Ingress) > 0 {
			return time.Since(t0)
		}
		if time.Now().After(deadline) {
			b.Fatalf("Service %s has no VIP after 5 minutes", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// probeObjects counts the controller objects of owned types named after the probe.
func probeObjects(sim *recSim, probe string) int {
	n := 0
	for _, t := range ownedTypes {
		for _, o := range sim.Objects("admin", t) {
			if name, _ := o["name"].(string); strings.Contains(name, probe) {
				n++
			}
		}
	}
	return n
}

// singleOwnedReads counts the recorded reads of one object (by UUID or
// name) of the types vipgate writes.
func singleOwnedReads(sim *recSim) int {
	n := 0
	for _, r := range sim.recorded() {
		if r.Single && slices.Contains(ownedTypes, r.Type) {
			n++
		}
	}
	return n
}
