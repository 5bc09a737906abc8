package l7

import (
	"fmt"
	"testing"

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
