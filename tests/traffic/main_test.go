// Package traffic judges vipgate by what users get: traffic through the VIPs
// of the simulated controller's data plane (avisim/dataplane) to echo
// backends standing in for pods and nodes, on a real kube-apiserver with
// vipgate writing the objects. An object graph that looks right but would
// not route fails here.
//
// VIPs come from avisim's loopback seed (127.77.0.0/22), so each is served at
// its own address; tests still ask the data plane where a VIP port is served,
// so they also pass where a port cannot be bound directly (no root for
// ports 80 and 443).
package traffic

import (
	"testing"

	"github.com/vipgate/vipgate/tests/harness"
)

// env is the control plane the package's tests share, one after another
// (one vipgate serves the webhook port at a time).
var env *harness.Env

func TestMain(m *testing.M) {
	harness.Main(m, harness.Options{}, func(e *harness.Env) { env = e })
}
