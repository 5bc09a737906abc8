package l7

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

const parent0 = "demo--Shared-L7-0"

// TestInsecureIngress: two paths of one host land on the SMALL shard's parent
// as pools with the Service's ready endpoints, pool groups and host+path
// rules (Exact before Prefix), and the Ingress gets the shard's VIP.
func TestInsecureIngress(t *testing.T) {
	sim := startSim(t)
	ensureClass(t, "avi-lb", true, "")
	start(t, sim, settingsFor(t, sim, nil), nil)
	ns := newNamespace(t)
	backend(t, ns, "web", "10.1.0.2", "10.1.0.1")
	backend(t, ns, "api", "10.1.0.3")
	createObj(t, ingress(ns, "shop", nil, []route{{"foo.example.com", "/", "web", false}, {"foo.example.com", "/api", "api", true}}))

	ips := waitStatus(t, ns, "shop", "foo.example.com")
	if want := vsvipIP(sim, parent0); ips["foo.example.com"] != want || want == "" {
		t.Errorf("status IP %s, want the shard VIP %q", ips["foo.example.com"], want)
	}
	vs := simObject(sim, "virtualservice", parent0)
	if vs["type"] != "VS_TYPE_VH_PARENT" || vs["created_by"] != "vipgate-demo" {
		t.Errorf("parent VS type %v created_by %v", vs["type"], vs["created_by"])
	}
	if got := fmt.Sprint(vs["services"]); got != "[map[port:80] map[enable_ssl:true port:443]]" {
		t.Errorf("parent services %s", got)
	}
	root, api := "demo--foo.example.com_-"+ns+"-shop", "demo--foo.example.com_api-"+ns+"-shop"
	harness.Eventually(t, "pools with servers", func() string {
		if got := servers(simObject(sim, "pool", root)); got != "10.1.0.1:8080 10.1.0.2:8080" {
			return root + ": " + got
		}
		if got := servers(simObject(sim, "pool", api)); got != "10.1.0.3:8080" {
			return api + ": " + got
		}
		return ""
	})
	rs := rules(sim, parent0)
	if len(rs) != 2 {
		t.Fatalf("parent rules %v", rs)
	}
	for i, want := range []struct{ crit, path, pg string }{{"EQUALS", "/api", api}, {"BEGINS_WITH", "/", root}} {
		m := rs[i]["match"].(map[string]any)
		p := m["path"].(map[string]any)
		sw := rs[i]["switching_action"].(map[string]any)
		if p["match_criteria"] != want.crit || fmt.Sprint(p["match_str"]) != "["+want.path+"]" ||
			refName(sim, "poolgroup", sw["pool_group_ref"].(string)) != want.pg ||
			fmt.Sprint(m["host_hdr"].(map[string]any)["value"]) != "[foo.example.com]" {
			t.Errorf("rule %d = %v, want %s %s → %s", i, rs[i], want.crit, want.path, want.pg)
		}
	}
	// The finalizer controller adds it on its own schedule, not before the
	// shard's writes (a shard is rebuilt from the Ingresses there are).
	harness.Eventually(t, "the cleanup finalizer on the Ingress", func() string {
		if !slices.Contains(getIngress(t, ns, "shop").Finalizers, "vipgate.ako.vmware.com/cleanup") {
			return "no cleanup finalizer"
		}
		return ""
	})
}

