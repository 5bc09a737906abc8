package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

func TestMetricsAreRegisteredAndCount(t *testing.T) {
	Admission("Service", VerdictDenied)
	Admission("Service", VerdictDenied)
	ControllerCall("POST vsvip", "bad_request")
	InventoryRefreshed(time.Now().Add(-time.Minute))
	InventoryRefreshFailed()

	if got := testutil.ToFloat64(admissionVerdicts.WithLabelValues("Service", VerdictDenied)); got != 2 {
		t.Errorf("denied Services = %v, want 2", got)
	}
	if got := testutil.ToFloat64(controllerCalls.WithLabelValues("POST vsvip", "bad_request")); got != 1 {
		t.Errorf("controller calls = %v, want 1", got)
	}
	if age := testutil.ToFloat64(inventoryAge); age < 59 || age > 3600 {
		t.Errorf("inventory age = %v, want about 60s", age)
	}
	n, err := testutil.GatherAndCount(crmetrics.Registry, "vipgate_admission_verdicts_total", "vipgate_controller_calls_total",
		"vipgate_inventory_refresh_failures_total", "vipgate_inventory_age_seconds")
	if err != nil || n < 4 {
		t.Fatalf("registry has %d vipgate series (err %v)", n, err)
	}
	if err := testutil.GatherAndCompare(crmetrics.Registry, strings.NewReader(`
# HELP vipgate_inventory_refresh_failures_total Controller inventory refreshes that failed (the previous snapshot was kept).
# TYPE vipgate_inventory_refresh_failures_total counter
vipgate_inventory_refresh_failures_total 1
`), "vipgate_inventory_refresh_failures_total"); err != nil {
		t.Error(err)
	}
}

func TestVIPNetworksReplacesSeries(t *testing.T) {
	const head = `
# HELP vipgate_vip_network_allocated_addresses Addresses of a VIP network's subnet, in its static VIP ranges, that a VsVip holds (any owner; from the last inventory).
# TYPE vipgate_vip_network_allocated_addresses gauge
`
	const freeHead = `
# HELP vipgate_vip_network_free_addresses Addresses of a VIP network's subnet, in its static VIP ranges, that no VsVip holds (from the last inventory).
# TYPE vipgate_vip_network_free_addresses gauge
`
	for _, tc := range []struct {
		name                string
		usage               []VIPSubnet
		wantFree, wantAlloc string
	}{
		{"two subnets", []VIPSubnet{
			{Network: "vip-net-a", Subnet: "10.50.0.0/24", Free: 190, Allocated: 1},
			{Network: "vip-net-b", Subnet: "10.60.0.0/24", Free: 0, Allocated: 20},
		},
			freeHead + `vipgate_vip_network_free_addresses{network="vip-net-a",subnet="10.50.0.0/24"} 190
vipgate_vip_network_free_addresses{network="vip-net-b",subnet="10.60.0.0/24"} 0
`,
			head + `vipgate_vip_network_allocated_addresses{network="vip-net-a",subnet="10.50.0.0/24"} 1
vipgate_vip_network_allocated_addresses{network="vip-net-b",subnet="10.60.0.0/24"} 20
`},
		{"a network left the inventory, one changed", []VIPSubnet{
			{Network: "vip-net-a", Subnet: "10.50.0.0/24", Free: 185, Allocated: 6},
		},
			freeHead + `vipgate_vip_network_free_addresses{network="vip-net-a",subnet="10.50.0.0/24"} 185
`,
			head + `vipgate_vip_network_allocated_addresses{network="vip-net-a",subnet="10.50.0.0/24"} 6
`},
		{"no VIP networks", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			VIPNetworks(tc.usage)
			if err := testutil.CollectAndCompare(vipNetworkFree, strings.NewReader(tc.wantFree)); err != nil {
				t.Error(err)
			}
			if err := testutil.CollectAndCompare(vipNetworkAllocated, strings.NewReader(tc.wantAlloc)); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestWebhookCertificateExpiryAbsentUntilSet(t *testing.T) {
	if n := testutil.CollectAndCount(webhookCertExpiry); n != 0 {
		t.Fatalf("expiry exported before any certificate was read: %d series", n)
	}
	notAfter := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	WebhookCertificate(notAfter)
	if err := testutil.GatherAndCompare(crmetrics.Registry, strings.NewReader(`
# HELP vipgate_webhook_certificate_expiry_timestamp_seconds NotAfter of the webhook serving certificate this replica serves, as a Unix time.
# TYPE vipgate_webhook_certificate_expiry_timestamp_seconds gauge
vipgate_webhook_certificate_expiry_timestamp_seconds 1.893553445e+09
`), "vipgate_webhook_certificate_expiry_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}
