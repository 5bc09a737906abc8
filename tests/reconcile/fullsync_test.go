package reconcile

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestFullSyncPutsBackWhatWasDeletedOnTheController: someone deletes a
// Service's virtual service and pool on the controller (the Avi UI, a
// script). No Kubernetes event follows, so only AKO's full sync
// (fullSyncFrequency) can notice: the next round reads the controller again
// and reconciles every Service, which puts the objects back behind the same
// VsVip, so the VIP in status and in DNS stays what it was. A round over
// Services in sync writes nothing.
func TestFullSyncPutsBackWhatWasDeletedOnTheController(t *testing.T) {
	sim := harness.StartSim(t, nil)
	s := settingsFor(t, sim, func(s *config.Settings) { s.AKOSettings.FullSyncFrequency = "2" })
	start(t, sim, s, nil)
	ns := newNamespace(t)
	createObj(t, lbService(ns, "web", []int32{80}))
	vip := waitVIP(t, ns, "web")
	base, pool := baseName(ns, "web"), poolName(ns, "web", 80)
	harness.Eventually(t, "no write in flight", quiet(sim))

	// A round over objects in sync: collections read, nothing written.
	sim.ResetCounts()
	harness.Eventually(t, "two full-sync rounds", func() string {
		if n := sim.Counts()["GET virtualservice"]; n < 2 {
			return fmt.Sprintf("virtual services read %d times", n)
		}
		return ""
	})
	if w := writesOf(sim.Counts()); len(w) > 0 {
		t.Errorf("full-sync rounds over Services in sync wrote %v, want nothing", w)
	}

	vsvipUUID := harness.Str(simObject(sim, "vsvip", base), "uuid")
	harness.DeleteBehindVipgate(t, sim, "virtualservice/"+base, "pool/"+pool)
	harness.Eventually(t, "the deleted objects put back", func() string {
		vs := simObject(sim, "virtualservice", base)
		switch {
		case vs == nil:
			return "no virtual service"
		case simObject(sim, "pool", pool) == nil:
			return "no pool"
		case refName(sim, harness.Str(vs, "vsvip_ref")) != base:
			return "virtual service refers to VsVip " + harness.Str(vs, "vsvip_ref")
		}
		return ""
	})
	if got := harness.Str(simObject(sim, "vsvip", base), "uuid"); got != vsvipUUID {
		t.Errorf("the VsVip was replaced (%s, was %s): the repair must keep the VIP", got, vsvipUUID)
	}
	if got := waitVIP(t, ns, "web"); got != vip {
		t.Errorf("VIP in status %s after the repair, was %s", got, vip)
	}
}

// TestFullSyncGivesBackTheVIPOfALostVsVip: a Service's VsVip is deleted on
// the controller with its virtual service and pool. The full sync creates
// them again, and the VsVip asks for the address the Service's status shows:
// the user keeps the VIP (and the DNS records pointing at it), although the
// IPAM would hand out a lower address another Service freed before.
func TestFullSyncGivesBackTheVIPOfALostVsVip(t *testing.T) {
	ctx := context.Background()
	sim := harness.StartSim(t, nil)
	s := settingsFor(t, sim, func(s *config.Settings) { s.AKOSettings.FullSyncFrequency = "2" })
	start(t, sim, s, nil)
	ns := newNamespace(t)
	names := []string{"a", "b", "c"}
	for _, n := range names {
		createObj(t, lbService(ns, n, []int32{80}))
	}
	vips := map[string]string{}
	for _, n := range names {
		vips[n] = waitVIP(t, ns, n)
	}
	// The Service with the lowest address goes, so that address is the
	// IPAM's first free one again; the one with the highest loses its VsVip.
	slices.SortFunc(names, func(x, y string) int { return netip.MustParseAddr(vips[x]).Compare(netip.MustParseAddr(vips[y])) })
	gone, victim := names[0], names[2]
	vip := vips[victim]
	if err := env.Client.Delete(ctx, getService(t, ns, gone)); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, gone+"'s VsVip deleted", func() string {
		if simObject(sim, "vsvip", baseName(ns, gone)) != nil {
			return "still there"
		}
		return ""
	})
	harness.Eventually(t, "no write in flight", quiet(sim))

	base := baseName(ns, victim)
	harness.DeleteBehindVipgate(t, sim, "virtualservice/"+base, "pool/"+poolName(ns, victim, 80), "vsvip/"+base)
	harness.Eventually(t, victim+"'s objects put back", func() string {
		switch {
		case simObject(sim, "virtualservice", base) == nil:
			return "no virtual service"
		case simObject(sim, "vsvip", base) == nil:
			return "no VsVip"
		}
		return ""
	})
	if got := vsvipAddress(simObject(sim, "vsvip", base)); got != vip {
		t.Errorf("the VsVip came back with %s, want the VIP the Service had, %s", got, vip)
	}
	harness.Eventually(t, "no write in flight", quiet(sim))
	if got := waitVIP(t, ns, victim); got != vip {
		t.Errorf("VIP in status %s after the repair, was %s", got, vip)
	}
}