func servers(pool map[string]any) string {
	if pool == nil {
		return "<no pool>"
	}
	var out []string
	ss, _ := pool["servers"].([]any)
	for _, s := range ss {
		m := s.(map[string]any)
		out = append(out, fmt.Sprintf("%v:%v", m["ip"].(map[string]any)["addr"], m["port"]))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// TestSecureIngress: a tls host gets an SNI child under the shard parent with
// a certificate equal to the Secret's, an HTTP→HTTPS redirect on the parent;
// rotating the Secret updates the certificate in place; deleting the Secret
// stops HTTPS for the host (child and certificate gone, redirect kept), with
// a Warning Event and a port error in status.
func TestSecureIngress(t *testing.T) {
	sim := startSim(t)
	ensureClass(t, "avi-lb", true, "")
	start(t, sim, settingsFor(t, sim, nil), nil)
	ns := newNamespace(t)
	backend(t, ns, "web", "10.2.0.1")
	host := "sec.example.com"
	sec := tlsSecret(t, ns, "sec-tls", host)
	createObj(t, sec)
	createObj(t, ingress(ns, "sec", nil, []route{{host, "/", "web", false}}, networkingv1.IngressTLS{Hosts: []string{host}, SecretName: "sec-tls"}))
	waitStatus(t, ns, "sec", host)

	child := "demo--" + host
	var certUUID string
	harness.Eventually(t, "SNI child with the Secret's certificate", func() string {
		vs := simObject(sim, "virtualservice", child)
		if vs == nil {
			return "no child VS"
		}
		if vs["type"] != "VS_TYPE_VH_CHILD" || refName(sim, "virtualservice", vs["vh_parent_vs_ref"].(string)) != parent0 ||
			fmt.Sprint(vs["vh_domain_name"]) != "["+host+"]" {
			return fmt.Sprintf("child %v", vs)
		}
		c := simObject(sim, "sslkeyandcertificate", child)
		if c == nil {
			return "no certificate"
		}
		if c["certificate"].(map[string]any)["certificate"] != string(sec.Data[corev1.TLSCertKey]) {
			return "certificate PEM differs from the Secret's"
		}
		certUUID = c["uuid"].(string)
		return ""
	})
	redirect := func() string {
		for _, r := range rules(sim, parent0) {
			if ra, ok := r["redirect_action"].(map[string]any); ok && ra["protocol"] == "HTTPS" &&
				fmt.Sprint(r["match"].(map[string]any)["host_hdr"].(map[string]any)["value"]) == "["+host+"]" {
				return ""
			}
		}
		return fmt.Sprintf("no redirect for %s in %v", host, rules(sim, parent0))
	}
	if msg := redirect(); msg != "" {
		t.Error(msg)
	}
	// The child's routes live in the namespace's policy set, named as AKO does.
	if rs := rules(sim, "demo--"+ns+"-"+host); len(rs) != 1 || rs[0]["switching_action"] == nil {
		t.Errorf("child rules %v", rs)
	}

	// Rotation: new certificate and key in the same Secret.
	posts := sim.Counts()["POST sslkeyandcertificate"]
	crt, key := harness.SelfSignedCert(t, host)
	sec.Data = map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}
	if err := env.Client.Update(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "certificate rotated in place", func() string {
		c := simObject(sim, "sslkeyandcertificate", child)
		if c == nil || c["certificate"].(map[string]any)["certificate"] != string(crt) {
			return "old certificate"
		}
		if c["uuid"] != certUUID {
			return fmt.Sprintf("uuid %v, want %s (recreated, not updated)", c["uuid"], certUUID)
		}
		return ""
	})
	if n := sim.Counts()["POST sslkeyandcertificate"]; n != posts {
		t.Errorf("rotation created certificates (%d POSTs)", n-posts)
	}

	// The Secret disappears after admission.
	if err := env.Client.Delete(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "HTTPS stopped for the host", func() string {
		if simObject(sim, "virtualservice", child) != nil || simObject(sim, "sslkeyandcertificate", child) != nil {
			return "child or certificate still there"
		}
		st := getIngress(t, ns, "sec").Status.LoadBalancer.Ingress
		if len(st) != 1 || len(st[0].Ports) != 1 || st[0].Ports[0].Port != 443 || ptr.Deref(st[0].Ports[0].Error, "") != "TLSSecretUnavailable" {
			return fmt.Sprintf("status %+v", st)
		}
		for _, e := range events(t, ns, "sec") {
			if strings.HasPrefix(e, "TLSSecretUnavailable: ") && strings.Contains(e, "sec-tls") {
				return ""
			}
		}
		return fmt.Sprintf("no TLSSecretUnavailable event: %v", events(t, ns, "sec"))
	})
	if msg := redirect(); msg != "" {
		t.Errorf("redirect must stay so the host is never served in clear: %s", msg)
	}
}

// TestHostConflict: the older Ingress keeps a host/path both route; the
// younger serves its other path and gets a Warning Event.
func TestHostConflict(t *testing.T) {
	sim := startSim(t)
	ensureClass(t, "avi-lb", true, "")
	start(t, sim, settingsFor(t, sim, nil), nil)
	ns := newNamespace(t)
	backend(t, ns, "web", "10.3.0.1")
	backend(t, ns, "other", "10.3.0.2")
	host := "dup.example.com"
	createObj(t, ingress(ns, "a", nil, []route{{host, "/", "web", false}}))
	waitStatus(t, ns, "a", host)
	createObj(t, ingress(ns, "b", nil, []route{{host, "/", "other", false}, {host, "/b", "other", false}}))
	waitStatus(t, ns, "b", host)
	harness.Eventually(t, "b's own path served, a keeps /", func() string {
		if simObject(sim, "pool", "demo--dup.example.com_b-"+ns+"-b") == nil {
			return "no pool for b's /b"
		}
		if simObject(sim, "pool", "demo--dup.example.com_-"+ns+"-a") == nil {
			return "a lost its pool"
		}
		if simObject(sim, "pool", "demo--dup.example.com_-"+ns+"-b") != nil {
			return "b got a pool for / too"
		}
		for _, e := range events(t, ns, "b") {
			if strings.HasPrefix(e, "HostConflict: ") && strings.Contains(e, ns+"/a") {
				return ""
			}
		}
		return fmt.Sprintf("no HostConflict event on b: %v", events(t, ns, "b"))
	})
	if evs := events(t, ns, "a"); slices.ContainsFunc(evs, func(e string) bool { return strings.HasPrefix(e, "HostConflict") }) {
		t.Errorf("the winner got a conflict event: %v", evs)
	}
}

// TestShardSizes: MEDIUM spreads hosts over four parents by fnv32a(host) mod 4
// (foo.example.com → 0, shop.example.com → 2), each with its own VIP.
func TestShardSizes(t *testing.T) {
	sim := startSim(t)
	ensureClass(t, "avi-lb", true, "")
	start(t, sim, settingsFor(t, sim, func(s *config.Settings) { s.L7Settings.ShardVSSize = "MEDIUM" }), nil)
	ns := newNamespace(t)
	backend(t, ns, "web", "10.4.0.1")
	createObj(t, ingress(ns, "two", nil, []route{{"foo.example.com", "/", "web", false}, {"shop.example.com", "/", "web", false}}))
	ips := waitStatus(t, ns, "two", "foo.example.com", "shop.example.com")
	if got := simNames(sim, "virtualservice"); !slices.Equal(got, []string{"demo--Shared-L7-0", "demo--Shared-L7-2"}) {
		t.Errorf("virtual services %v", got)
	}
	if ips["foo.example.com"] != vsvipIP(sim, "demo--Shared-L7-0") || ips["shop.example.com"] != vsvipIP(sim, "demo--Shared-L7-2") ||
		ips["foo.example.com"] == ips["shop.example.com"] {
		t.Errorf("status %v, VIPs %s %s", ips, vsvipIP(sim, "demo--Shared-L7-0"), vsvipIP(sim, "demo--Shared-L7-2"))
	}
	if rs := rules(sim, "demo--Shared-L7-2"); len(rs) != 1 || fmt.Sprint(rs[0]["match"].(map[string]any)["host_hdr"].(map[string]any)["value"]) != "[shop.example.com]" {
		t.Errorf("shard 2 rules %v", rs)
	}
}

// TestDedicated: DEDICATED gives each host a normal virtual service of its own.
func TestDedicated(t *testing.T) {
	sim := startSim(t)
	ensureClass(t, "avi-lb", true, "")
	start(t, sim, settingsFor(t, sim, func(s *config.Settings) { s.L7Settings.ShardVSSize = "DEDICATED" }), nil)
	ns := newNamespace(t)
	backend(t, ns, "web", "10.5.0.1")
	createObj(t, ingress(ns, "ded", nil, []route{{"ded.example.com", "/", "web", false}}))
	ips := waitStatus(t, ns, "ded", "ded.example.com")
	name := "demo--ded.example.com-L7-dedicated"
	if got := simNames(sim, "virtualservice"); !slices.Equal(got, []string{name}) {
		t.Fatalf("virtual services %v", got)
	}
	if vs := simObject(sim, "virtualservice", name); vs["type"] != "VS_TYPE_NORMAL" || fmt.Sprint(vs["services"]) != "[map[port:80]]" {
		t.Errorf("dedicated VS %v", vs)
	}
	if ips["ded.example.com"] != vsvipIP(sim, name) {
		t.Errorf("status %v", ips)
	}
}

// TestIngressClassParameters: an IngressClass naming an AviInfraSetting puts
// its Ingresses on that setting's shard, with a VIP from its network
// (vip-net-b, static range 10.60.0.2-10.60.0.5).
func TestIngressClassParameters(t *testing.T) {
	sim := startSim(t)
	ensureClass(t, "avi-lb", true, "")
	start(t, sim, settingsFor(t, sim, nil), nil)
	ais := &v1beta1.AviInfraSetting{ObjectMeta: metav1.ObjectMeta{Name: "edge-l7"}, Spec: v1beta1.AviInfraSettingSpec{
		Network: v1beta1.AviInfraSettingNetwork{VipNetworks: []v1beta1.AviInfraSettingVipNetwork{{NetworkName: "vip-net-b"}}}}}
	if err := env.Client.Create(context.Background(), ais); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("AviInfraSetting: %v", err)
	}
	ensureClass(t, "avi-edge", false, "edge-l7")
	ns := newNamespace(t)
	backend(t, ns, "web", "10.6.0.1")
	createObj(t, ingress(ns, "edge", ptr.To("avi-edge"), []route{{"edge.example.com", "/", "web", false}}))
	ips := waitStatus(t, ns, "edge", "edge.example.com")
	ip, err := netip.ParseAddr(ips["edge.example.com"])
	if err != nil || ip.Less(netip.MustParseAddr("10.60.0.2")) || netip.MustParseAddr("10.60.0.5").Less(ip) {
		t.Errorf("VIP %s is not in vip-net-b's range 10.60.0.2-10.60.0.5", ips["edge.example.com"])
	}
	if got := simNames(sim, "virtualservice"); !slices.Equal(got, []string{"demo--Shared-L7-edge-l7-0"}) {
		t.Errorf("virtual services %v", got)
	}
}

