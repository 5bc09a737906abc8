// Package l7 runs vipgate's Ingress handling against a real kube-apiserver and
// the simulated controller: shards, SNI children, certificates from Secrets,
// host ownership, IngressClass parameters, deletion and restarts.
package l7

import (
	"testing"

	"github.com/vipgate/vipgate/tests/harness"
)

var env *harness.Env

func TestMain(m *testing.M) {
	harness.Main(m, harness.Options{}, func(e *harness.Env) { env = e })
}
