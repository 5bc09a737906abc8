package reconcile

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/reconcile"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestEnableEventsFalse: with AKO's enableEvents false a Service the
// controller refuses, then accepts, gets its condition and VIP but no Event
// (neither the Warning nor the recovery's Synced). A second vipgate with
// Events on then syncs a Service (a first success: its VIP and condition say
// it, no Event) and sees another refused, whose Warning Event arrives:
// Events leave in order, so neither silence is just Events still being on
// their way.
func TestEnableEventsFalse(t *testing.T) {
	sim := harness.StartSim(t, nil)
	ns := newNamespace(t)
	shortRetry := func(o *operator.Options) { o.RetryBadRequest = 200 * time.Millisecond }
	_, stop := startStoppable(t, sim, settingsFor(t, sim, func(s *config.Settings) { s.AKOSettings.EnableEvents = false }), shortRetry)
	sim.Faults().FailNamed("-quiet", http.StatusBadRequest)
	quiet := lbService(ns, "quiet", []int32{80})
	createObj(t, quiet)
	waitRefused(t, ns, quiet.Name)
	sim.Faults().FailNamed("-quiet", 0)
	waitVIP(t, ns, quiet.Name)
	stop()

	start(t, sim, settingsFor(t, sim, nil), shortRetry)
	synced := lbService(ns, "synced", []int32{80})
	createObj(t, synced)
	waitVIP(t, ns, synced.Name)
	sim.Faults().FailNamed("-loud", http.StatusBadRequest)
	loud := lbService(ns, "loud", []int32{80})
	createObj(t, loud)
	harness.Eventually(t, "the Warning Event of the Service refused with Events on", func() string {
		for _, e := range serviceEvents(t, loud) {
			if e.Type == corev1.EventTypeWarning && e.Reason == reconcile.ReasonControllerError {
				return ""
			}
		}
		return fmt.Sprintf("events %v", serviceEvents(t, loud))
	})
	if evs := serviceEvents(t, quiet); len(evs) != 0 {
		t.Errorf("enableEvents false, but the Service got Events: %s %s %q", evs[0].Type, evs[0].Reason, evs[0].Message)
	}
	if evs := serviceEvents(t, synced); len(evs) != 0 {
		t.Errorf("a first success recorded Events: %s %s %q", evs[0].Type, evs[0].Reason, evs[0].Message)
	}
}

// waitRefused waits until the Service's AviSynced condition says the
// controller refused it.
func waitRefused(t *testing.T, ns, name string) {
	t.Helper()
	harness.Eventually(t, name+" refused by the controller", func() string {
		c := syncedCondition(getService(t, ns, name))
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != reconcile.ReasonControllerError {
			return fmt.Sprintf("condition %+v", c)
		}
		return ""
	})
}
