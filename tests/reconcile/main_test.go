// Package reconcile tests vipgate's Service reconciler end to end: a real
// kube-apiserver and etcd (envtest with the project's binaries), vipgate
// in-process, and the simulated Avi controller reached through alb-sdk. Each
// test asserts what a user sees (Service status, conditions, Events) and what
// the controller holds (objects, fields, write counts).
//
// The package has its own API server, separate from tests/integration's, so
// the VIPs and Services of these tests never meet the admission tests'.
package reconcile

import (
	"testing"

	"github.com/vipgate/vipgate/tests/harness"
)

// env is the control plane all tests of the package share; tests run one
// after another because only one vipgate can serve the webhook port.
var env *harness.Env

func TestMain(m *testing.M) {
	harness.Main(m, harness.Options{}, func(e *harness.Env) { env = e })
}
