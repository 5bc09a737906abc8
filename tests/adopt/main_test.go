// Package adopt tests the switch from AKO on a real kube-apiserver: avisim
// holds the objects AKO built (avisim/akograph), the Kubernetes objects carry
// AKO's status and finalizer, and vipgate starts with the same clusterName.
// Its webhooks fail open here, as they do for Services and Ingresses in the
// chart: the objects predate vipgate, created while only AKO ran.
package adopt

import (
	"testing"

	"github.com/vipgate/vipgate/tests/harness"
)

var env *harness.Env

func TestMain(m *testing.M) {
	wo := harness.DefaultWebhookOptions()
	wo.FailOpen = true
	harness.Main(m, harness.Options{Webhooks: &wo}, func(e *harness.Env) { env = e })
}
