package infra

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/reconcile"
	"github.com/vipgate/vipgate/tests/harness"
)

// akoFields are the AKO fields vipgate accepts without acting on them.
const akoFields = `
    nodeNetworks:
    - networkName: demo-nodes
      cidrs: [10.91.0.0/24]
    listeners:
    - port: 8443
      enableSSL: true
      enableHTTP2: true
    - port: 8080
    enablePublicIP: true
  nsxSettings:
    t1lr: /infra/tier-1s/avi-t1`

const ignoredWarning = `spec.network.nodeNetworks, spec.network.listeners, spec.network.enablePublicIP, spec.nsxSettings.t1lr are accepted for AKO compatibility but vipgate does not act on them; the setting applies without them`

// TestAKOAviInfraSettingManifests applies AKO manifests with kubectl: a
// v1alpha1 AviInfraSetting as older AKO releases document it, and v1alpha1
// and v1beta1 ones with nodeNetworks, listeners, enablePublicIP and
// nsxSettings. Each is admitted, read back at v1beta1 with every field
// kept, Accepted, and the fields vipgate ignores are named in kubectl's
// warning and in the Supported condition.
func TestAKOAviInfraSettingManifests(t *testing.T) {
	sim := harness.StartSim(t, avisim.GCPSeed())
	s := harness.DemoSettings(t, sim.Host())
	s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "frontend-a"}}
	s.ControllerSettings.ServiceEngineGroupName = "demo-seg"
	env.StartVipgate(t, operator.Options{Settings: s, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour})
	t.Cleanup(func() { cleanup(t) })

	tests := []struct {
		name, version, extra string
		wantWarning          string
		wantSupported        metav1.Condition
	}{
		{name: "ako-alpha", version: "v1alpha1",
			wantSupported: metav1.Condition{Status: metav1.ConditionTrue, Reason: reconcile.ReasonAllFieldsSupported, Message: "vipgate acts on every field set"}},
		{name: "ako-alpha-fields", version: "v1alpha1", extra: akoFields, wantWarning: ignoredWarning,
			wantSupported: metav1.Condition{Status: metav1.ConditionFalse, Reason: reconcile.ReasonFieldsIgnored, Message: ignoredWarning}},
		{name: "ako-beta-fields", version: "v1beta1", extra: akoFields, wantWarning: ignoredWarning,
			wantSupported: metav1.Condition{Status: metav1.ConditionFalse, Reason: reconcile.ReasonFieldsIgnored, Message: ignoredWarning}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			manifest := fmt.Sprintf(`apiVersion: ako.vmware.com/%s
kind: AviInfraSetting
metadata:
  name: %s
spec:
  seGroup:
    name: demo-seg
  l7Settings:
    shardSize: SMALL
  network:
    vipNetworks:
    - networkName: frontend-b
      cidr: 10.90.1.0/24
    enableRhi: false%s
`, tt.version, tt.name, tt.extra)
			out, err := env.Kubectl(context.Background(), manifest, "apply", "-f", "-")
			if err != nil {
				t.Fatalf("kubectl apply refused the AKO manifest: %v\n%s", err, out)
			}
			want := fmt.Sprintf("aviinfrasetting.ako.vmware.com/%s created\n", tt.name)
			if tt.wantWarning != "" {
				want = "Warning: " + tt.wantWarning + "\n" + want
			}
			if out != want {
				t.Fatalf("kubectl said:\n%s\nwant:\n%s", out, want)
			}

			var ais v1beta1.AviInfraSetting
			harness.Eventually(t, tt.name+" is evaluated", func() string {
				if err := env.Client.Get(context.Background(), types.NamespacedName{Name: tt.name}, &ais); err != nil {
					return err.Error()
				}
				if ais.Status.Status != v1beta1.StatusAccepted || meta.FindStatusCondition(ais.Status.Conditions, reconcile.ConditionSupported) == nil {
					return fmt.Sprintf("status %+v", ais.Status)
				}
				return ""
			})
			c := meta.FindStatusCondition(ais.Status.Conditions, reconcile.ConditionSupported)
			if c.Status != tt.wantSupported.Status || c.Reason != tt.wantSupported.Reason || c.Message != tt.wantSupported.Message {
				t.Errorf("Supported condition %s %s %q, want %s %s %q", c.Status, c.Reason, c.Message,
					tt.wantSupported.Status, tt.wantSupported.Reason, tt.wantSupported.Message)
			}
			n := ais.Spec.Network
			if n.VipNetworks[0].Cidr != "10.90.1.0/24" || ais.Spec.L7Settings.ShardSize != "SMALL" || ais.Spec.SeGroup.Name != "demo-seg" {
				t.Errorf("read back at v1beta1: %+v", ais.Spec)
			}
			if tt.extra != "" {
				got := fmt.Sprintf("%s %v %d/%d %v %s", n.NodeNetworks[0].NetworkName, n.NodeNetworks[0].Cidrs, len(n.Listeners), *n.Listeners[0].Port,
					*n.EnablePublicIP, *ais.Spec.NSXSettings.T1LR)
				if want := "demo-nodes [10.91.0.0/24] 2/8443 true /infra/tier-1s/avi-t1"; got != want {
					t.Errorf("AKO fields read back at v1beta1: %s, want %s", got, want)
				}
			}
			// The object is served at both versions.
			for _, v := range []string{"v1alpha1", "v1beta1"} {
				got, err := env.Kubectl(context.Background(), "", "get", "aviinfrasettings."+v+".ako.vmware.com", tt.name, "-o", "jsonpath={.apiVersion} {.spec.network.vipNetworks[0].networkName}")
				if err != nil || got != "ako.vmware.com/"+v+" frontend-b" {
					t.Errorf("get at %s: %q %v", v, got, err)
				}
			}
		})
	}

	// A listener port out of range is refused by the schema, as AKO's is.
	out, err := env.Kubectl(context.Background(), `apiVersion: ako.vmware.com/v1alpha1
kind: AviInfraSetting
metadata:
  name: ako-bad-port
spec:
  network:
    listeners:
    - port: 70000
`, "apply", "-f", "-")
	if err == nil || !strings.Contains(out, `spec.network.listeners[0].port: Invalid value: 70000: spec.network.listeners[0].port in body should be less than or equal to 65535`) {
		t.Errorf("listener port 70000: %v\n%s", err, out)
	}
}
