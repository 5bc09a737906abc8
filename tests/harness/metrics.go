package harness

import (
	"strings"
	"testing"

	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Reconciles sums controller-runtime's controller_runtime_reconcile_total
// with result "success" over every controller whose name starts with prefix
// ("service", "ingress": the shard controller and "ingress-finalizer").
// Managers that were stopped no longer add to it, so a rise after an action
// counts the running vipgate's reconciles: the tests' way to know a restarted
// vipgate has looked at every object without a product hook.
func Reconciles(t testing.TB, prefix string) int {
	t.Helper()
	mfs, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	total := 0
	for _, mf := range mfs {
		if mf.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var name, result string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "controller":
					name = l.GetValue()
				case "result":
					result = l.GetValue()
				}
			}
			if strings.HasPrefix(name, prefix) && result == "success" {
				total += int(m.GetCounter().GetValue())
			}
		}
	}
	return total
}
