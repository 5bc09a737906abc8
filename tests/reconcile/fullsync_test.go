package reconcile

import (
	"fmt"
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
