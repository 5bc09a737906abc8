// Package multicluster tests what lets several clusters share one Avi
// controller: static routes per cluster in one VrfContext (other clusters'
// routes survive every change, conflicts included), SE group ownership,
// clusterName-prefixed objects that two vipgates never take from each other,
// per-namespace tenants, and namespace selection.
//
// It runs on its own control plane (a second one is started for the
// two-cluster test) against in-process avisim controllers.
package multicluster

import (
	"testing"

	"github.com/vipgate/vipgate/tests/harness"
)

// env is the package's control plane; tests run one after another because
// only one vipgate can serve its webhook port.
var env *harness.Env

func TestMain(m *testing.M) {
	harness.Main(m, harness.Options{}, func(e *harness.Env) { env = e })
}
