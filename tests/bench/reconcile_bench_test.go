package bench

// This file: BenchmarkReconcileL4, the Service reconciler on a real
// kube-apiserver with the simulated controller (DESIGN.md, "Targets"):
// time from Service create to status.loadBalancer, 1,000 Services created at
// once, controller calls per Service and writes on restart. Run it with:
//
//	go test -run '^$' -bench ReconcileL4 -benchtime 1x ./tests/bench/

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/tests/harness"
)

const (
	// rlSequential Services are created one after another for time-to-VIP percentiles.
	rlSequential = 100
	// rlBurst Services are created at once by rlWorkers clients.
	rlBurst   = 1000
	rlWorkers = 32
	// rlLimit bounds every wait, so a broken run ends instead of hanging.
	rlLimit = 5 * time.Minute
)

// rlSettings are the demo settings on bigSeed's vip-net-big with vipgate NOT the
// default L4 controller: the benchmark's Services name vipgate's class, so
// LoadBalancer Services other benchmarks of the package leave behind are not
// reconciled onto this benchmark's controller.
func rlSettings(b *testing.B, host string) *config.Settings {
	s := harness.DemoSettings(b, host)
	s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "vip-net-big"}}
	s.L4Settings.DefaultLBController = false
	return s
}

// rlService is a LoadBalancer Service of vipgate's class with one TCP port.
func rlService(ns, name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Type:              corev1.ServiceTypeLoadBalancer,
			LoadBalancerClass: ptr.To(ownership.LBClass),
			Ports:             []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
		},
	}
}

// rlSlice is the Service's EndpointSlice with two ready endpoints, as the
// endpoint-slice controller (absent in envtest) would write it.
func rlSlice(svc *corev1.Service, i int) *discoveryv1.EndpointSlice {
	ep := func(a string) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}
	}
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name + "-1",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](8080)}},
		Endpoints:   []discoveryv1.Endpoint{ep(fmt.Sprintf("10.%d.%d.1", 100+i/250, i%250)), ep(fmt.Sprintf("10.%d.%d.2", 100+i/250, i%250))},
	}
}

// vipWatch records when each Service of a namespace first shows a VIP in
// status, from an informer on the API server (events, no polling
// granularity; the informer re-establishes its watch if the server ends it).
type vipWatch struct {
	mu   sync.Mutex
	at   map[string]time.Time
	cond *sync.Cond
}

func watchVIPs(b *testing.B, ns string) *vipWatch {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	c, err := cache.New(env.Cfg, cache.Options{Scheme: operator.Scheme(), DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		b.Fatal(err)
	}
	inf, err := c.GetInformer(ctx, &corev1.Service{})
	if err != nil {
		b.Fatal(err)
	}
	v := &vipWatch{at: map[string]time.Time{}}
	v.cond = sync.NewCond(&v.mu)
	record := func(obj any) {
		svc, ok := obj.(*corev1.Service)
		if !ok || len(svc.Status.LoadBalancer.Ingress) == 0 {
			return
		}
		now := time.Now()
		v.mu.Lock()
		if _, seen := v.at[svc.Name]; !seen {
			v.at[svc.Name] = now
			v.cond.Broadcast()
		}
		v.mu.Unlock()
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    record,
		UpdateFunc: func(_, n any) { record(n) },
	}); err != nil {
		b.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		b.Fatal("Service informer did not sync")
	}
	return v
}

// waitN waits until n Services have VIPs and returns when the n-th got its
// own; it fails the benchmark after rlLimit.
func (v *vipWatch) waitN(b *testing.B, n int) time.Time {
	b.Helper()
	timer := time.AfterFunc(rlLimit, func() { v.mu.Lock(); v.cond.Broadcast(); v.mu.Unlock() })
	defer timer.Stop()
	deadline := time.Now().Add(rlLimit)
	v.mu.Lock()
	defer v.mu.Unlock()
	for len(v.at) < n {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d Services have VIPs", len(v.at), n)
		}
		v.cond.Wait()
	}
	var last time.Time
	for _, t := range v.at {
		if t.After(last) {
			last = t
		}
	}
	return last
}

// vipAt is when Service name first showed a VIP (zero if not yet).
func (v *vipWatch) vipAt(name string) time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.at[name]
}

