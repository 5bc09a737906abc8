// Package metrics holds vipgate's own Prometheus metrics, served with
// controller-runtime's (workqueue, reconcile and webhook latency) on the
// manager's metrics endpoint.
package metrics

import (
	"sync"
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

	vipNetworkFree = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vipgate_vip_network_free_addresses",
		Help: "Addresses of a VIP network's subnet, in its static VIP ranges, that no VsVip holds (from the last inventory).",
	}, []string{"network", "subnet"})

	vipNetworkAllocated = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vipgate_vip_network_allocated_addresses",
		Help: "Addresses of a VIP network's subnet, in its static VIP ranges, that a VsVip holds (any owner; from the last inventory).",
	}, []string{"network", "subnet"})

	// shardsSettling is a work queue's blind spot: controller-runtime's
	// priority queue counts in workqueue_depth only items that are ready, not
	// those waiting on a delay, such as a shard sync waiting for its
	// Ingresses to stop changing.
	shardsSettling = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "vipgate_l7_shards_settling",
		Help: "L7 shards with Ingress changes whose sync waits for the changes to stop (not counted in workqueue_depth).",
	})

	// A vector without labels: no series until a certificate was read, so an
	// alert on time left never sees a zero expiry.
	webhookCertExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vipgate_webhook_certificate_expiry_timestamp_seconds",
		Help: "NotAfter of the webhook serving certificate this replica serves, as a Unix time.",
	}, nil)
)

func init() {
	crmetrics.Registry.MustRegister(admissionVerdicts, controllerCalls, inventoryRefreshFailures, inventoryAge,
		vipNetworkFree, vipNetworkAllocated, webhookCertExpiry, shardsSettling)
}

// ShardsSettling adds delta to the L7 shards whose sync waits for their
// Ingress changes to stop: +1 when a shard's first change is noted, -1 when
// its sync starts. Deltas, so several reconcilers (tests) add up.
func ShardsSettling(delta int) { shardsSettling.Add(float64(delta)) }

// Admission counts one admission decision.
func Admission(kind, verdict string) { admissionVerdicts.WithLabelValues(kind, verdict).Inc() }

// ControllerCall counts one call to the controller; outcome is "ok" or an error class.
func ControllerCall(op, outcome string) { controllerCalls.WithLabelValues(op, outcome).Inc() }

// InventoryRefreshed records a successful inventory load.
func InventoryRefreshed(at time.Time) { inventoryFetchedAt.Store(at.UnixNano()) }

// InventoryRefreshFailed counts a failed inventory load.
func InventoryRefreshFailed() { inventoryRefreshFailures.Inc() }

// VIPSubnet is the address usage of one subnet of a VIP network, counted in
// its static VIP ranges (what the controller's IPAM allocates VIPs from).
type VIPSubnet struct {
	Network string
	// Subnet is the prefix, e.g. 10.50.0.0/24.
	Subnet    string
	Free      int
	Allocated int
}

// vipSeries remembers the label pairs last exported, so a network or subnet
// that left the inventory stops being reported instead of showing its last value.
var (
	vipMu     sync.Mutex
	vipSeries = map[[2]string]bool{}
)

// VIPNetworks replaces the per-subnet VIP address gauges with the usage of the
// current inventory; series of subnets not in usage are deleted.
func VIPNetworks(usage []VIPSubnet) {
	vipMu.Lock()
	defer vipMu.Unlock()
	now := make(map[[2]string]bool, len(usage))
	for _, u := range usage {
		key := [2]string{u.Network, u.Subnet}
		now[key] = true
		vipNetworkFree.WithLabelValues(u.Network, u.Subnet).Set(float64(u.Free))
		vipNetworkAllocated.WithLabelValues(u.Network, u.Subnet).Set(float64(u.Allocated))
	}
	for key := range vipSeries {
		if !now[key] {
			vipNetworkFree.DeleteLabelValues(key[0], key[1])
			vipNetworkAllocated.DeleteLabelValues(key[0], key[1])
		}
	}
	vipSeries = now
}

// WebhookCertificate records the expiry of the serving certificate in use.
func WebhookCertificate(notAfter time.Time) {
	webhookCertExpiry.WithLabelValues().Set(float64(notAfter.Unix()))
}
