// Package providers tests vipgate on clouds whose provider hands out VIP
// addresses (Azure's, Google Cloud's and AWS's IPAM, no Avi static ranges):
// a real kube-apiserver calls vipgate's webhooks, vipgate talks to avisim
// seeded with such a cloud, and the tests assert what users see (admission
// answers, Service status) and what the controller holds.
//
// The package has its own API server, so its Services and AviInfraSettings
// never meet other packages'.
package providers

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
