package reconcile

import (
	"testing"

	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestEnableEventsFalse: with AKO's enableEvents false a synced Service gets
// its VIP but no Event. A second vipgate with Events on then syncs another
// Service and its Event arrives, so the first Service's silence is not just
// Events still being on their way.
func TestEnableEventsFalse(t *testing.T) {
	sim := harness.StartSim(t, nil)
	ns := newNamespace(t)
	_, stop := startStoppable(t, sim, settingsFor(t, sim, func(s *config.Settings) { s.AKOSettings.EnableEvents = false }), nil)
	quiet := lbService(ns, "quiet", []int32{80})
	createObj(t, quiet)
	waitVIP(t, ns, "quiet")
	stop()

	start(t, sim, settingsFor(t, sim, nil), nil)
	loud := lbService(ns, "loud", []int32{80})
	createObj(t, loud)
	waitVIP(t, ns, "loud")
	harness.Eventually(t, "an Event for the Service synced with Events on", func() string {
		if len(serviceEvents(t, loud)) == 0 {
			return "none yet"
		}
		return ""
	})
	if evs := serviceEvents(t, quiet); len(evs) != 0 {
		t.Errorf("enableEvents false, but the Service got Events: %v", evs[0].Message)
	}
}
