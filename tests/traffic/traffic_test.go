package traffic

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim/dataplane/echo"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/rules"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestL4Service: a LoadBalancer Service with a TCP and a UDP port answers
// through its VIP from both pods, on both protocols, and follows its
// endpoints: a scale-down takes the pod out, a scale-up brings one in.
func TestL4Service(t *testing.T) {
	sim := harness.StartTrafficSim(t)
	start(t, sim, nil)
	ns := newNamespace(t)
	pods := harness.StartEchos(t, 0, "pod-a", "pod-b", "pod-c")
	svc := service(ns, "echo", corev1.ServiceTypeLoadBalancer,
		svcPort("tcp", 80, corev1.ProtocolTCP, pods[0].Port()), svcPort("udp", 53, corev1.ProtocolUDP, pods[0].Port()))
	sl := endpoints(svc, "echo-1", pods[0], pods[1])
	create(t, sl)
	create(t, svc)
	ip := waitVIP(t, ns, "echo")
	tcp, udp := served(t, sim, ip, 80, "tcp"), served(t, sim, ip, 53, "udp")

	eventuallyServedBy(t, "TCP through the VIP reaches both pods", names(pods[0], pods[1]), line(tcp))
	eventuallyServedBy(t, "UDP through the VIP reaches both pods", names(pods[0], pods[1]), datagram(udp))
	eventuallyServedBy(t, "HTTP over the TCP port reaches both pods", names(pods[0], pods[1]), httpGet(tcp, "echo.example.com", "/"))

	scale(t, sl, pods[0])
	eventuallyServedBy(t, "after the scale-down only pod-a answers on TCP", names(pods[0]), line(tcp))
	eventuallyServedBy(t, "after the scale-down only pod-a answers on UDP", names(pods[0]), datagram(udp))

	scale(t, sl, pods[0], pods[2])
	eventuallyServedBy(t, "after the scale-up pod-a and pod-c answer on TCP", names(pods[0], pods[2]), line(tcp))
	eventuallyServedBy(t, "after the scale-up pod-a and pod-c answer on UDP", names(pods[0], pods[2]), datagram(udp))
}

// TestSharedVIP: two Services sharing a VIP (ako.vmware.com/enable-shared-vip)
// each answer on their own port of it, from their own pods.
func TestSharedVIP(t *testing.T) {
	sim := harness.StartTrafficSim(t)
	start(t, sim, nil)
	ns := newNamespace(t)
	web := harness.StartEchos(t, 0, "web-1")
	api := harness.StartEchos(t, 0, "api-1")
	for _, s := range []struct {
		name string
		port int32
		pods []*echo.Server
	}{{"web", 80, web}, {"api", 8080, api}} {
		svc := service(ns, s.name, corev1.ServiceTypeLoadBalancer, svcPort("http", s.port, corev1.ProtocolTCP, s.pods[0].Port()))
		svc.Annotations[rules.AnnSharedVIP] = "front"
		create(t, endpoints(svc, s.name+"-1", s.pods...))
		create(t, svc)
	}
	ipWeb, ipAPI := waitVIP(t, ns, "web"), waitVIP(t, ns, "api")
	if ipWeb != ipAPI {
		t.Fatalf("shared-VIP Services got VIPs %s and %s", ipWeb, ipAPI)
	}
	eventuallyServedBy(t, "port 80 of the shared VIP reaches web", []string{"web-1"}, httpGet(served(t, sim, ipWeb, 80, "tcp"), "front", "/"))
	eventuallyServedBy(t, "port 8080 of the shared VIP reaches api", []string{"api-1"}, httpGet(served(t, sim, ipWeb, 8080, "tcp"), "front", "/"))
}

// TestIngressRouting: an Ingress with two hosts and paths sends each
// host/path to its Service's pods through the shard's VIP, passes the Host
// header on, and gives a host it does not route no answer.
func TestIngressRouting(t *testing.T) {
	sim := harness.StartTrafficSim(t)
	start(t, sim, nil)
	ensureIngressClass(t)
	ns := newNamespace(t)
	shop := harness.StartEchos(t, 0, "shop-1", "shop-2")
	api := harness.StartEchos(t, 0, "api-1")
	backendService(t, ns, "shop", shop...)
	backendService(t, ns, "api", api...)
	create(t, ingress(ns, "site", []route{
		{"foo.example.com", "/", "shop"}, {"foo.example.com", "/api", "api"}, {"bar.example.com", "/", "api"}}))
	ip := waitIngressIP(t, ns, "site", "foo.example.com")
	if other := waitIngressIP(t, ns, "site", "bar.example.com"); other != ip {
		t.Fatalf("hosts of one shard got VIPs %s and %s", ip, other)
	}
	addr := served(t, sim, ip, 80, "tcp")

	eventuallyServedBy(t, "foo.example.com/ reaches shop's pods", names(shop...), httpGet(addr, "foo.example.com", "/"))
	eventuallyServedBy(t, "foo.example.com/api/v1 reaches api", names(api...), httpGet(addr, "foo.example.com", "/api/v1"))
	eventuallyServedBy(t, "bar.example.com/ reaches api", names(api...), httpGet(addr, "bar.example.com", "/x"))
	r := echo.Get(addr, "foo.example.com", "/cart")
	if r.Answer.Host != "foo.example.com" || r.Answer.Path != "/cart" {
		t.Errorf("the backend saw host %q path %q, want foo.example.com /cart", r.Answer.Host, r.Answer.Path)
	}
	if r := echo.Get(addr, "nobody.example.com", "/"); !echo.IsReset(r.Err) {
		t.Errorf("a host no Ingress routes: %v; want no answer", r)
	}
}