// TestDeleteAndRestart: a restarted vipgate over a synced secure Ingress
// sends no write; deleting the Ingress then removes every L7 object and the
// finalizer.
func TestDeleteAndRestart(t *testing.T) {
	sim := startSim(t)
	ensureClass(t, "avi-lb", true, "")
	s := settingsFor(t, sim, nil)
	stop := start(t, sim, s, nil)
	ns := newNamespace(t)
	backend(t, ns, "web", "10.7.0.1")
	host := "gone.example.com"
	createObj(t, tlsSecret(t, ns, "gone-tls", host))
	ing := ingress(ns, "gone", nil, []route{{host, "/", "web", false}, {"plain.example.com", "/x", "web", true}},
		networkingv1.IngressTLS{Hosts: []string{host}, SecretName: "gone-tls"})
	createObj(t, ing)
	waitStatus(t, ns, "gone", host, "plain.example.com")
	harness.Eventually(t, "child created", func() string {
		if simObject(sim, "virtualservice", "demo--"+host) == nil {
			return "no child"
		}
		return ""
	})
	stop()

	sim.ResetCounts()
	before := harness.Reconciles(t, "ingress")
	collected := make(chan error, 1)
	start(t, sim, s, func(o *operator.Options) {
		o.OrphansCollected = func(_ []string, err error) { collected <- err }
	})
	// One shard key and one Ingress key are queued at start-up.
	harness.Eventually(t, "the restarted vipgate reconciles the shard and the Ingress", func() string {
		if n := harness.Reconciles(t, "ingress") - before; n < 2 {
			return fmt.Sprintf("%d reconciles", n)
		}
		return ""
	})
	if err := <-collected; err != nil {
		t.Fatalf("orphan collection: %v", err)
	}
	if w := sim.Writes(); w != 0 {
		t.Errorf("restart sent %d writes: %v", w, sim.Counts())
	}
	if sim.Counts()["GET httppolicyset"] == 0 {
		t.Error("the restarted vipgate did not read the shard")
	}

	if err := env.Client.Delete(context.Background(), ing); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "everything gone", func() string {
		if objs := l7Objects(sim); len(objs) > 0 {
			return fmt.Sprint(objs)
		}
		var list networkingv1.IngressList
		if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil || len(list.Items) > 0 {
			return "Ingress still there"
		}
		return ""
	})
}

