package bench

// This file: BenchmarkL7Ingresses, the Ingress reconciler on a real
// kube-apiserver with the simulated controller: 500 Ingresses of 3 paths each
// created at once on the SMALL shard; time until every one has its VIP in
// status, and controller writes per Ingress. Run it with:
//
//	go test -run '^$' -bench L7Ingresses -benchtime 1x ./tests/bench/

import (
	"context"
	"fmt"
	"slices"
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
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

const (
	l7bIngresses = 500
	l7bPaths     = 3
	l7bServices  = 10
	l7bWorkers   = 16
)

var l7bRun atomic.Int64

func BenchmarkL7Ingresses(b *testing.B) {
	for range b.N {
		l7bOnce(b)
	}
}

func l7bOnce(b *testing.B) {
	ctx := context.Background()
	sim, err := avisim.New(avisim.Options{Seed: avisim.DemoSeed(), Username: "admin", Password: "admin"})
	if err != nil {
		b.Fatal(err)
	}
	sim.StartTLS()
	defer sim.Close()
	class := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "avi-lb",
		Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
		Spec: networkingv1.IngressClassSpec{Controller: "ako.vmware.com/avi-lb"}}
	if err := env.Client.Create(ctx, class); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	_, stop := env.StartStoppableVipgate(b, operator.Options{Settings: harness.DemoSettings(b, sim.Host()),
		Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour})
	defer stop()

	ns := fmt.Sprintf("l7bench-%d", l7bRun.Add(1))
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		b.Fatal(err)
	}
	for i := range l7bServices {
		name := fmt.Sprintf("svc%d", i)
		if err := env.Client.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}}); err != nil {
			b.Fatal(err)
		}
		sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(8080))}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{fmt.Sprintf("10.9.%d.1", i)}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
				{Addresses: []string{fmt.Sprintf("10.9.%d.2", i)}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}}}
		if err := env.Client.Create(ctx, sl); err != nil {
			b.Fatal(err)
		}
	}
	sim.ResetCounts()

	created := make([]time.Time, l7bIngresses)
	b.ResetTimer()
	begin := time.Now()
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range l7bWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= l7bIngresses {
					return
				}
				ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("ing%d", i)}}
				rule := networkingv1.IngressRule{Host: fmt.Sprintf("app%d.bench.example.com", i),
					IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
				for p := range l7bPaths {
					rule.HTTP.Paths = append(rule.HTTP.Paths, networkingv1.HTTPIngressPath{Path: fmt.Sprintf("/p%d", p), PathType: ptr.To(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: fmt.Sprintf("svc%d", (i+p)%l7bServices),
							Port: networkingv1.ServiceBackendPort{Number: 80}}}})
				}
				ing.Spec.Rules = []networkingv1.IngressRule{rule}
				created[i] = time.Now()
				if err := env.Client.Create(ctx, ing); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// Poll for status (a safety limit, not an assertion on speed).
	seen := make([]time.Duration, l7bIngresses)
	done := 0
	deadline := time.Now().Add(10 * time.Minute)
	for done < l7bIngresses {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d Ingresses have status after 10 minutes", done, l7bIngresses)
		}
		var list networkingv1.IngressList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		for _, ing := range list.Items {
			var i int
			if _, err := fmt.Sscanf(ing.Name, "ing%d", &i); err != nil || seen[i] != 0 || len(ing.Status.LoadBalancer.Ingress) == 0 {
				continue
			}
			seen[i] = now.Sub(created[i])
			done++
		}
		time.Sleep(20 * time.Millisecond)
	}
	all := time.Since(begin)
	b.StopTimer()
	writes := sim.Writes()
	slices.Sort(seen)
	b.ReportMetric(all.Seconds(), "s-all-status")
	b.ReportMetric(float64(seen[len(seen)/2].Milliseconds()), "ms-p50-status")
	b.ReportMetric(float64(seen[len(seen)*99/100].Milliseconds()), "ms-p99-status")
	b.ReportMetric(float64(writes)/l7bIngresses, "writes/ingress")
	var calls int
	for _, n := range sim.Counts() {
		calls += n
	}
	b.ReportMetric(float64(calls)/l7bIngresses, "calls/ingress")
	b.Logf("%d Ingresses × %d paths: all with status in %s; %d controller writes (%v)", l7bIngresses, l7bPaths, all.Round(time.Millisecond), writes, writesByType(sim.Counts()))

	// The namespace is unique per run and left in place: deleting 500
	// Ingresses while the manager stops would only add noise to the log.
}

func writesByType(c map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range c {
		if len(k) > 4 && (k[:4] == "POST" || k[:3] == "PUT" || k[:6] == "DELETE") {
			out[k] = v
		}
	}
	return out
}
