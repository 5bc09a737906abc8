// Package infra tests vipgate's infrastructure surface as AKO users meet it:
// clouds whose provider hands out VIP addresses (Azure's, Google Cloud's
// IPAM, no Avi static ranges) and AKO's AviInfraSetting manifests at
// v1alpha1 and v1beta1. A real kube-apiserver calls vipgate's webhooks,
// vipgate talks to avisim, and the tests assert what users see (kubectl's
// answers and warnings, status) and what the controller holds.
//
// The package has its own API server, so its Services and AviInfraSettings
// never meet other packages'.
package infra

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