// TestRestartNeverDropsAHost: Ingresses spread over several shards keep
// every host in status across a vipgate restart, while the apply of one
// shard keeps failing: each shard writes only the entries at its own VIP,
// and a shard that cannot sync writes none, so no host is ever withdrawn
// (external-dns would delete its record).
func TestRestartNeverDropsAHost(t *testing.T) {
	sim := startSim(t)
	ensureClass(t, "avi-lb", true, "")
	s := settingsFor(t, sim, func(s *config.Settings) { s.L7Settings.ShardVSSize = "MEDIUM" })
	stop := start(t, sim, s, nil)
	ns := newNamespace(t)
	backend(t, ns, "web", "10.8.0.1")
	// foo and shop land on shards 0 and 2 with MEDIUM (see TestShardSizes).
	createObj(t, ingress(ns, "a", nil, []route{{"foo.example.com", "/", "web", false}, {"shop.example.com", "/", "web", false}}))
	createObj(t, ingress(ns, "b", nil, []route{{"shop.example.com", "/b", "web", false}}))
	want := map[string][]string{"a": {"foo.example.com", "shop.example.com"}, "b": {"shop.example.com"}}
	for name, hosts := range want {
		waitStatus(t, ns, name, hosts...)
	}
	stop()

	// Shard 2 cannot be read or written any more, and an edit gives it work to do.
	sim.Faults().FailNamed("demo--Shared-L7-2", http.StatusServiceUnavailable)
	before := harness.Reconciles(t, "ingress")
	start(t, sim, s, nil)
	b := getIngress(t, ns, "b")
	b.Spec.Rules[0].HTTP.Paths[0].Path = "/b2"
	if err := env.Client.Update(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) || harness.Reconciles(t, "ingress")-before < 3 {
		for name, hosts := range want {
			got := getIngress(t, ns, name)
			var have []string
			for _, e := range got.Status.LoadBalancer.Ingress {
				have = append(have, e.Hostname)
			}
			for _, h := range hosts {
				if !slices.Contains(have, h) {
					t.Fatalf("Ingress %s/%s lost host %s after the restart: status %v", ns, name, h, have)
				}
			}
		}
		if time.Now().After(deadline.Add(time.Minute)) {
			t.Fatalf("the restarted vipgate did not reconcile the shards")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
