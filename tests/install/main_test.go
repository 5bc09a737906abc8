// Package install checks what a user does on day one against a real
// kube-apiserver: the chart and the kustomize base are accepted by the API
// server (server-side dry run, with cert-manager's CRDs installed), vipgate's
// webhooks keep answering while their serving certificate and CA rotate, and
// the self-managed certificate Manager works on a real API server.
package install

import (
	"testing"

	"github.com/vipgate/vipgate/tests/harness"
)

var env *harness.Env

func TestMain(m *testing.M) {
	harness.Main(m, harness.Options{CertManagerCRDs: true}, func(e *harness.Env) { env = e })
}
