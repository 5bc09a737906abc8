// Package metrics holds vipgate's own Prometheus metrics, served with
// controller-runtime's (workqueue, reconcile and webhook latency) on the
// manager's metrics endpoint.
package metrics

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Admission verdicts.
const (
	VerdictAllowed = "allowed"
	VerdictWarned  = "warned"
	VerdictDenied  = "denied"
)

var (
	admissionVerdicts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vipgate_admission_verdicts_total",
		Help: "Admission decisions by object kind and verdict (allowed, warned, denied).",
	}, []string{"kind", "verdict"})

	controllerCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vipgate_controller_calls_total",
		Help: "Calls to the Avi Controller by operation (method and object type) and outcome.",
	}, []string{"op", "outcome"})

	inventoryRefreshFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vipgate_inventory_refresh_failures_total",
		Help: "Controller inventory refreshes that failed (the previous snapshot was kept).",
	})

	// inventoryFetchedAt backs the age gauge; one process has one inventory.
	inventoryFetchedAt atomic.Int64

	inventoryAge = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vipgate_inventory_age_seconds",
		Help: "Age of the controller inventory admission reads; past the staleness bound its checks fail open.",
	}, func() float64 {
		at := inventoryFetchedAt.Load()
		if at == 0 {
			return -1
		}
		return time.Since(time.Unix(0, at)).Seconds()
	})
)

func init() {
	crmetrics.Registry.MustRegister(admissionVerdicts, controllerCalls, inventoryRefreshFailures, inventoryAge)
}

// Admission counts one admission decision.
func Admission(kind, verdict string) { admissionVerdicts.WithLabelValues(kind, verdict).Inc() }

// ControllerCall counts one call to the controller; outcome is "ok" or an error class.
func ControllerCall(op, outcome string) { controllerCalls.WithLabelValues(op, outcome).Inc() }

// InventoryRefreshed records a successful inventory load.
func InventoryRefreshed(at time.Time) { inventoryFetchedAt.Store(at.UnixNano()) }

// InventoryRefreshFailed counts a failed inventory load.
func InventoryRefreshFailed() { inventoryRefreshFailures.Inc() }
