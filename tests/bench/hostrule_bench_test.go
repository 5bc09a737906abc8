package bench

// This file: BenchmarkHostRuleAdmission, HostRule admission latency with 5k
// HostRules (and the Ingresses serving their hosts) in the cluster. Run it with:
//
//	go test -run '^$' -bench HostRuleAdmission -benchtime 1x ./tests/bench/

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/inventory/loader"
	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
	"github.com/vipgate/vipgate/webhooks"
)

// hostRule is a HostRule for fqdn naming a WAF policy, an application
// profile, a policy set, a DataScript and a certificate on the controller.
func hostRule(ns, name, fqdn, waf string) *v1beta1.HostRule {
	hr := &v1beta1.HostRule{TypeMeta: metav1.TypeMeta{APIVersion: "ako.vmware.com/v1beta1", Kind: "HostRule"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	hr.Spec.VirtualHost = v1beta1.HostRuleVirtualHost{Fqdn: fqdn, FqdnType: v1beta1.FqdnTypeExact, WAFPolicy: waf,
		ApplicationProfile: "System-Secure-HTTP", AnalyticsProfile: "System-Analytics-Profile", Datascripts: []string{"Default-PASV-FTP"},
		TLS: &v1beta1.HostRuleTLS{SSLKeyCertificate: v1beta1.HostRuleSSLKeyCertificate{Name: "System-Default-Cert", Type: v1beta1.CertTypeRef}, SSLProfile: "System-Standard"}}
	return hr
}

func plainIngress(ns, name, host string) *networkingv1.Ingress {
	pt := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: networkingv1.IngressSpec{
		IngressClassName: ptrTo("avi-lb"),
		Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &pt,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}},
		}}}}}}
}

func ptrTo[T any](v T) *T { return &v }

// hostRuleCount is BENCH_HOSTRULES, 5000 by default.
func hostRuleCount(b *testing.B) int {
	v := os.Getenv("BENCH_HOSTRULES")
	if v == "" {
		return 5000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		b.Fatalf("BENCH_HOSTRULES=%q: want a number of HostRules, at least 2", v)
	}
	return n
}

