// Package certmanager runs vipgate's Ingress admission against a real
// kube-apiserver with cert-manager's CRDs installed (from the pinned
// cert-manager module), so a Certificate that will write an Ingress's TLS
// Secret turns a missing-Secret rejection into a warning.
package certmanager

import (
	"testing"

	"github.com/vipgate/vipgate/tests/harness"
)

var env *harness.Env

func TestMain(m *testing.M) {
	harness.Main(m, harness.Options{CertManagerCRDs: true}, func(e *harness.Env) { env = e })
}
