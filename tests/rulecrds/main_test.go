// Package rulecrds runs vipgate's HostRule, HTTPRule and L4Rule support on a
// real kube-apiserver and the simulated controller: every controller
// reference checked at kubectl apply (exists, missing, wrong kind, stale
// inventory), the effect on the controller's objects, removal, duplicate
// refusal, and the status reconciler's Rejected path after a change on the
// controller.
package rulecrds

import (
	"testing"

	"github.com/vipgate/vipgate/tests/harness"
)

var env *harness.Env

func TestMain(m *testing.M) {
	harness.Main(m, harness.Options{}, func(e *harness.Env) { env = e })
}