// rlSettle waits until vipgate has gone quiet: neither reconciles nor
// controller calls moved for a second. Work left over from an earlier phase
// (or from Services other benchmarks left behind) then does not count in the next.
func rlSettle(b *testing.B, sim *avisim.Sim) {
	b.Helper()
	calls := func() int {
		n := 0
		for _, c := range sim.Counts() {
			n += c
		}
		return n
	}
	deadline := time.Now().Add(rlLimit)
	lastR, lastC, since := -1, -1, time.Now()
	for time.Since(since) < time.Second {
		if time.Now().After(deadline) {
			b.Fatalf("vipgate did not settle within %s", rlLimit)
		}
		r, c := harness.Reconciles(b, "service-"), calls()
		if r != lastR || c != lastC {
			lastR, lastC, since = r, c, time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rlMillis is the p-quantile of sorted durations in milliseconds.
func rlMillis(sorted []time.Duration, p float64) float64 {
	i := min(len(sorted)-1, max(0, int(float64(len(sorted))*p+0.999999)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}

// rlRelease deletes the benchmark's Services while vipgate still runs, so
// it releases their finalizers and the package's other benchmarks find a
// clean cluster; stragglers after rlLimit lose their finalizer by hand.
func rlRelease(b *testing.B, ns string) {
	ctx := context.Background()
	var svcs corev1.ServiceList
	if err := env.Client.List(ctx, &svcs, client.InNamespace(ns)); err != nil {
		b.Logf("cleanup: %v", err)
		return
	}
	_ = harness.Parallel(rlWorkers, len(svcs.Items), func(i int) error { return client.IgnoreNotFound(env.Client.Delete(ctx, &svcs.Items[i])) })
	deadline := time.Now().Add(rlLimit)
	for {
		var left corev1.ServiceList
		if err := env.Client.List(ctx, &left, client.InNamespace(ns)); err != nil || len(left.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			_ = harness.Parallel(rlWorkers, len(left.Items), func(i int) error {
				return env.Client.Patch(ctx, &left.Items[i], client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
			})
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// BenchmarkReconcileL4 measures, per iteration on a fresh simulated controller:
//
//   - p50-ms, p99-ms: Service create → status.loadBalancer set (watch event),
//     over rlSequential Services created one after another;
//   - burst-s: rlBurst Services created at once (rlWorkers clients) until
//     all have VIPs; burst-create-s is how long the creates alone took, and
//     ref-2000-creates-s how long as many plain ConfigMap creates take on this
//     API server (no webhook, no controller), ref-1000-other-lb-s how long
//     as many LoadBalancer Services of another class take (webhooks pass
//     them, vipgate does not reconcile them): the API server's own share;
//   - gets/svc, writes/svc, writes/object: controller calls during the burst
//     per Service, and writes per Avi object created (VsVip, Pool, VS);
//   - restart-writes: controller writes by a second vipgate started over the
//     synced Services (each reconciled again), and restart-s until it has.
//
// Targets (DESIGN.md): p50 < 100 ms, burst < 15 s, one write per changed
// object, zero writes on restart. Reported, not asserted.
func BenchmarkReconcileL4(b *testing.B) {
	ctx := context.Background()
	seed, err := avisim.ParseSeed([]byte(bigSeed))
	if err != nil {
		b.Fatal(err)
	}
	for iter := 0; iter < b.N; iter++ {
		sim, err := avisim.New(avisim.Options{Seed: seed, Username: "admin", Password: "admin"})
		if err != nil {
			b.Fatal(err)
		}
		sim.StartTLS()
		b.Cleanup(sim.Close)
		settings := rlSettings(b, sim.Host())
		opts := operator.Options{Settings: settings, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour}
		_, stop := env.StartStoppableVipgate(b, opts)
		rlSettle(b, sim)

		ns := fmt.Sprintf("rl-bench-%d-%d", time.Now().UnixNano()%1e6, iter)
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			b.Fatal(err)
		}
		vips := watchVIPs(b, ns)

		// (a) Sequential creates: latency of each to its VIP.
		b.ResetTimer()
		lat := make([]time.Duration, 0, rlSequential)
		for i := range rlSequential {
			svc := rlService(ns, fmt.Sprintf("seq-%03d", i))
			if err := env.Client.Create(ctx, rlSlice(svc, i)); err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			if err := env.Client.Create(ctx, svc); err != nil {
				b.Fatal(err)
			}
			vips.waitN(b, i+1)
			lat = append(lat, vips.vipAt(svc.Name).Sub(t0))
		}
		slices.Sort(lat)
		b.StopTimer()
		rlSettle(b, sim)

		// Reference for (b): the same number of plain creates (ConfigMaps, no
		// webhook, no controller) by the same clients, i.e. what the API server
		// and etcd on this machine manage at all.
		b0 := time.Now()
		err = harness.Parallel(rlWorkers, 2*rlBurst, func(i int) error {
			return env.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("ref-%04d", i)}})
		})
		if err != nil {
			b.Fatalf("reference creates: %v", err)
		}
		reference := time.Since(b0)
		// And as many LoadBalancer Services of another class: the API server's
		// Service path (ClusterIP and nodePort allocation, vipgate's webhooks,
		// which pass them) without vipgate reconciling them.
		b0 = time.Now()
		err = harness.Parallel(rlWorkers, rlBurst, func(i int) error {
			svc := rlService(ns, fmt.Sprintf("other-%04d", i))
			svc.Spec.LoadBalancerClass = ptr.To("example.com/other-lb")
			return env.Client.Create(ctx, svc)
		})
		if err != nil {
			b.Fatalf("reference Service creates: %v", err)
		}
		referenceSvc := time.Since(b0)
		rlSettle(b, sim)

		// (b, c) Burst: rlBurst Services (and their slices) at once.
		sim.ResetCounts()
		b.StartTimer()
		t0 := time.Now()
		err = harness.Parallel(rlWorkers, rlBurst, func(i int) error {
			svc := rlService(ns, fmt.Sprintf("burst-%04d", i))
			if err := env.Client.Create(ctx, rlSlice(svc, rlSequential+i)); err != nil {
				return err
			}
			return env.Client.Create(ctx, svc)
		})
		if err != nil {
			b.Fatalf("creating the burst: %v", err)
		}
		created := time.Since(t0)
		last := vips.waitN(b, rlSequential+rlBurst)
		burst := last.Sub(t0)
		b.StopTimer()
		rlSettle(b, sim)
		counts := sim.Counts()
		gets, writes := 0, 0
		for k, n := range counts {
			if strings.HasPrefix(k, "GET ") {
				gets += n
			} else {
				writes += n
			}
		}
		objects := 0
		for _, typ := range []string{"vsvip", "pool", "virtualservice"} {
			for _, o := range sim.Objects("admin", typ) {
				if n, _ := o["name"].(string); strings.Contains(n, "-burst-") {
					objects++
				}
			}
		}

		// (d) Restart: a second vipgate over every synced Service.
		stop()
		sim.ResetCounts()
		before := harness.Reconciles(b, "service-")
		r0 := time.Now()
		_, stop2 := env.StartStoppableVipgate(b, opts)
		for harness.Reconciles(b, "service-")-before < rlSequential+rlBurst {
			if time.Since(r0) > rlLimit {
				b.Fatalf("restarted vipgate reconciled %d of %d Services", harness.Reconciles(b, "service-")-before, rlSequential+rlBurst)
			}
			time.Sleep(20 * time.Millisecond)
		}
		restart := time.Since(r0)
		rlSettle(b, sim)
		restartWrites := sim.Writes()
		restartCounts := sim.Counts()

		b.ReportMetric(rlMillis(lat, 0.50), "p50-ms")
		b.ReportMetric(rlMillis(lat, 0.99), "p99-ms")
		b.ReportMetric(burst.Seconds(), "burst-s")
		b.ReportMetric(created.Seconds(), "burst-create-s")
		b.ReportMetric(reference.Seconds(), "ref-2000-creates-s")
		b.ReportMetric(referenceSvc.Seconds(), "ref-1000-other-lb-s")
		b.ReportMetric(float64(gets)/rlBurst, "gets/svc")
		b.ReportMetric(float64(writes)/rlBurst, "writes/svc")
		b.ReportMetric(float64(writes)/float64(max(objects, 1)), "writes/object")
		b.ReportMetric(float64(restartWrites), "restart-writes")
		b.ReportMetric(restart.Seconds(), "restart-s")
		b.Logf("burst: %d Services created by %d clients in %s, all VIPs after %s; controller calls %v; %d objects",
			rlBurst, rlWorkers, created.Round(time.Millisecond), burst.Round(time.Millisecond), counts, objects)
		b.Logf("restart: %d reconciles in %s; controller calls %v", rlSequential+rlBurst, restart.Round(time.Millisecond), restartCounts)

		rlRelease(b, ns)
		stop2()
		b.StartTimer()
	}
}
