package operator

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/metrics"
	"github.com/vipgate/vipgate/rules"
)

// ReasonSettings is the Event reason for a problem of the settings file found
// against the controller.
const ReasonSettings = "SettingsInvalid"

// settingsChecker checks the global settings that name controller objects
// (NetworkSettings.vipNetworkList, ControllerSettings.serviceEngineGroupName)
// against every new inventory, with the rules AviInfraSettings get at
// admission. A problem is logged, and reported as a Warning Event on
// vipgate's own Pod, when it appears or changes; admission keeps running, and
// each Service or Ingress gets the same message from the reconciler.
func settingsChecker(mgr ctrl.Manager, o Options) func(context.Context, *inventory.Snapshot) {
	var (
		mu   sync.Mutex
		last string
	)
	rec := mgr.GetEventRecorderFor("vipgate") //nolint:staticcheck
	return func(ctx context.Context, snap *inventory.Snapshot) {
		res := rules.ValidateNetworkSettings(rules.NewEnv(ctx, o.Settings, fixed{snap}, nil, 0, time.Now()))
		msg := ""
		if !res.Allowed() {
			msg = res.Err().Error()
		}
		mu.Lock()
		changed := msg != last
		last = msg
		mu.Unlock()
		if !changed {
			return
		}
		log := logr.FromContextOrDiscard(ctx).WithName("settings")
		if msg == "" {
			log.Info("settings match the controller again")
			return
		}
		log.Info("settings do not match the controller", "problems", msg)
		if o.PodName != "" && o.Namespace != "" && bool(o.Settings.AKOSettings.EnableEvents) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: o.PodName, Namespace: o.Namespace}}
			rec.Event(pod, corev1.EventTypeWarning, ReasonSettings, msg)
		}
	}
}

// fixed is an inventory.Source of one snapshot.
type fixed struct{ s *inventory.Snapshot }

func (f fixed) Snapshot() *inventory.Snapshot { return f.s }

// exportVIPUsage publishes the free and allocated addresses of every VIP
// subnet, for the dashboard and the exhaustion alert.
func exportVIPUsage(snap *inventory.Snapshot) {
	usage := snap.Usage()
	out := make([]metrics.VIPSubnet, len(usage))
	for i, u := range usage {
		out[i] = metrics.VIPSubnet{Network: u.Network, Subnet: u.Subnet.String(), Free: u.Free, Allocated: u.Allocated}
	}
	metrics.VIPNetworks(out)
}

// fullSync is AKOSettings.fullSyncFrequency as a duration (AKO's full sync:
// the applier reads the controller's objects again this often), 0 when unset.
func fullSync(s *config.Settings) time.Duration {
	if n, err := strconv.Atoi(s.AKOSettings.FullSyncFrequency); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}
