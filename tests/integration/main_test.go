// Package integration runs vipgate against a real kube-apiserver and etcd: the
// API server calls vipgate's webhooks over TLS, and kubectl shows users what they see.
package integration

import (
	"testing"

	"github.com/vipgate/vipgate/tests/harness"
)

var env *harness.Env

func TestMain(m *testing.M) {
	harness.Main(m, harness.Options{}, func(e *harness.Env) { env = e })
}
