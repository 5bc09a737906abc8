package bench

// This file: BenchmarkBurst, LoadBalancer Services created at once against
// vipgate running as its own process (bin/vipgate, webhooks over TLS):
// time until every VIP is in status, next to the same burst of another
// loadBalancerClass (neither admitted nor reconciled by vipgate: the API
// server's own time). Run it alone (one per process):
//
//	BENCH_BURSTS=1000,10000 go test -run '^$' -bench '^BenchmarkBurst$' -benchtime 1x ./tests/bench/

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
)

// BenchmarkBurst measures, for each size n in BENCH_BURSTS (default 1000 and
// 10000), with BENCH_CLIENTS parallel clients (default 50):
//
//   - burst<n>-ref-s: n Services of another class until all are created;
//   - burst<n>-vipgate-s: n vipgate Services until all have status.loadBalancer;
//   - burst<n>-create-s: how long the vipgate creates alone took;
//   - burst<n>-ratio: vipgate / reference (goal: vipgate ≤ 1.3 × reference + 1 s);
//   - burst<n>-floor-s, burst<n>-floor-ratio: the same burst for the floor
//     (floor_test.go), the least any operator of vipgate's shape costs, until
//     all have status, and its ratio to the reference;
//   - burst<n>-gets-per-svc, burst<n>-writes-per-svc: controller calls
//     (avisim's counters) from the first create until vipgate is idle.
//
// The reference goes first at each size, then the floor, then vipgate; each
// is deleted before the next, so all start from a cluster of one size (see
// removeServices' caller).
func BenchmarkBurst(b *testing.B) {
	claimCluster(b)
	ctx := context.Background()
	sizes := envInts(b, "BENCH_BURSTS", []int{1000, 10000})
	clients := envInt(b, "BENCH_CLIENTS", 50)
	seed, err := avisim.ParseSeed([]byte(bigSeed))
	if err != nil {
		b.Fatal(err)
	}
	sim := startRecSim(b, seed)
	dir := procDir(b, sim)
	p := startVipgateProc(b, dir, sim.Host(), 1)
	p.waitIdle(b, sim.calls, 0, 2*time.Minute)

	var prefixes []string
	for _, n := range sizes {
		prefixes = append(prefixes, fmt.Sprintf("ref%d-", n), fmt.Sprintf("floor%d-", n), fmt.Sprintf("vip%d-", n))
	}
	for i := range pbNamespaces {
		if err := createOK(ctx, env.Client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: pbNS(i)}}); err != nil {
			b.Fatal(err)
		}
	}
	startFloor(b)
	watch := watchStatus(b, &corev1.Service{}, prefixes...)
	meter := newCPUMeter(b, p)
	b.ResetTimer()
	for _, n := range sizes {
		var retries atomic.Int64
		refIPs := countIPAddresses(b)
		refAPICPU := apiserverProfile(b, dir, fmt.Sprintf("cpu-apiserver-ref-burst%d", n))
		cpu0 := meter.sample()
		api0 := scrapeAPIServer(b)
		t0 := time.Now()
		err := parallel(clients, n, func(i int) error {
			return pbCreate(ctx, pbService(pbNS(i), fmt.Sprintf("ref%d-%d", n, i), true), &retries)
		})
		if err != nil {
			b.Fatalf("reference burst: %v", err)
		}
		ref := time.Since(t0)
		refCPU, refByProc := meter.since(cpu0)
		refAPI := apiMetricsSince(api0, scrapeAPIServer(b), n)
		p.waitIdle(b, sim.calls, 0, time.Minute)
		// The reference Services go before vipgate's burst, so that both
		// start from a cluster of one size: the API server's ClusterIP
		// allocator lists every allocated address on each create, so a burst
		// that starts after n more Services pays more for each create.
		refAPICPU() // the API server profiles one thing at a time
		clearBurst(b, p, sim, clients, n, fmt.Sprintf("ref%d-", n))

		// The floor, between the two: any operator of vipgate's shape.
		// vipgate's profile while the floor's Services come: what Services
		// of another class cost it.
		floorProf := p.profile(b, fmt.Sprintf("cpu-floor-burst%d", n), "cpu")
		floorCPU0 := meter.sample()
		fprefix := fmt.Sprintf("floor%d-", n)
		t0 = time.Now()
		err = parallel(clients, n, func(i int) error {
			return pbCreate(ctx, floorService(pbNS(i), fmt.Sprintf("%s%d", fprefix, i)), &retries)
		})
		if err != nil {
			b.Fatalf("floor burst: %v", err)
		}
		floorCreated := time.Since(t0)
		floor := watch.waitN(b, fprefix, n, waitLimit(n)).Sub(t0)
		floorCPU, floorByProc := meter.since(floorCPU0)
		clearBurst(b, p, sim, clients, n, fprefix)
		floorProf()

		sim.ResetCounts()
		vipIPs := countIPAddresses(b)
		prefix := fmt.Sprintf("vip%d-", n)
		cpu := p.profile(b, fmt.Sprintf("cpu-burst%d", n), "cpu")
		apiCPU := apiserverProfile(b, dir, fmt.Sprintf("cpu-apiserver-burst%d", n))
		cpu0 = meter.sample()
		api0 = scrapeAPIServer(b)
		t0 = time.Now()
		err = parallel(clients, n, func(i int) error {
			return pbCreate(ctx, pbService(pbNS(i), fmt.Sprintf("%s%d", prefix, i), false), &retries)
		})
		if err != nil {
			b.Fatalf("vipgate burst: %v", err)
		}
		created := time.Since(t0)
		vip := watch.waitN(b, prefix, n, waitLimit(n)).Sub(t0)
		p.waitIdle(b, sim.calls, 0, waitLimit(n))
		vipCPU, vipByProc := meter.since(cpu0)
		vipAPI := apiMetricsSince(api0, scrapeAPIServer(b), n)
		cpu()
		apiCPU()
		counts := sim.Counts()
		gets, writes := 0, 0
		for k, c := range counts {
			if strings.HasPrefix(k, "GET ") {
				gets += c
			} else {
				writes += c
			}
		}
		lat := sortedLatencies(watch.times(prefix), t0)
		b.ReportMetric(ref.Seconds(), fmt.Sprintf("burst%d-ref-s", n))
		b.ReportMetric(vip.Seconds(), fmt.Sprintf("burst%d-vipgate-s", n))
		b.ReportMetric(created.Seconds(), fmt.Sprintf("burst%d-create-s", n))
		b.ReportMetric(vip.Seconds()/ref.Seconds(), fmt.Sprintf("burst%d-ratio", n))
		b.ReportMetric(floor.Seconds(), fmt.Sprintf("burst%d-floor-s", n))
		b.ReportMetric(floor.Seconds()/ref.Seconds(), fmt.Sprintf("burst%d-floor-ratio", n))
		b.ReportMetric(float64(gets)/float64(n), fmt.Sprintf("burst%d-gets-per-svc", n))
		b.ReportMetric(float64(writes)/float64(n), fmt.Sprintf("burst%d-writes-per-svc", n))
		for _, proc := range []string{"apiserver", "vipgate"} {
			if v, ok := vipByProc[proc]; ok {
				b.ReportMetric(1000*v/float64(n), fmt.Sprintf("burst%d-%s-cpu-ms-per-svc", n, proc))
			}
			if v, ok := floorByProc[proc]; ok {
				b.ReportMetric(1000*v/float64(n), fmt.Sprintf("burst%d-floor-%s-cpu-ms-per-svc", n, proc))
			}
			if v, ok := refByProc[proc]; ok {
				b.ReportMetric(1000*v/float64(n), fmt.Sprintf("burst%d-ref-%s-cpu-ms-per-svc", n, proc))
			}
		}
		b.Logf("%d Services by %d clients: reference (class %s) created in %s; vipgate's created in %s, all VIPs after %s (ratio %.2f, goal ≤ 1.3 × ref + 1 s = %.1f s); VIP after create (from the burst's start) p50 %s p99 %s; %d create retries; controller calls %s",
			n, clients, otherLBClass, ref.Round(time.Millisecond), created.Round(time.Millisecond), vip.Round(time.Millisecond),
			vip.Seconds()/ref.Seconds(), 1.3*ref.Seconds()+1, lat(0.5), lat(0.99), retries.Load(), fmtCounts(counts))
		b.Logf("%d Services: the floor (a webhook call adding a finalizer and a status write per Service, in this process, no controller) created in %s, all VIPs after %s (ratio %.2f); vipgate / floor %.2f; CPU until all VIPs: %s",
			n, floorCreated.Round(time.Millisecond), floor.Round(time.Millisecond), floor.Seconds()/ref.Seconds(), vip.Seconds()/floor.Seconds(), floorCPU)
		b.Logf("%d Services: ClusterIP addresses allocated before the reference burst: %d, before vipgate's: %d", n, refIPs, vipIPs)
		b.Logf("%d Services: CPU used by the reference burst (until created): %s; by vipgate's (until idle): %s", n, refCPU, vipCPU)
		b.Logf("%d Services: API server, reference burst (until created): %s", n, refAPI)
		b.Logf("%d Services: API server, vipgate's burst (until idle): %s", n, vipAPI)
	}
	b.StopTimer()
	rss, hwm := p.memMiB(b)
	b.ReportMetric(rss, "rss-MiB")
	b.ReportMetric(hwm, "hwm-MiB")
}

