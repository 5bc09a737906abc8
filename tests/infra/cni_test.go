package infra

import (
	"context"
	"testing"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestCNIPluginWithoutCRD: this package's API server serves no Calico or
// Cilium CRDs, so a cniPlugin that needs them stops start-up with a message
// saying what to do, instead of routing CIDRs the CNI does not use.
func TestCNIPluginWithoutCRD(t *testing.T) {
	sim := harness.StartSim(t, avisim.DemoSeed())
	for _, tt := range []struct{ plugin, want string }{
		{"calico", "static route controller: AKOSettings.cniPlugin is calico, but the API server does not serve BlockAffinity (crd.projectcalico.org/v1); pod CIDRs for static routes come from there: install calico's CRDs, set cniPlugin to the cluster's CNI, or set AKOSettings.disableStaticRouteSync"},
		{"cilium", "static route controller: AKOSettings.cniPlugin is cilium, but the API server does not serve CiliumNode (cilium.io/v2); pod CIDRs for static routes come from there: install cilium's CRDs, set cniPlugin to the cluster's CNI, or set AKOSettings.disableStaticRouteSync"},
	} {
		t.Run(tt.plugin, func(t *testing.T) {
			s := harness.DemoSettings(t, sim.Host())
			s.AKOSettings.CNIPlugin = tt.plugin
			_, err := operator.New(context.Background(), env.Cfg, operator.Options{Settings: s, Credentials: harness.SimCredentials(sim),
				WebhookHost: env.WebhookHost, WebhookPort: env.WebhookPort, WebhookCertDir: env.CertDir, MetricsAddr: "0",
				Namespace: "vipgate-system", LeaderElectionID: "vipgate-no-cni-crd"})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("operator.New: %v\nwant: %s", err, tt.want)
			}
		})
	}
}