// BenchmarkHostRuleAdmission measures HostRule admission with BENCH_HOSTRULES
// (5000) HostRules and as many Ingresses serving their hosts in the cache,
// and 1000 custom WAF policies on the controller: straight to the webhook
// (a valid HostRule for a served host, one naming a missing WAF policy,
// one for a host another HostRule holds) and through the API server as
// dry-run creates. Metrics: p50-ms/p99-ms at the webhook, per scenario
// p99, api-p50-ms/api-p99-ms.
func BenchmarkHostRuleAdmission(b *testing.B) {
	ctx := context.Background()
	e := env
	n := hostRuleCount(b)
	sim := harness.StartSim(b, avisim.DemoSeed())
	settings := harness.DemoSettings(b, sim.Host())
	cc, err := session.New(ctx, settings.ControllerSettings, harness.SimCredentials(sim), session.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cc.Close)
	if err := harness.Parallel(workers, 1000, func(i int) error {
		return cc.Create(ctx, "wafpolicy", map[string]any{"name": fmt.Sprintf("waf-%d", i), "waf_profile_ref": "/api/wafprofile/?name=System-WAF-Profile"}, "", nil)
	}); err != nil {
		b.Fatal(err)
	}
	inv := loader.NewCache(func(ctx context.Context) (*inventory.Snapshot, error) { return loader.Load(ctx, cc, settings) }, time.Hour)
	if err := inv.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	op := e.StartVipgate(b, operator.Options{Settings: settings, AdmissionOnly: true, Inventory: inv, InventoryStaleAfter: 24 * time.Hour})

	start := time.Now()
	if err := createOK(ctx, e.Client, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "avi-lb"}, Spec: networkingv1.IngressClassSpec{Controller: webhooks.LBClass}}); err != nil {
		b.Fatal(err)
	}
	for i := range numNamespaces {
		if err := createOK(ctx, e.Client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName(i)}}); err != nil {
			b.Fatal(err)
		}
	}
	host := func(i int) string { return fmt.Sprintf("hr-%d.example.com", i) }
	if err := harness.Parallel(workers, n, func(i int) error {
		return createOK(ctx, e.Client, plainIngress(nsName(i), fmt.Sprintf("hr-ing-%d", i), host(i)))
	}); err != nil {
		b.Fatal(err)
	}
	waitCount(b, op, "Ingresses", func() (int, error) {
		var l networkingv1.IngressList
		err := op.Manager.GetCache().List(ctx, &l, client.UnsafeDisableDeepCopy)
		return len(l.Items), err
	}, n)
	// The first half of the hosts get a HostRule; probes use the second half.
	if err := harness.Parallel(workers, n/2, func(i int) error {
		return createOK(ctx, e.Client, hostRule(nsName(i), fmt.Sprintf("hr-%d", i), host(i), fmt.Sprintf("waf-%d", i%1000)))
	}); err != nil {
		b.Fatal(err)
	}
	if err := harness.Parallel(workers, n-n/2, func(i int) error {
		j := n/2 + i
		hr := hostRule(nsName(j), fmt.Sprintf("hr-%d", j), fmt.Sprintf("other-%d.example.com", j), "demo-waf")
		return createOK(ctx, e.Client, hr)
	}); err != nil {
		b.Fatal(err)
	}
	waitCount(b, op, "HostRules", func() (int, error) {
		var l v1beta1.HostRuleList
		err := op.Manager.GetCache().List(ctx, &l, client.UnsafeDisableDeepCopy)
		return len(l.Items), err
	}, n)
	b.Logf("%d Ingresses and %d HostRules created in %s", n, n, time.Since(start).Round(time.Millisecond))

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.CAData)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: e.WebhookHost, MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 4}}
	url := "https://" + net.JoinHostPort(e.WebhookHost, strconv.Itoa(e.WebhookPort)) + webhooks.PathValidateHostRule
	gvk := metav1.GroupVersionKind{Group: "ako.vmware.com", Version: "v1beta1", Kind: "HostRule"}
	gvr := metav1.GroupVersionResource{Group: "ako.vmware.com", Version: "v1beta1", Resource: "hostrules"}
	type scenario struct {
		name    string
		make    func(i int) *v1beta1.HostRule
		allowed bool
		bodies  [][]byte
		lat     []time.Duration
	}
	probe := func(i int) int { return n/2 + i%(n-n/2) }
	scen := []*scenario{
		{name: "hr-valid", allowed: true, make: func(i int) *v1beta1.HostRule {
			return hostRule(nsName(probe(i)), fmt.Sprintf("probe-%d", i), host(probe(i)), fmt.Sprintf("waf-%d", i%1000))
		}},
		{name: "hr-missing-waf", allowed: false, make: func(i int) *v1beta1.HostRule {
			return hostRule(nsName(probe(i)), fmt.Sprintf("probe-%d", i), host(probe(i)), "no-such-waf")
		}},
		{name: "hr-duplicate", allowed: false, make: func(i int) *v1beta1.HostRule {
			return hostRule(nsName(i), fmt.Sprintf("probe-%d", i), host(i%(n/2)), "demo-waf")
		}},
	}
	for i := range webhookRounds {
		for _, s := range scen {
			hr := s.make(i)
			s.bodies = append(s.bodies, review(fmt.Sprintf("%s-%d", s.name, i), gvk, gvr, hr, hr.Namespace, hr.Name))
		}
	}
	post := func(s *scenario, i int, check bool) time.Duration {
		t0 := time.Now()
		resp, err := hc.Post(url, "application/json", bytes.NewReader(s.bodies[i]))
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if check {
			checkReview(b, s.name, resp.StatusCode, body, s.allowed)
		}
		return d
	}
	for _, s := range scen {
		for i := range 20 {
			post(s, i, true)
		}
	}
	b.ResetTimer()
	for range b.N {
		for i := range webhookRounds {
			for _, s := range scen {
				s.lat = append(s.lat, post(s, i, false))
			}
		}
	}
	b.StopTimer()
	var all []time.Duration
	for _, s := range scen {
		slices.Sort(s.lat)
		all = append(all, s.lat...)
		b.ReportMetric(percentile(s.lat, 0.99), s.name+"-p99-ms")
	}
	slices.Sort(all)
	b.ReportMetric(percentile(all, 0.50), "p50-ms")
	b.ReportMetric(percentile(all, 0.99), "p99-ms")

	var api []time.Duration
	for i := range apiRounds {
		for _, s := range scen {
			hr := s.make(i)
			hr.Name = fmt.Sprintf("dry-%s-%d", s.name, i)
			t0 := time.Now()
			err := e.Client.Create(ctx, hr, client.DryRunAll)
			api = append(api, time.Since(t0))
			if (err == nil) != s.allowed {
				b.Fatalf("dry-run %s: allowed=%v, err %v", s.name, s.allowed, err)
			}
		}
	}
	slices.Sort(api)
	b.ReportMetric(percentile(api, 0.50), "api-p50-ms")
	b.ReportMetric(percentile(api, 0.99), "api-p99-ms")
}