// sortedLatencies returns the p-quantile of (time - t0) over times.
func sortedLatencies(times map[string]time.Time, t0 time.Time) func(p float64) time.Duration {
	var d []time.Duration
	for _, t := range times {
		d = append(d, t.Sub(t0))
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return func(p float64) time.Duration {
		if len(d) == 0 {
			return 0
		}
		i := min(len(d)-1, max(0, int(float64(len(d))*p+0.999999)-1))
		return d[i].Round(time.Millisecond)
	}
}

// fmtCounts prints controller call counts sorted by key, with the total.
func fmtCounts(c map[string]int) string {
	keys := make([]string, 0, len(c))
	total := 0
	for k, n := range c {
		keys = append(keys, k)
		total += n
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "%s=%d ", k, c[k])
	}
	fmt.Fprintf(&sb, "(total %d)", total)
	return sb.String()
}

// clearBurst deletes the n Services of a burst (names prefix0 … prefix<n-1>,
// as pbNS spreads them) outside the benchmark's timer, and waits until
// vipgate is idle again, so the next burst starts from the same cluster.
func clearBurst(b *testing.B, p *vipgateProc, sim *recSim, clients, n int, prefix string) {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	removeServices(b, clients, n, func(i int) (string, string) { return pbNS(i), fmt.Sprintf("%s%d", prefix, i) })
	p.waitIdle(b, sim.calls, 0, time.Minute)
}

