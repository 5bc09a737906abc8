// Package nodes tests what vipgate reads from nodes and pods on a real
// kube-apiserver: pod CIDRs for static routes by cniPlugin (Calico's
// BlockAffinities, CiliumNodes, OVN-Kubernetes' node annotation, and
// spec.podCIDRs otherwise), with the CNIs' CRDs installed from testdata,
// and NodePortLocal pools from the pods' nodeportlocal.antrea.io annotation.
// vipgate talks to avisim; the tests assert what the controller holds.
//
// The package has its own API server: its Nodes and CNI objects feed no
// other package's routes.
package nodes

import (
	"testing"

	"github.com/vipgate/vipgate/tests/harness"
)

// env is the control plane the package's tests share, one after another.
var env *harness.Env

func TestMain(m *testing.M) {
	harness.Main(m, harness.Options{ExtraCRDDirs: []string{"testdata/crds"}}, func(e *harness.Env) { env = e })
}
