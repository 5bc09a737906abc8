package bench

// This file: what the process benchmarks (burst, L7, restart) put into the
// cluster, their sizes (environment variables, the sizes by
// default), and a watch that records when objects first show status.

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
	"github.com/vipgate/vipgate/webhooks"
)

const (
	// pbNamespaces spread the process benchmarks' objects, as in a cluster.
	pbNamespaces = 50
	// pbPaths per Ingress.
	pbPaths = 3
	// pbClass is the IngressClass of vipgate's controller.
	pbClass = "avi-lb"
	// otherLBClass is a loadBalancerClass vipgate neither admits nor reconciles.
	otherLBClass = "example.com/other-lb"
)

// envInt is the integer in environment variable name, else def.
func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		b.Fatalf("%s=%q: want a count", name, v)
	}
	return n
}

// envInts is the comma-separated integers in name, else def.
func envInts(b *testing.B, name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want counts separated by commas", name, v)
		}
		out = append(out, n)
	}
	return out
}

var claimed atomic.Pointer[string]

// claimCluster makes sure only one process benchmark runs on this API
// server: each starts a vipgate that would reconcile what another left
// behind onto its own simulator. make bench runs one benchmark per process.
func claimCluster(b *testing.B) {
	b.Helper()
	name := b.Name()
	if !claimed.CompareAndSwap(nil, &name) && *claimed.Load() != name {
		b.Fatalf("%s already ran on this API server: run one process benchmark per go test (make bench BENCHMARKS=...)", *claimed.Load())
	}
}

// pbNS is the namespace of object i of a benchmark.
func pbNS(i int) string { return fmt.Sprintf("pb-%02d", i%pbNamespaces) }

// pbCreate creates obj, retrying (at most 5 times) what a loaded machine
// answers transiently: a webhook call that timed out, a server timeout, a
// throttle. It counts the retries in retries.
func pbCreate(ctx context.Context, obj client.Object, retries *atomic.Int64) error {
	for attempt := 0; ; attempt++ {
		err := env.Client.Create(ctx, obj)
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		transient := apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) || apierrors.IsTimeout(err) ||
			strings.Contains(err.Error(), "failed calling webhook")
		if !transient || attempt == 4 {
			return fmt.Errorf("%T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
		}
		retries.Add(1)
		obj.SetResourceVersion("")
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
	}
}

// pbBase creates the namespaces, the IngressClass and one backend Service
// "web" (with an EndpointSlice of two ready pods) per namespace.
func pbBase(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	class := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: pbClass}, Spec: networkingv1.IngressClassSpec{Controller: webhooks.LBClass}}
	if err := createOK(ctx, env.Client, class); err != nil {
		b.Fatal(err)
	}
	err := parallel(16, pbNamespaces, func(i int) error {
		ns := pbNS(i)
		if err := createOK(ctx, env.Client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
		if err := createOK(ctx, env.Client, svc); err != nil {
			return err
		}
		ready := discoveryv1.EndpointConditions{Ready: ptr.To(true)}
		return createOK(ctx, env.Client, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](8080)}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{fmt.Sprintf("10.244.%d.1", i)}, Conditions: ready},
				{Addresses: []string{fmt.Sprintf("10.244.%d.2", i)}, Conditions: ready}},
		})
	})
	if err != nil {
		b.Fatal(err)
	}
}

// pbSecure says whether Ingress i has TLS: every other one, so shards hold
// both secure hosts (SNI children, certificates) and plain ones.
func pbSecure(i int) bool { return i%2 == 0 }

// pbSecrets creates n Secrets: the TLS Secret of each secure Ingress among
// the first ingresses (small ECDSA certificate), the rest Opaque.
func pbSecrets(b *testing.B, n, ingresses, clients int) {
	b.Helper()
	ctx := context.Background()
	crt, key := selfSigned(b)
	var retries atomic.Int64
	tls := 0
	for i := range ingresses {
		if pbSecure(i) {
			tls++
		}
	}
	n = max(n, tls)
	t0 := time.Now()
	err := parallel(clients, n, func(i int) error {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: pbNS(i), Name: fmt.Sprintf("opaque-%d", i)}, Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{"token": []byte(strconv.Itoa(i))}}
		if j := 2 * i; i < tls {
			s.Namespace, s.Name, s.Type = pbNS(j), pbSecretName(j), corev1.SecretTypeTLS
			s.Data = map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}
		}
		return pbCreate(ctx, s, &retries)
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d Secrets (%d TLS) created in %s", n, tls, time.Since(t0).Round(time.Millisecond))
}

func pbSecretName(i int) string { return fmt.Sprintf("ing-%d-tls", i) }

// pbHost is the host of Ingress i.
func pbHost(i int) string { return fmt.Sprintf("ing-%d.bench.example.com", i) }

// pbService is LoadBalancer Service i: vipgate's (no class; vipgate is the
// default L4 controller) or of otherLBClass. No node ports: ClusterIP mode
// needs none, and the API server's node-port range (2,768) would refuse
// creates long before 10,000 Services.
func pbService(ns, name string, other bool) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, AllocateLoadBalancerNodePorts: ptr.To(false),
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}}},
	}
	if other {
		s.Spec.LoadBalancerClass = ptr.To(otherLBClass)
	}
	return s
}

