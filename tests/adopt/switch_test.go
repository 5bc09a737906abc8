package adopt

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/avisim/akograph"
	"github.com/vipgate/vipgate/avisim/dataplane/echo"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
	"github.com/vipgate/vipgate/tests/harness"
)

const secureHost = "shop.example.com"

// akoWorld is what a cluster switching from AKO has: the Kubernetes objects
// with AKO's status, and AKO's objects on the controller.
type akoWorld struct {
	ns                   string
	dnsIP, frontIP, l7IP string
	crt                  []byte
	// uuids of AKO's objects by "type/name", before the switch.
	uuids map[string]string
}

// TestSwitchFromAKO: a Service with ports 80/TCP and 53/UDP, a shared-VIP
// pair and an Ingress with a TLS host, served by AKO's objects; vipgate
// starts with AKO still running and touches nothing; AKO stops and vipgate
// takes everything over: no VIP changes in status or on the controller,
// each of AKO's objects is written at most once, AKO's finalizer is gone,
// and traffic through every VIP never fails during the switch.
func TestSwitchFromAKO(t *testing.T) {
	sim := harness.StartTrafficSim(t)
	s := harness.DemoSettings(t, sim.Host())
	w := setUpAKOWorld(t, sim, s)
	sts := akoRunning(t)

	probes := startTraffic(t, sim, w)
	sim.ResetCounts()
	env.StartVipgate(t, operator.Options{Settings: s, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour})

	// AKO still runs: vipgate says so and writes nothing to the controller.
	harness.Eventually(t, "Service dns says AKO still runs", func() string {
		return conditionMentions(t, w.ns, "dns", "AKO is still running for this cluster (StatefulSet avi-system/ako has 1 replicas)")
	})
	if n := sim.Writes(); n != 0 {
		t.Fatalf("%d controller writes while AKO runs: %v", n, sim.Counts())
	}

	stopAKO(t, sts)
	harness.Eventually(t, "every AKO object is adopted", func() string { return notAdopted(sim) })
	harness.Eventually(t, "AKO's L4PolicySets, datascript and shared pool group are gone", func() string {
		var left []string
		for _, typ := range []string{"l4policyset", "vsdatascriptset", "poolgroup"} {
			for _, o := range sim.Objects("admin", typ) {
				if by, _ := o["created_by"].(string); by == "ako-demo" {
					left = append(left, typ+"/"+o["name"].(string))
				}
			}
		}
		return strings.Join(left, " ")
	})
	harness.Eventually(t, "AKO's Ingress finalizer is gone and vipgate's is there", func() string {
		ing := &networkingv1.Ingress{}
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: w.ns, Name: "shop"}, ing); err != nil {
			return err.Error()
		}
		if len(ing.Finalizers) != 1 || ing.Finalizers[0] != ownership.CleanupFinalizer {
			return fmt.Sprintf("finalizers %v", ing.Finalizers)
		}
		return ""
	})
	harness.Eventually(t, "writes settle", quiet(sim))

	// Nothing moved: status and the controller keep AKO's addresses.
	for name, ip := range map[string]string{"dns": w.dnsIP, "web": w.frontIP, "api": w.frontIP} {
		if got := serviceIP(t, w.ns, name); got != ip {
			t.Errorf("Service %s status %s, AKO had %s", name, got, ip)
		}
	}
	for vsvip, ip := range map[string]string{"demo--" + w.ns + "-dns": w.dnsIP, "demo--" + w.ns + "-front": w.frontIP, shardOf(s): w.l7IP} {
		if got := harness.Str(harness.SimObject(sim, "admin", "vsvip", vsvip), "vip", 0, "ip_address", "addr"); got != ip {
			t.Errorf("VsVip %s holds %s, AKO's was %s", vsvip, got, ip)
		}
	}
	// Each of AKO's objects written at most once.
	writes := sim.ObjectWrites()
	for name, uuid := range w.uuids {
		typ, _, _ := strings.Cut(name, "/")
		if n := writes[typ+"/"+uuid]; n > 1 {
			t.Errorf("%s written %d times during the switch", name, n)
		}
	}
	probes.stop(t)
}

