// Package gateway tests vipgate's Gateway API support on a real
// kube-apiserver with the pinned Gateway API standard CRDs installed:
// GatewayClass acceptance, Gateways becoming a VsVip and a virtual service
// on the simulated controller (VIP in status.addresses), routes answering
// through avisim's data plane, and admission refusals through kubectl.
package gateway

import (
	"fmt"
	"os"
	"testing"

	"github.com/vipgate/vipgate/tests/harness"
)

// env is the control plane the package's tests share, one after another
// (one vipgate serves the webhook port at a time).
var env *harness.Env

func TestMain(m *testing.M) {
	dir, err := harness.GatewayAPICRDDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wo := harness.DefaultWebhookOptions()
	wo.GatewayClasses = []string{gatewayClass}
	harness.Main(m, harness.Options{ExtraCRDDirs: []string{dir}, Webhooks: &wo}, func(e *harness.Env) { env = e })
}