// removeServices deletes n Services (namespace and name of each from
// name(i)) with clients parallel clients and waits until the API server
// has none of them left.
func removeServices(b *testing.B, clients, n int, name func(i int) (string, string)) {
	b.Helper()
	ctx := context.Background()
	err := parallel(clients, n, func(i int) error {
		ns, nm := name(i)
		return client.IgnoreNotFound(env.Client.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: nm}}))
	})
	if err != nil {
		b.Fatalf("deleting the reference Services: %v", err)
	}
	deadline := time.Now().Add(waitLimit(n))
	for i := 0; i < n; {
		ns, nm := name(i)
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: nm}, &corev1.Service{})
		switch {
		case apierrors.IsNotFound(err):
			i++
		case time.Now().After(deadline):
			b.Fatalf("Service %s/%s still there (%v)", ns, nm, err)
		default:
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// countIPAddresses counts the API server's IPAddress objects (one per
// allocated ClusterIP): its allocator reads them all at every create, so two
// bursts are comparable only when they start from the same count.
func countIPAddresses(b *testing.B) int {
	b.Helper()
	var l networkingv1.IPAddressList
	if err := env.Client.List(context.Background(), &l); err != nil {
		b.Fatalf("listing IPAddresses: %v", err)
	}
	return len(l.Items)
}
