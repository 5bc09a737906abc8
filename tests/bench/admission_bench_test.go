package bench

// This file: BenchmarkAdmission, vipgate's admission latency on a real
// kube-apiserver with a cluster-sized cache: 10k Services, 5k Ingresses and
// 20k Secrets. Run it with:
//
//	go test -run '^$' -bench Admission -benchtime 1x ./tests/bench/

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/inventory/loader"
	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
	"github.com/vipgate/vipgate/webhooks"
)

// Cluster size (DESIGN.md, "Targets"); BENCH_SERVICES, BENCH_INGRESSES and
// BENCH_SECRETS override the counts (admissionSizes).
var (
	numServices   = 10000
	numLBServices = 2000 // of numServices; the rest are ClusterIP
	numIngresses  = 5000
	numSecrets    = 20000 // numIngresses of them TLS Secrets the Ingresses use
)

// admissionSizes reads the cluster size from the environment.
func admissionSizes(b *testing.B) {
	numServices = envInt(b, "BENCH_SERVICES", 10000)
	numLBServices = numServices / 5
	numIngresses = envInt(b, "BENCH_INGRESSES", 5000)
	numSecrets = max(envInt(b, "BENCH_SECRETS", 20000), numIngresses)
}

const (
	numNamespaces   = 50
	numForeignVsVip = 1000 // VsVips of another cluster on the controller
	workers         = 32

	// Requests measured per scenario, independent of b.N: one pass is enough
	// for stable percentiles and keeps -benchtime 1x practical.
	webhookRounds = 2000
	apiRounds     = 500
)

// bigSeed is a controller with one VIP network large enough for every
// LoadBalancer Service to request its own address (a /16); both the
// admission and the L4 reconcile benchmarks use it.
const bigSeed = `
version: "22.1.3"
tenants: [admin]
users: [{username: admin, password: admin}]
clouds: [{name: Default-Cloud, vtype: CLOUD_VCENTER, ipam_networks: [vip-net-big]}]
vrfs: [{name: global, cloud: Default-Cloud}]
se_groups: [{name: Default-Group, cloud: Default-Cloud}]
networks:
- name: vip-net-big
  cloud: Default-Cloud
  vrf: global
  subnets:
  - prefix: 10.80.0.0/16
    static_ranges: [{begin: 10.80.0.10, end: 10.80.255.200, type: STATIC_IPS_FOR_VIP}]
`

// lbIP is the address LoadBalancer Service i requests.
func lbIP(i int) string { return fmt.Sprintf("10.80.%d.%d", i/100, 10+i%100) }

// freeIP is an address no Service or VsVip holds.
func freeIP(i int) string { return fmt.Sprintf("10.80.%d.%d", 200+i/150%40, 10+i%150) }

func nsName(i int) string { return fmt.Sprintf("adm-%02d", i%numNamespaces) }

// createOK creates obj, treating "already exists" as success so a second run
// in one process reuses the cluster.
func createOK(ctx context.Context, c client.Client, obj client.Object) error {
	if err := c.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("%T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

func selfSigned(b *testing.B) (crt, key []byte) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench.example.com"},
		DNSNames: []string{"*.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		b.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

func lbService(ns, name, ip string) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerIP: ip,
			AllocateLoadBalancerNodePorts: ptr.To(false),
			Ports:                         []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
}

func ingress(ns, name, host, secret string) *networkingv1.Ingress {
	return &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("avi-lb"),
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: secret}},
			Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}},
			}}}},
		},
	}
}