// setUpAKOWorld creates the Kubernetes objects and AKO's controller objects.
func setUpAKOWorld(t *testing.T, sim *avisim.Sim, s *config.Settings) *akoWorld {
	t.Helper()
	ctx := context.Background()
	c, err := session.New(ctx, s.ControllerSettings, harness.SimCredentials(sim), session.Options{PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	w := &akoWorld{ns: env.NewNamespace(t, harness.UniqueName(t, 30), nil, nil)}
	pods := harness.StartEchos(t, 0, "dns-1", "web-1", "api-1", "shop-1")
	ako := &akograph.Writer{C: c, Cluster: "demo"}
	server := func(i int) []akograph.Server {
		return []akograph.Server{{IP: harness.PodIP(pods[i]), Port: int32(pods[i].Port())}}
	}

	dns := lbService(w.ns, "dns", pods[0], corev1.ServicePort{Name: "tcp", Port: 80, Protocol: corev1.ProtocolTCP}, corev1.ServicePort{Name: "udp", Port: 53, Protocol: corev1.ProtocolUDP})
	web := lbService(w.ns, "web", pods[1], corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP})
	api := lbService(w.ns, "api", pods[2], corev1.ServicePort{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP})
	web.Annotations, api.Annotations = map[string]string{rules.AnnSharedVIP: "front"}, map[string]string{rules.AnnSharedVIP: "front"}
	vip, err := ako.L4(ctx, w.ns, "dns", []akograph.Port{{Protocol: "TCP", Port: 80, Servers: server(0)}, {Protocol: "UDP", Port: 53, Servers: server(0)}})
	if err != nil {
		t.Fatal(err)
	}
	w.dnsIP = addrOf(vip)
	if vip, err = ako.SharedL4(ctx, w.ns, "front", map[string][]akograph.Port{"web": {{Protocol: "TCP", Port: 80, Servers: server(1)}}, "api": {{Protocol: "TCP", Port: 8080, Servers: server(2)}}}); err != nil {
		t.Fatal(err)
	}
	w.frontIP = addrOf(vip)
	for i, svc := range []*corev1.Service{dns, web, api} {
		ip := w.dnsIP
		if svc.Name != "dns" {
			ip = w.frontIP
		}
		createWithStatus(t, svc, pods[i], ip)
	}

	w.crt, err = nil, nil
	crt, key := harness.SelfSignedCert(t, secureHost)
	w.crt = crt
	if vip, err = ako.SharedShard(ctx, shardOf(s), []akograph.SecureHost{{Namespace: w.ns, Ingress: "shop", Host: secureHost, Path: "/", Cert: crt, Key: key, Servers: server(3)}}); err != nil {
		t.Fatal(err)
	}
	w.l7IP = addrOf(vip)
	createIngress(t, w, pods[3], crt, key)
	w.uuids = map[string]string{}
	for _, typ := range []string{"vsvip", "virtualservice", "pool", "poolgroup", "l4policyset", "httppolicyset", "sslkeyandcertificate", "vsdatascriptset"} {
		for _, o := range sim.Objects("admin", typ) {
			if by, _ := o["created_by"].(string); by == "ako-demo" || typ == "vsvip" {
				w.uuids[typ+"/"+o["name"].(string)] = o["uuid"].(string)
			}
		}
	}
	return w
}

func addrOf(vsvip map[string]any) string { return harness.Str(vsvip, "vip", 0, "ip_address", "addr") }

func shardOf(s *config.Settings) string { return model.ShardName(s, nil, secureHost) }

// lbService is a LoadBalancer Service to pod on ports (targetPort the pod's).
func lbService(ns, name string, pod *echo.Server, ports ...corev1.ServicePort) *corev1.Service {
	for i := range ports {
		ports[i].TargetPort = intstr.FromInt(pod.Port())
	}
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: ports}}
}

