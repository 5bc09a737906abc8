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