// TestIngressTLS: a secure host is served over HTTPS with the Secret's
// certificate (checked by fingerprint) to clients sending its name, plain
// HTTP to it is redirected to HTTPS, and a rotated Secret is what the next
// client sees.
func TestIngressTLS(t *testing.T) {
	sim := harness.StartTrafficSim(t)
	start(t, sim, nil)
	ensureIngressClass(t)
	ns := newNamespace(t)
	pods := harness.StartEchos(t, 0, "app-1")
	backendService(t, ns, "app", pods...)
	const host = "secure.example.com"
	crt, key := harness.SelfSignedCert(t, host)
	secret := tlsSecret(ns, "app-tls", crt, key)
	create(t, secret)
	create(t, ingress(ns, "app", []route{{host, "/", "app"}}, networkingv1.IngressTLS{Hosts: []string{host}, SecretName: "app-tls"}))
	ip := waitIngressIP(t, ns, "app", host)
	https, plain := served(t, sim, ip, 443, "tcp"), served(t, sim, ip, 80, "tcp")

	var r echo.Reply
	harness.Eventually(t, "https://"+host+"/ answers from the pod", func() string {
		if r = echo.GetTLS(https, host, "/orders", host); r.Answer.Backend != "app-1" {
			return r.String()
		}
		return ""
	})
	if got, want := harness.CertFingerprint(r), harness.PEMFingerprint(t, crt); got != want {
		t.Errorf("served certificate %x (%s), want the Secret's %x", got, r.Cert.Subject, want)
	}
	if r.Answer.Path != "/orders" || r.Answer.Host != host || r.Answer.TLS {
		t.Errorf("the pod saw %+v; want the plain request for %s/orders (TLS ends at the VIP)", r.Answer, host)
	}

	if r := echo.Get(plain, host, "/orders?id=7"); r.Code != http.StatusFound || r.Header.Get("Location") != "https://"+host+"/orders?id=7" {
		t.Errorf("http://%s/orders?id=7: %v; want 302 to https://%s/orders?id=7", host, r, host)
	}

	crt2, key2 := harness.SelfSignedCert(t, host)
	cur := &corev1.Secret{}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(secret), cur); err != nil {
		t.Fatal(err)
	}
	cur.Data = map[string][]byte{corev1.TLSCertKey: crt2, corev1.TLSPrivateKeyKey: key2}
	if err := env.Client.Update(context.Background(), cur); err != nil {
		t.Fatalf("rotating the Secret: %v", err)
	}
	want := harness.PEMFingerprint(t, crt2)
	harness.Eventually(t, "clients see the rotated certificate", func() string {
		r := echo.GetTLS(https, host, "/", host)
		if r.Cert == nil || harness.CertFingerprint(r) != want {
			return fmt.Sprintf("%v with certificate serial %v", r, serial(r))
		}
		return ""
	})
}

// TestHealthMonitor: when a pod stops answering, the pool's health monitor
// (System-TCP, as vipgate sets it) takes it out and the other pod serves
// every request; back up, it serves again.
func TestHealthMonitor(t *testing.T) {
	sim := harness.StartTrafficSim(t)
	start(t, sim, nil)
	ns := newNamespace(t)
	pods := harness.StartEchos(t, 0, "pod-a", "pod-b")
	svc := service(ns, "echo", corev1.ServiceTypeLoadBalancer, svcPort("tcp", 80, corev1.ProtocolTCP, pods[0].Port()))
	create(t, endpoints(svc, "echo-1", pods...))
	create(t, svc)
	tcp := served(t, sim, waitVIP(t, ns, "echo"), 80, "tcp")
	eventuallyServedBy(t, "both pods answer", names(pods...), line(tcp))

	pods[0].Stop()
	eventuallyServedBy(t, "pod-b alone answers, every request", names(pods[1]), line(tcp))
	if got, failed := servedBy(30, line(tcp)); failed > 0 || len(got) != 1 || got[0] != "pod-b" {
		t.Errorf("once pod-a is out: answered by %v, %d without an answer", got, failed)
	}

	if err := pods[0].Start(); err != nil {
		t.Fatal(err)
	}
	eventuallyServedBy(t, "pod-a is back", names(pods...), line(tcp))
}

// TestNodePortMode: with L7Settings.serviceType NodePort the VIP reaches
// the nodes' InternalIPs at the Service's nodePort.
func TestNodePortMode(t *testing.T) {
	sim := harness.StartTrafficSim(t)
	start(t, sim, func(s *config.Settings) { s.L7Settings.ServiceType = "NodePort" })
	ns := newNamespace(t)
	np := harness.FreePort(t, 30000, 32767, "0.0.0.0")
	nodes := harness.StartEchos(t, np, "node-1", "node-2")
	for _, n := range nodes {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name() + "-" + ns}}
		if err := env.Client.Create(context.Background(), node); err != nil {
			t.Fatal(err)
		}
		// Node addresses are status, set as the kubelet would.
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.IP()}}
		if err := env.Client.Status().Update(context.Background(), node); err != nil {
			t.Fatal(err)
		}
	}
	svc := service(ns, "echo", corev1.ServiceTypeLoadBalancer, corev1.ServicePort{Name: "tcp", Port: 80, Protocol: corev1.ProtocolTCP, NodePort: int32(np)})
	create(t, svc)
	tcp := served(t, sim, waitVIP(t, ns, "echo"), 80, "tcp")
	eventuallyServedBy(t, "the VIP reaches both nodes at the nodePort", names(nodes...), line(tcp))
}

func serial(r echo.Reply) string {
	if r.Cert == nil {
		return "none"
	}
	return strings.TrimSpace(r.Cert.SerialNumber.String())
}