// createWithStatus creates svc with its EndpointSlice (pod ready) and the status AKO wrote.
func createWithStatus(t *testing.T, svc *corev1.Service, pod *echo.Server, ip string) {
	t.Helper()
	sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{harness.PodIP(pod)}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}}}
	for _, p := range svc.Spec.Ports {
		sl.Ports = append(sl.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Protocol: ptr.To(p.Protocol), Port: ptr.To(int32(pod.Port()))})
	}
	env.CreateAndRemove(t, sl)
	env.CreateAndRemove(t, svc)
	patch := client.MergeFrom(svc.DeepCopy())
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
	if err := env.Client.Status().Patch(context.Background(), svc, patch); err != nil {
		t.Fatalf("AKO's status on Service %s: %v", svc.Name, err)
	}
}

// createIngress creates the IngressClass, the backend, the TLS Secret and
// the Ingress with AKO's finalizer and status.
func createIngress(t *testing.T, w *akoWorld, pod *echo.Server, crt, key []byte) {
	t.Helper()
	ctx := context.Background()
	class := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "avi-lb", Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
		Spec: networkingv1.IngressClassSpec{Controller: "ako.vmware.com/avi-lb"}}
	if err := env.Client.Create(ctx, class); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	backend := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "shop"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt(pod.Port())}}}}
	createWithEndpoints(t, backend, pod)
	env.CreateAndRemove(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "shop-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}})
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "shop", Finalizers: []string{"ingress.ako.vmware.com/finalizer"}},
		Spec: networkingv1.IngressSpec{TLS: []networkingv1.IngressTLS{{Hosts: []string{secureHost}, SecretName: "shop-tls"}},
			Rules: []networkingv1.IngressRule{{Host: secureHost, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "shop", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}}}
	env.CreateAndRemove(t, ing)
	patch := client.MergeFrom(ing.DeepCopy())
	ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: w.l7IP, Hostname: secureHost}}
	if err := env.Client.Status().Patch(ctx, ing, patch); err != nil {
		t.Fatalf("AKO's status on Ingress: %v", err)
	}
}

func createWithEndpoints(t *testing.T, svc *corev1.Service, pod *echo.Server) {
	t.Helper()
	sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(pod.Port()))}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{harness.PodIP(pod)}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}}}
	env.CreateAndRemove(t, sl)
	env.CreateAndRemove(t, svc)
}

// akoRunning creates AKO's StatefulSet with a running replica.
func akoRunning(t *testing.T) *appsv1.StatefulSet {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "avi-system"}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	labels := map[string]string{"app.kubernetes.io/name": "ako"}
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "avi-system", Name: "ako"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(int32(1)), ServiceName: "ako", Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "ako", Image: "ako:2.2"}}}}}}
	env.CreateAndRemove(t, sts)
	patch := client.MergeFrom(sts.DeepCopy())
	sts.Status.Replicas, sts.Status.ReadyReplicas = 1, 1
	if err := env.Client.Status().Patch(ctx, sts, patch); err != nil {
		t.Fatal(err)
	}
	return sts
}

// stopAKO scales AKO to zero, as the switch's first step says.
func stopAKO(t *testing.T, sts *appsv1.StatefulSet) {
	t.Helper()
	ctx := context.Background()
	patch := client.MergeFrom(sts.DeepCopy())
	sts.Spec.Replicas = ptr.To(int32(0))
	if err := env.Client.Patch(ctx, sts, patch); err != nil {
		t.Fatal(err)
	}
	patch = client.MergeFrom(sts.DeepCopy())
	sts.Status.Replicas, sts.Status.ReadyReplicas = 0, 0
	if err := env.Client.Status().Patch(ctx, sts, patch); err != nil {
		t.Fatal(err)
	}
}

// conditionMentions is "" once the Service's conditions say want.
func conditionMentions(t *testing.T, ns, name, want string) string {
	svc := &corev1.Service{}
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, svc); err != nil {
		return err.Error()
	}
	for _, c := range svc.Status.Conditions {
		if strings.Contains(c.Message, want) {
			return ""
		}
	}
	return fmt.Sprintf("conditions %+v", svc.Status.Conditions)
}

func serviceIP(t *testing.T, ns, name string) string {
	t.Helper()
	svc := &corev1.Service{}
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, svc); err != nil {
		t.Fatal(err)
	}
	if len(svc.Status.LoadBalancer.Ingress) != 1 {
		return fmt.Sprint(svc.Status.LoadBalancer.Ingress)
	}
	return svc.Status.LoadBalancer.Ingress[0].IP
}

