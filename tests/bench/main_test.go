// Package bench measures vipgate on a real kube-apiserver and etcd with the
// simulated controller: time to VIP, controller calls per Service and writes
// on restart (reconcile_bench_test.go), admission latency (admission_bench_test.go).
// Benchmarks only: numbers are reported with b.ReportMetric, never asserted
// against wall-clock limits.
package bench

import (
	"flag"
	"os"
	"testing"

	"github.com/vipgate/vipgate/tests/harness"
)

// env is the control plane every benchmark in the package shares.
var env *harness.Env

// TestMain starts the control plane only when benchmarks were asked for, so
// `make test` (which builds and vets this package) does not pay for it.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	harness.Main(m, harness.Options{}, func(e *harness.Env) { env = e })
}
