package l7

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestFullSyncPutsBackADeletedShard: someone deletes an L7 shard's parent
// virtual service on the controller. The next full sync (fullSyncFrequency)
// reads the controller again and syncs every shard, which creates the
// parent again on the same VsVip: the Ingress keeps its address.
func TestFullSyncPutsBackADeletedShard(t *testing.T) {
	sim := startSim(t)
	ensureClass(t, "avi-lb", true, "")
	s := settingsFor(t, sim, func(s *config.Settings) { s.AKOSettings.FullSyncFrequency = "2" })
	start(t, sim, s, nil)
	ns := newNamespace(t)
	backend(t, ns, "web", "10.7.0.1")
	createObj(t, ingress(ns, "shop", nil, []route{{"shop.example.com", "/", "web", false}}))
	before := waitStatus(t, ns, "shop", "shop.example.com")

	vss := sim.Objects(harness.DemoTenant, "virtualservice")
	if len(vss) != 1 {
		t.Fatalf("want one virtual service (the shard's parent), found %d", len(vss))
	}
	parent, vsvip := harness.Str(vss[0], "name"), harness.Str(vss[0], "vsvip_ref")
	harness.DeleteBehindVipgate(t, sim, "virtualservice/"+parent)
	harness.Eventually(t, "the shard's parent put back", func() string {
		vs := simObject(sim, "virtualservice", parent)
		switch {
		case vs == nil:
			return "no virtual service " + parent
		case harness.Str(vs, "vsvip_ref") != vsvip:
			return fmt.Sprintf("on VsVip %s, was %s", harness.Str(vs, "vsvip_ref"), vsvip)
		case len(rules(sim, parent)) != 1:
			return fmt.Sprintf("policy set with %d rules", len(rules(sim, parent)))
		}
		return ""
	})
	if after := waitStatus(t, ns, "shop", "shop.example.com"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("Ingress status %v after the repair, was %v", after, before)
	}
}

// TestFullSyncGivesBackALostShardsVIP: someone deletes an L7 shard's parent
// virtual service and its VsVip on the controller. The full sync creates
// them again, and the VsVip asks for the address the shard's Ingresses show,
// so their hosts keep their VIP (and the DNS records pointing at it) though
// the IPAM would hand out a lower address a deleted Service freed.
func TestFullSyncGivesBackALostShardsVIP(t *testing.T) {
	ctx := context.Background()
	sim := startSim(t)
	ensureClass(t, "avi-lb", true, "")
	s := settingsFor(t, sim, func(s *config.Settings) { s.AKOSettings.FullSyncFrequency = "2" })
	start(t, sim, s, nil)
	ns := newNamespace(t)
	// A LoadBalancer Service takes the first address, the shard the next.
	lb := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "first"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Name: "tcp", Port: 5000, Protocol: corev1.ProtocolTCP}}}}
	createObj(t, lb)
	harness.Eventually(t, "the LoadBalancer Service's VIP", func() string {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(lb), lb); err != nil || len(lb.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Sprintf("status %+v, %v", lb.Status, err)
		}
		return ""
	})
	freed := lb.Status.LoadBalancer.Ingress[0].IP
	backend(t, ns, "web", "10.7.0.1")
	createObj(t, ingress(ns, "shop", nil, []route{{"shop.example.com", "/", "web", false}}))
	before := waitStatus(t, ns, "shop", "shop.example.com")
	if netip.MustParseAddr(freed).Compare(netip.MustParseAddr(before["shop.example.com"])) > 0 {
		t.Fatalf("the Service holds %s, above the shard's %s: the IPAM would not hand it to the shard first, so this test proves nothing", freed, before["shop.example.com"])
	}
	if err := env.Client.Delete(ctx, lb); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "the Service's VsVip deleted", func() string {
		for _, v := range sim.Objects(harness.DemoTenant, "vsvip") {
			if strings.Contains(harness.Str(v, "name"), "-first") {
				return "still there"
			}
		}
		return ""
	})

	vss := sim.Objects(harness.DemoTenant, "virtualservice")
	if len(vss) != 1 {
		t.Fatalf("want one virtual service (the shard's parent), found %d", len(vss))
	}
	parent := harness.Str(vss[0], "name")
	harness.DeleteBehindVipgate(t, sim, "virtualservice/"+parent, "vsvip/"+parent)
	harness.Eventually(t, "the shard's parent and VsVip put back", func() string {
		switch {
		case simObject(sim, "virtualservice", parent) == nil:
			return "no virtual service " + parent
		case simObject(sim, "vsvip", parent) == nil:
			return "no VsVip " + parent
		}
		return ""
	})
	if got := harness.Str(simObject(sim, "vsvip", parent), "vip", 0, "ip_address", "addr"); got != before["shop.example.com"] {
		t.Errorf("the shard's VsVip came back with %s, want the VIP its Ingress shows, %s", got, before["shop.example.com"])
	}
	if after := waitStatus(t, ns, "shop", "shop.example.com"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("Ingress status %v after the repair, was %v", after, before)
	}
}