// notAdopted lists AKO's objects that do not carry vipgate's markers yet
// (AKO-only objects, which adoption deletes, aside).
func notAdopted(sim *avisim.Sim) string {
	var left []string
	for _, typ := range []string{"vsvip", "virtualservice", "pool", "httppolicyset", "sslkeyandcertificate"} {
		for _, o := range sim.Objects("admin", typ) {
			name, _ := o["name"].(string)
			if !strings.HasPrefix(name, "demo--") {
				continue
			}
			if !strings.Contains(fmt.Sprint(o["markers"]), "vipgate-owner") {
				left = append(left, typ+"/"+name)
			}
		}
	}
	return strings.Join(left, " ")
}

// quiet is "" once the controller saw no write for a second.
func quiet(sim *avisim.Sim) func() string {
	last, since := -1, time.Now()
	return func() string {
		if w := sim.Writes(); w != last {
			last, since = w, time.Now()
		}
		if time.Since(since) < time.Second {
			return "writes still coming"
		}
		return ""
	}
}

// probes sends traffic through every VIP until stopped and counts failures.
type probes struct {
	done     chan struct{}
	wg       sync.WaitGroup
	sent     atomic.Int64
	mu       sync.Mutex
	failures []string
}

func startTraffic(t *testing.T, sim *avisim.Sim, w *akoWorld) *probes {
	t.Helper()
	at := func(ip string, port int, proto string) string {
		var addr string
		harness.Eventually(t, fmt.Sprintf("%s:%d/%s is served", ip, port, proto), func() string {
			var ok bool
			if addr, ok = sim.DataPlane().Lookup(ip, port, proto); !ok {
				return fmt.Sprintf("problems %v", sim.DataPlane().Status().Problems)
			}
			return ""
		})
		return addr
	}
	checks := map[string]func() (string, error){
		"dns tcp/80":           func() (string, error) { return echo.Line(at(w.dnsIP, 80, "tcp"), "hi") },
		"dns udp/53":           func() (string, error) { return echo.Datagram(at(w.dnsIP, 53, "udp"), "hi") },
		"front tcp/80 (web)":   func() (string, error) { return echo.Line(at(w.frontIP, 80, "tcp"), "hi") },
		"front tcp/8080 (api)": func() (string, error) { return echo.Line(at(w.frontIP, 8080, "tcp"), "hi") },
		"https " + secureHost: func() (string, error) {
			r := echo.GetTLS(at(w.l7IP, 443, "tcp"), secureHost, "/", secureHost)
			return r.Answer.Backend, r.Err
		},
	}
	want := map[string]string{"dns tcp/80": "dns-1", "dns udp/53": "dns-1", "front tcp/80 (web)": "web-1", "front tcp/8080 (api)": "api-1", "https " + secureHost: "shop-1"}
	// AKO's objects serve before the switch.
	for what, send := range checks {
		harness.Eventually(t, what+" answers through AKO's objects", func() string {
			if b, err := send(); err != nil || b != want[what] {
				return fmt.Sprintf("%q %v", b, err)
			}
			return ""
		})
	}
	p := &probes{done: make(chan struct{})}
	for what, send := range checks {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				select {
				case <-p.done:
					return
				case <-time.After(20 * time.Millisecond):
				}
				p.sent.Add(1)
				if b, err := send(); err != nil || b != want[what] {
					p.mu.Lock()
					p.failures = append(p.failures, fmt.Sprintf("%s at %s: answered %q, %v", what, time.Now().Format("15:04:05.000"), b, err))
					p.mu.Unlock()
				}
			}
		}()
	}
	return p
}

func (p *probes) stop(t *testing.T) {
	t.Helper()
	close(p.done)
	p.wg.Wait()
	t.Logf("%d requests through the VIPs during the switch", p.sent.Load())
	if len(p.failures) > 0 {
		t.Errorf("%d of %d requests failed during the switch, first: %s", len(p.failures), p.sent.Load(), strings.Join(p.failures[:min(5, len(p.failures))], "; "))
	}
}
