package bench

// This file: the floor of BenchmarkBurst. It is the least work that any
// operator shaped like vipgate gives the API server for one Service:
//   - one mutating webhook call at create, which answers with a finalizer
//     and decodes nothing beyond the review;
//   - one status write, a merge patch with resourceVersion, once the
//     operator's informer shows the Service.
// It has no controller to call and nothing to judge. It runs inside the
// benchmark's process, against the same API server and on the same cores.
// A burst of it shows what share of vipgate's burst time any such operator
// pays on this machine, and whether the burst goal can be met here at all.

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"gomodules.xyz/jsonpatch/v2"
	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/vipgate/vipgate/operator"
)

const (
	// floorLBClass is the loadBalancerClass of the floor's Services.
	floorLBClass = "example.com/floor-lb"
	// floorFinalizer is what the floor's webhook adds, as vipgate adds its
	// cleanup finalizer at create.
	floorFinalizer = "bench.example.com/floor"
	floorHookPath  = "/floor"
	// floorWorkers matches vipgate's Service reconcilers (service_watch.go).
	floorWorkers = 8
)

// floorService is the floor's Service i, otherwise the same as pbService's.
func floorService(ns, name string) *corev1.Service {
	s := pbService(ns, name, true)
	s.Spec.LoadBalancerClass = ptr.To(floorLBClass)
	return s
}

// startFloor starts the floor operator: its webhook server (TLS, the
// harness's serving certificate), its webhook configuration, and its
// status writer. All of them stop at cleanup.
func startFloor(b *testing.B) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)

	cert, err := tls.LoadX509KeyPair(filepath.Join(env.CertDir, "tls.crt"), filepath.Join(env.CertDir, "tls.key"))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := tls.Listen("tcp", net.JoinHostPort(env.WebhookHost, "0"), &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(floorHookPath, &admission.Webhook{Handler: admission.HandlerFunc(func(context.Context, admission.Request) admission.Response {
		return admission.Patched("", jsonpatch.JsonPatchOperation{Operation: "add", Path: "/metadata/finalizers", Value: []string{floorFinalizer}})
	})})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })

	hook := &admv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-floor"},
		Webhooks: []admv1.MutatingWebhook{{
			Name:         "floor.bench.example.com",
			ClientConfig: admv1.WebhookClientConfig{URL: ptr.To("https://" + ln.Addr().String() + floorHookPath), CABundle: env.CAData},
			Rules: []admv1.RuleWithOperations{{Operations: []admv1.OperationType{admv1.Create},
				Rule: admv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"services"}, Scope: ptr.To(admv1.NamespacedScope)}}},
			MatchConditions: []admv1.MatchCondition{{Name: "floor-class",
				Expression: fmt.Sprintf("has(object.spec.loadBalancerClass) && object.spec.loadBalancerClass == '%s'", floorLBClass)}},
			SideEffects:             ptr.To(admv1.SideEffectClassNone),
			FailurePolicy:           ptr.To(admv1.Fail),
			TimeoutSeconds:          ptr.To[int32](10),
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	if err := env.Client.Create(ctx, hook); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = env.Client.Delete(context.Background(), hook) })

	// The writer's client and informer are configured as vipgate's: no
	// compression, managed fields dropped from the cache.
	cfg := rest.CopyConfig(env.Cfg)
	cfg.DisableCompression = true
	c, err := cache.New(cfg, cache.Options{Scheme: operator.Scheme(), DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		b.Fatal(err)
	}
	w, err := client.New(cfg, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	inf, err := c.GetInformer(ctx, &corev1.Service{})
	if err != nil {
		b.Fatal(err)
	}
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]())
	b.Cleanup(q.ShutDown)
	enqueue := func(o any) {
		if s, ok := o.(*corev1.Service); ok && ptr.Deref(s.Spec.LoadBalancerClass, "") == floorLBClass {
			q.Add(types.NamespacedName{Namespace: s.Namespace, Name: s.Name})
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, n any) { enqueue(n) }}); err != nil {
		b.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		b.Fatal("the floor's informer did not sync")
	}
	var addr atomic.Uint32
	for range floorWorkers {
		go func() {
			for {
				key, shutdown := q.Get()
				if shutdown {
					return
				}
				if err := floorSync(ctx, c, w, key, &addr); err != nil && ctx.Err() == nil {
					q.AddRateLimited(key)
				} else {
					q.Forget(key)
				}
				q.Done(key)
			}
		}()
	}
	waitFloorHook(b, ctx)
}

// floorSync writes one VIP to a floor Service's status, or takes its
// finalizer off once it is being deleted; each with a merge patch carrying
// the resourceVersion read, as vipgate's.
func floorSync(ctx context.Context, c cache.Cache, w client.Client, key types.NamespacedName, addr *atomic.Uint32) error {
	var s corev1.Service
	if err := c.Get(ctx, key, &s); err != nil {
		return client.IgnoreNotFound(err)
	}
	patch := client.MergeFromWithOptions(s.DeepCopy(), client.MergeFromWithOptimisticLock{})
	switch {
	case s.DeletionTimestamp != nil:
		if controllerutil.RemoveFinalizer(&s, floorFinalizer) {
			return client.IgnoreNotFound(w.Patch(ctx, &s, patch))
		}
	case len(s.Status.LoadBalancer.Ingress) == 0:
		n := addr.Add(1)
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: fmt.Sprintf("10.%d.%d.%d", 100+n>>16&0xff, n>>8&0xff, n&0xff)}}
		return client.IgnoreNotFound(w.Status().Patch(ctx, &s, patch))
	}
	return nil
}

// waitFloorHook waits until the API server calls the floor's webhook: a
// dry-run create comes back with the finalizer.
func waitFloorHook(b *testing.B, ctx context.Context) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s := floorService(pbNS(0), "floor-probe")
		err := env.Client.Create(ctx, s, client.DryRunAll)
		if err == nil && controllerutil.ContainsFinalizer(s, floorFinalizer) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the floor's webhook is not called after a minute (last create: %v, finalizers %v)", err, s.Finalizers)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