// pbIngress is Ingress i: one host, pbPaths paths to the namespace's "web",
// TLS with its own Secret when pbSecure(i).
func pbIngress(i int) *networkingv1.Ingress {
	host := pbHost(i)
	rule := networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
	for p := range pbPaths {
		rule.HTTP.Paths = append(rule.HTTP.Paths, networkingv1.HTTPIngressPath{Path: fmt.Sprintf("/p%d", p), PathType: ptr.To(networkingv1.PathTypePrefix),
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}})
	}
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: pbNS(i), Name: fmt.Sprintf("ing-%d", i)},
		Spec:       networkingv1.IngressSpec{IngressClassName: ptr.To(pbClass), Rules: []networkingv1.IngressRule{rule}},
	}
	if pbSecure(i) {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: pbSecretName(i)}}
	}
	return ing
}

// parallel is harness.Parallel (a local name so the benchmarks' client
// count reads in one place).
func parallel(workers, n int, fn func(i int) error) error { return harness.Parallel(workers, n, fn) }

// statusWatch records when each object of one kind whose name starts with
// a prefix first shows a load balancer in status, from an informer on the
// API server (events, no polling).
type statusWatch struct {
	mu   sync.Mutex
	at   map[string]map[string]time.Time // prefix → ns/name → first seen
	cond *sync.Cond
}

// watchStatus watches Services or Ingresses (obj) in every namespace.
func watchStatus(b *testing.B, obj client.Object, prefixes ...string) *statusWatch {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	// Uncompressed, as vipgate's own client: the observer should not make
	// the API server gzip every event it watches.
	cfg := rest.CopyConfig(env.Cfg)
	cfg.DisableCompression = true
	c, err := cache.New(cfg, cache.Options{Scheme: operator.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	inf, err := c.GetInformer(ctx, obj)
	if err != nil {
		b.Fatal(err)
	}
	w := &statusWatch{at: map[string]map[string]time.Time{}}
	for _, p := range prefixes {
		w.at[p] = map[string]time.Time{}
	}
	w.cond = sync.NewCond(&w.mu)
	record := func(o any) {
		var name string
		var has bool
		switch o := o.(type) {
		case *corev1.Service:
			name, has = o.Name, len(o.Status.LoadBalancer.Ingress) > 0
		case *networkingv1.Ingress:
			name, has = o.Name, len(o.Status.LoadBalancer.Ingress) > 0
		}
		if !has {
			return
		}
		now := time.Now()
		key := o.(client.Object).GetNamespace() + "/" + name
		w.mu.Lock()
		defer w.mu.Unlock()
		for p, seen := range w.at {
			if strings.HasPrefix(name, p) {
				if _, ok := seen[key]; !ok {
					seen[key] = now
					w.cond.Broadcast()
				}
			}
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: record, UpdateFunc: func(_, n any) { record(n) }}); err != nil {
		b.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		b.Fatal("status informer did not sync")
	}
	return w
}

// waitN waits until n objects of prefix have status and returns when the
// last of them got it; it fails the benchmark after limit.
func (w *statusWatch) waitN(b *testing.B, prefix string, n int, limit time.Duration) time.Time {
	b.Helper()
	timer := time.AfterFunc(limit, func() { w.mu.Lock(); w.cond.Broadcast(); w.mu.Unlock() })
	defer timer.Stop()
	deadline := time.Now().Add(limit)
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.at[prefix]) < n {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d objects %s* have status after %s", len(w.at[prefix]), n, prefix, limit)
		}
		w.cond.Wait()
	}
	var last time.Time
	for _, t := range w.at[prefix] {
		if t.After(last) {
			last = t
		}
	}
	return last
}

// times returns when each object of prefix first had status.
func (w *statusWatch) times(prefix string) map[string]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]time.Time, len(w.at[prefix]))
	for k, v := range w.at[prefix] {
		out[k] = v
	}
	return out
}

// waitLimit bounds a wait for n objects: generous (a broken run ends, a
// slow one on a loaded machine does not), never an assertion on speed.
func waitLimit(n int) time.Duration { return 10*time.Minute + time.Duration(n)*150*time.Millisecond }

func TestCPUSeconds(t *testing.T) {
	tests := []struct {
		stat string
		want float64
	}{
		// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
		{"4242 (kube-apiserver) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 566 0 0 20 0 12 0", 18},
		// A command name with spaces and a parenthesis.
		{"7 (a b) c)) R 1 7 7 0 -1 0 0 0 0 0 250 50 0 0", 3},
		{"7 (short) R 1", -1},
		{"no parenthesis", -1},
	}
	for _, tt := range tests {
		if got := cpuSeconds(tt.stat); got != tt.want {
			t.Errorf("cpuSeconds(%q) = %v, want %v", tt.stat, got, tt.want)
		}
	}
}

func TestArgValue(t *testing.T) {
	args := []string{"/bin/kube-apiserver", "--secure-port=6443", "--etcd-servers", "http://127.0.0.1:2379"}
	tests := []struct{ name, want string }{
		{"--secure-port", "6443"},
		{"--etcd-servers", "http://127.0.0.1:2379"},
		{"--bind-address", ""},
	}
	for _, tt := range tests {
		if got := argValue(args, tt.name); got != tt.want {
			t.Errorf("argValue(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