// populate fills the controller and the cluster. LoadBalancer Services and
// Ingresses go through vipgate's webhooks, so vipgate must be running.
func populate(b *testing.B, e *harness.Env, op *operator.Operator) {
	ctx := context.Background()
	c := e.Client
	start := time.Now()
	if err := createOK(ctx, c, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "avi-lb"}, Spec: networkingv1.IngressClassSpec{Controller: webhooks.LBClass}}); err != nil {
		b.Fatal(err)
	}
	for i := range numNamespaces {
		if err := createOK(ctx, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName(i)}}); err != nil {
			b.Fatal(err)
		}
	}
	crt, key := selfSigned(b)
	err := harness.Parallel(workers, numSecrets, func(i int) error {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: nsName(i), Name: fmt.Sprintf("secret-%d", i)}, Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{"token": []byte(strconv.Itoa(i))}}
		if i < numIngresses {
			s.Name, s.Type = fmt.Sprintf("ing-%d-tls", i), corev1.SecretTypeTLS
			s.Data = map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}
		}
		return createOK(ctx, c, s)
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d Secrets created in %s", numSecrets, time.Since(start).Round(time.Millisecond))

	t0 := time.Now()
	err = harness.Parallel(workers, numServices, func(i int) error {
		if i < numLBServices {
			return createOK(ctx, c, lbService(nsName(i), fmt.Sprintf("lb-%d", i), lbIP(i)))
		}
		return createOK(ctx, c, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: nsName(i), Name: fmt.Sprintf("svc-%d", i)},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d Services (%d LoadBalancer with a requested IP) created in %s", numServices, numLBServices, time.Since(t0).Round(time.Millisecond))

	// Ingresses read their Secret's summary from vipgate's cache: wait for it
	// first. The cache holds the TLS Secrets only (the informer asks for
	// type kubernetes.io/tls), one per Ingress.
	waitCount(b, op, "TLS Secrets", func() (int, error) {
		var l corev1.SecretList
		err := op.Manager.GetCache().List(ctx, &l, client.UnsafeDisableDeepCopy)
		return len(l.Items), err
	}, numIngresses)
	t0 = time.Now()
	err = harness.Parallel(workers, numIngresses, func(i int) error {
		return createOK(ctx, c, ingress(nsName(i), fmt.Sprintf("ing-%d", i), fmt.Sprintf("ing-%d.example.com", i), fmt.Sprintf("ing-%d-tls", i)))
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d Ingresses created in %s; cluster populated in %s", numIngresses, time.Since(t0).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// waitCount waits until count() reaches want (vipgate's informers catch up).
func waitCount(b *testing.B, op *operator.Operator, what string, count func() (int, error), want int) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		n, err := count()
		if err == nil && n >= want {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("vipgate's cache holds %d %s, want %d (err %v)", n, what, want, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// percentile returns the p-quantile (0<p<=1) of sorted durations in ms.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}

func review(uid string, gvk metav1.GroupVersionKind, gvr metav1.GroupVersionResource, obj kruntime.Object, ns, name string) []byte {
	raw, _ := json.Marshal(obj)
	out, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: types.UID(uid), Kind: gvk, Resource: gvr, Namespace: ns, Name: name,
			Operation: admissionv1.Create, Object: kruntime.RawExtension{Raw: raw}},
	})
	return out
}

// BenchmarkAdmission measures admission with a populated cache: straight to
// the webhook server over TLS (Service with a free IP, Service with a taken
// IP, Ingress with an existing TLS Secret) and through the API server as
// dry-run creates. Metrics: p50-ms/p99-ms at the webhook (all three kinds),
// per-kind p99, api-p50-ms/api-p99-ms through the API server (and
// api-ref-p50-ms/api-ref-p99-ms: a Service of another class, which calls
// no webhook, created the same way), allocs/req
// (process-wide Mallocs per webhook request, so the test client's own
// allocations are included), rss-MiB (resident set of the whole test process:
// vipgate, avisim and the clients, so an upper bound for vipgate) and heap-MiB (heap in use after the caches filled;
// the process also holds avisim and the test client).
func BenchmarkAdmission(b *testing.B) {
	ctx := context.Background()
	admissionSizes(b)
	e := env

	seed, err := avisim.ParseSeed([]byte(bigSeed))
	if err != nil {
		b.Fatal(err)
	}
	sim, err := avisim.New(avisim.Options{Seed: seed, Username: "admin", Password: "admin"})
	if err != nil {
		b.Fatal(err)
	}
	sim.StartTLS()
	b.Cleanup(sim.Close)
	settings := harness.DemoSettings(b, sim.Host())
	settings.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "vip-net-big"}}
	cc, err := session.New(ctx, settings.ControllerSettings, harness.SimCredentials(sim), session.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cc.Close)
	// Another cluster's VsVips, so the inventory's in-use map is not empty.
	err = harness.Parallel(workers, numForeignVsVip, func(i int) error {
		return cc.Create(ctx, "vsvip", map[string]any{
			"name": fmt.Sprintf("other--vs-%d", i), "cloud_ref": "/api/cloud/?name=Default-Cloud",
			"markers": []any{map[string]any{"key": "created_by", "values": []string{"vipgate-other"}}},
			"vip": []any{map[string]any{"vip_id": "1", "ip_address": map[string]any{"addr": fmt.Sprintf("10.80.%d.%d", 100+i/100, 10+i%100), "type": "V4"},
				"ipam_network_subnet": map[string]any{"network_ref": "/api/network/?name=vip-net-big"}}},
		}, "", nil)
	})
	if err != nil {
		b.Fatal(err)
	}
	inv := loader.NewCache(func(ctx context.Context) (*inventory.Snapshot, error) {
		return loader.Load(ctx, cc, settings)
	}, time.Hour)
	if err := inv.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("inventory: %d VIPs in use", len(inv.Snapshot().InUse))

	// Admission only: no reconcilers, so 2k LoadBalancer Services do not
	// compete with the measurement by allocating VIPs.
	op := e.StartVipgate(b, operator.Options{Settings: settings, AdmissionOnly: true, Inventory: inv, InventoryStaleAfter: 24 * time.Hour})
	populate(b, e, op)
	waitCount(b, op, "Services", func() (int, error) {
		var l corev1.ServiceList
		err := op.Manager.GetCache().List(ctx, &l)
		return len(l.Items), err
	}, numServices)
	waitCount(b, op, "Ingresses", func() (int, error) {
		var l networkingv1.IngressList
		err := op.Manager.GetCache().List(ctx, &l)
		return len(l.Items), err
	}, numIngresses)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapMiB := float64(ms.HeapInuse) / (1 << 20)

	// Requests straight to the webhook server, as the API server sends them.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.CAData)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: e.WebhookHost, MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 4}}
	base := "https://" + net.JoinHostPort(e.WebhookHost, strconv.Itoa(e.WebhookPort))
	svcGVK, svcGVR := metav1.GroupVersionKind{Version: "v1", Kind: "Service"}, metav1.GroupVersionResource{Version: "v1", Resource: "services"}
	ingGVK, ingGVR := metav1.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}, metav1.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}
	type scenario struct {
		name, path string
		bodies     [][]byte
		allowed    bool
		lat        []time.Duration
	}
	scen := []*scenario{
		{name: "svc-free", path: webhooks.PathValidateService, allowed: true},
		{name: "svc-taken", path: webhooks.PathValidateService, allowed: false},
		{name: "ing", path: webhooks.PathValidateIngress, allowed: true},
	}
	for i := range webhookRounds {
		ns := nsName(i)
		scen[0].bodies = append(scen[0].bodies, review(fmt.Sprintf("f%d", i), svcGVK, svcGVR, lbService(ns, fmt.Sprintf("probe-%d", i), freeIP(i)), ns, fmt.Sprintf("probe-%d", i)))
		scen[1].bodies = append(scen[1].bodies, review(fmt.Sprintf("t%d", i), svcGVK, svcGVR, lbService(ns, fmt.Sprintf("probe-%d", i), lbIP(i%numLBServices)), ns, fmt.Sprintf("probe-%d", i)))
		j := i % numIngresses
		ins := nsName(j)
		scen[2].bodies = append(scen[2].bodies, review(fmt.Sprintf("i%d", i), ingGVK, ingGVR, ingress(ins, fmt.Sprintf("probe-%d", i), fmt.Sprintf("probe-%d.example.com", i), fmt.Sprintf("ing-%d-tls", j)), ins, fmt.Sprintf("probe-%d", i)))
	}
	post := func(s *scenario, i int, check bool) time.Duration {
		t0 := time.Now()
		resp, err := hc.Post(base+s.path, "application/json", bytes.NewReader(s.bodies[i]))
		if err != nil {
			b.Fatal(err)
		}
		var body []byte
		if check {
			body, _ = io.ReadAll(resp.Body)
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
		}
		resp.Body.Close()
		d := time.Since(t0)
		if check {
			checkReview(b, s.name, resp.StatusCode, body, s.allowed)
		}
		return d
	}
	// Warm up (connections, lazily built paths) and check the answers once.
	for _, s := range scen {
		for i := range 20 {
			post(s, i, true)
		}
	}

	b.ReportAllocs()
	b.ResetTimer()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	requests := 0
	for range b.N {
		for i := range webhookRounds {
			for _, s := range scen {
				s.lat = append(s.lat, post(s, i, false))
				requests++
			}
		}
	}
	runtime.ReadMemStats(&after)
	b.StopTimer()
	var all []time.Duration
	for _, s := range scen {
		slices.Sort(s.lat)
		all = append(all, s.lat...)
		b.ReportMetric(percentile(s.lat, 0.50), s.name+"-p50-ms")
		b.ReportMetric(percentile(s.lat, 0.99), s.name+"-p99-ms")
	}
	slices.Sort(all)
	b.ReportMetric(percentile(all, 0.50), "p50-ms")
	b.ReportMetric(percentile(all, 0.99), "p99-ms")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(requests), "allocs/req")
	b.ReportMetric(heapMiB, "heap-MiB")
	b.ReportMetric(rssMiB(b), "rss-MiB")

	// Through the API server: dry-run creates (mutating + validating webhooks, nothing stored),
	// next to the same create of a Service of another class, which calls no
	// webhook: the API server's own time at this size (its ClusterIP
	// allocator, etcd, the machine's load), to tell it from vipgate's part.
	var api, ref []time.Duration
	for i := range apiRounds {
		ns := nsName(i)
		other := lbService(ns, fmt.Sprintf("dry-ref-%d", i), freeIP(i))
		other.Spec.LoadBalancerClass = ptr.To(otherLBClass)
		t0 := time.Now()
		if err := e.Client.Create(ctx, other, client.DryRunAll); err != nil {
			b.Fatalf("dry-run %s: %v", other.Name, err)
		}
		ref = append(ref, time.Since(t0))
		objs := []struct {
			obj     client.Object
			allowed bool
		}{
			{lbService(ns, fmt.Sprintf("dry-free-%d", i), freeIP(i)), true},
			{lbService(ns, fmt.Sprintf("dry-taken-%d", i), lbIP(i%numLBServices)), false},
			// In the namespace of the Secret it names (fewer Ingresses than rounds at small sizes).
			{ingress(nsName(i%numIngresses), fmt.Sprintf("dry-ing-%d", i), fmt.Sprintf("dry-%d.example.com", i), fmt.Sprintf("ing-%d-tls", i%numIngresses)), true},
		}
		for _, o := range objs {
			t0 := time.Now()
			err := e.Client.Create(ctx, o.obj, client.DryRunAll)
			api = append(api, time.Since(t0))
			if (err == nil) != o.allowed {
				b.Fatalf("dry-run %s: allowed=%v, err %v", o.obj.GetName(), o.allowed, err)
			}
		}
	}
	slices.Sort(api)
	b.ReportMetric(percentile(api, 0.50), "api-p50-ms")
	b.ReportMetric(percentile(api, 0.99), "api-p99-ms")
	slices.Sort(ref)
	b.ReportMetric(percentile(ref, 0.50), "api-ref-p50-ms")
	b.ReportMetric(percentile(ref, 0.99), "api-ref-p99-ms")
	b.ReportMetric(float64(numServices), "services")
	b.ReportMetric(float64(numIngresses), "ingresses")
	b.ReportMetric(float64(numSecrets), "secrets")
}

// rssMiB is the process's resident set size, from /proc/self/status.
func rssMiB(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatalf("reading RSS: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if kb, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")))
			if err != nil {
				b.Fatalf("parsing %q: %v", line, err)
			}
			return float64(n) / 1024
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// checkReview fails b unless a webhook answered an AdmissionReview with the
// verdict a scenario expects.
func checkReview(b *testing.B, name string, status int, body []byte, allowed bool) {
	b.Helper()
	var rev admissionv1.AdmissionReview
	if status != http.StatusOK || json.Unmarshal(body, &rev) != nil || rev.Response == nil || rev.Response.Allowed != allowed {
		b.Fatalf("%s: status %d, want allowed=%v: %s", name, status, allowed, body)
	}
}
