package infra

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/rules"
	"github.com/vipgate/vipgate/tests/harness"
	"github.com/vipgate/vipgate/webhooks"
)

// providerCase is one public-cloud seed and what a user of it sees.
type providerCase struct {
	name string
	seed *avisim.Seed
	// vipNetwork is NetworkSettings.vipNetworkList; infraNetwork and
	// infraCIDR the AviInfraSetting's one VIP network.
	vipNetwork, infraNetwork, infraCIDR string
	// wantPlain and wantInfra are the first addresses the provider hands
	// out in each subnet (the ones it reserves skipped).
	wantPlain, wantInfra string
	// requested is a free address asked for in vipNetwork's subnet.
	requested string
	// reserved is an address the provider keeps, and the refusal it gets.
	reserved, reservedMsg string
	// vipPlacement is how the VsVip names the subnet, as AKO does there.
	vipPlacement  func(sim *avisim.Sim, vip map[string]any) string
	wantPlacement string
}

var cases = []providerCase{
	{
		name: "Azure", seed: avisim.AzureSeed(),
		vipNetwork: "vip-subnet-a", infraNetwork: "vip-subnet-b", infraCIDR: "10.80.1.0/24",
		wantPlain: "10.80.0.4", wantInfra: "10.80.1.4", requested: "10.80.0.77",
		reserved:    "10.80.0.3",
		reservedMsg: `spec.loadBalancerIP: Invalid value: "10.80.0.3": is reserved by Azure in subnet 10.80.0.0/24 (vip-subnet-a), which keeps the first four addresses and the last address of every subnet; pick another address in it`,
		vipPlacement: func(_ *avisim.Sim, v map[string]any) string {
			return fmt.Sprintf("subnet_uuid=%v", v["subnet_uuid"])
		},
		wantPlacement: "subnet_uuid=vip-subnet-a",
	},
	{
		name: "GCP", seed: avisim.GCPSeed(),
		vipNetwork: "frontend-a", infraNetwork: "frontend-b", infraCIDR: "10.90.1.0/24",
		wantPlain: "10.90.0.2", wantInfra: "10.90.1.2", requested: "10.90.0.77",
		reserved:    "10.90.0.254",
		reservedMsg: `spec.loadBalancerIP: Invalid value: "10.90.0.254": is reserved by Google Cloud in subnet 10.90.0.0/24 (frontend-a), which keeps the first two addresses and the last two addresses of every subnet; pick another address in it`,
		vipPlacement: func(sim *avisim.Sim, v map[string]any) string {
			name := "?"
			for _, n := range sim.Objects(harness.DemoTenant, "network") {
				if n["url"] == harness.Str(v, "ipam_network_subnet", "network_ref") {
					name = n["name"].(string)
				}
			}
			return fmt.Sprintf("network=%s subnet_uuid=%v", name, v["subnet_uuid"])
		},
		wantPlacement: "network=frontend-a subnet_uuid=<nil>",
	},
}

// TestProviderIPAM: on the Azure and GCP seeds (provider IPAM, two-arm with
// this cluster's SE group demo-seg), a Service without loadBalancerIP and
// one selecting an AviInfraSetting whose cidr is a subnet of its network are
// admitted and get VIPs the provider hands out; a requested address in the
// subnet is admitted and kept, one the provider reserves is refused, and an
// AviInfraSetting naming a subnet the network does not have is refused.
func TestProviderIPAM(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runProvider(t, tc) })
	}
}

func runProvider(t *testing.T, tc providerCase) {
	ctx := context.Background()
	sim := harness.StartSim(t, tc.seed)
	s := harness.DemoSettings(t, sim.Host())
	s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: tc.vipNetwork}}
	s.ControllerSettings.ServiceEngineGroupName = "demo-seg"
	op := env.StartVipgate(t, operator.Options{Settings: s, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour})
	t.Cleanup(func() { cleanup(t) })
	if snap := op.Inventory.Snapshot(); !snap.Cloud.ProviderIPAM() {
		t.Fatalf("inventory of the %s seed: cloud %+v is not provider-allocated", tc.name, snap.Cloud)
	}

	// An AviInfraSetting whose cidr is not a subnet of its network is refused.
	bad := aviInfraSetting("bad-cidr", tc.infraNetwork, "10.99.0.0/24")
	wantDenied(t, env.Client.Create(ctx, bad), webhooks.HookValidateAviInfraSetting,
		fmt.Sprintf(`spec.network.vipNetworks[0].cidr: Invalid value: "10.99.0.0/24": not a configured subnet of network %s; configured: %s`, tc.infraNetwork, tc.infraCIDR))

	// One whose cidr is a subnet of the network is admitted and accepted,
	// with no static range anywhere.
	env.Create(t, aviInfraSetting("by-cidr", tc.infraNetwork, tc.infraCIDR))
	waitInfraAccepted(t, "by-cidr")

	ns := env.NewNamespace(t, harness.UniqueName(t, 20), nil, nil)
	env.Create(t, lbService(ns, "plain", ""))
	infra := lbService(ns, "infra", "")
	infra.Annotations[rules.AnnInfraSetting] = "by-cidr"
	env.Create(t, infra)
	env.Create(t, lbService(ns, "asked", tc.requested))
	wantDenied(t, env.Client.Create(ctx, lbService(ns, "reserved", tc.reserved)), webhooks.HookValidateService, tc.reservedMsg)

	for _, w := range []struct{ svc, want string }{{"plain", tc.wantPlain}, {"infra", tc.wantInfra}, {"asked", tc.requested}} {
		if got := waitVIP(t, ns, w.svc); got != w.want {
			t.Errorf("Service %s/%s got VIP %s, want %s (the provider's first free address)", ns, w.svc, got, w.want)
		}
	}
	vsvip := harness.SimObject(sim, harness.DemoTenant, "vsvip", "demo--"+ns+"-plain")
	if vsvip == nil {
		t.Fatalf("no VsVip demo--%s-plain on the controller", ns)
	}
	if got := tc.vipPlacement(sim, harness.Path(vsvip, "vip", 0).(map[string]any)); got != tc.wantPlacement {
		t.Errorf("VsVip names its subnet as %s, want %s", got, tc.wantPlacement)
	}
}

func aviInfraSetting(name, network, cidr string) *v1beta1.AviInfraSetting {
	return &v1beta1.AviInfraSetting{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1beta1.AviInfraSettingSpec{
			Network: v1beta1.AviInfraSettingNetwork{VipNetworks: []v1beta1.AviInfraSettingVipNetwork{{NetworkName: network, Cidr: cidr}}},
			SeGroup: v1beta1.AviInfraSettingSeGroup{Name: "demo-seg"},
		},
	}
}

// lbService is a LoadBalancer Service of vipgate's (no class: the demo
// settings make vipgate the default) on port 80, asking for ip when set.
func lbService(ns, name, ip string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerIP: ip,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}}},
	}
}

// wantDenied fails unless err is vipgate's admission rejection (from hook)
// carrying msg.
func wantDenied(t testing.TB, err error, hook, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("admitted; want a rejection with %q", msg)
	}
	if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) {
		t.Errorf("want an Invalid rejection, got %v", err)
	}
	for _, part := range []string{fmt.Sprintf("admission webhook %q denied the request", hook), msg} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("rejection lacks %q:\n%v", part, err)
		}
	}
}

func waitVIP(t testing.TB, ns, name string) string {
	t.Helper()
	var ip string
	harness.Eventually(t, fmt.Sprintf("Service %s/%s gets a VIP", ns, name), func() string {
		var svc corev1.Service
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &svc); err != nil {
			return err.Error()
		}
		if len(svc.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Sprintf("status %+v", svc.Status)
		}
		ip = svc.Status.LoadBalancer.Ingress[0].IP
		return ""
	})
	return ip
}

func waitInfraAccepted(t testing.TB, name string) {
	t.Helper()
	harness.Eventually(t, "AviInfraSetting "+name+" is Accepted", func() string {
		var ais v1beta1.AviInfraSetting
		if err := env.Client.Get(context.Background(), types.NamespacedName{Name: name}, &ais); err != nil {
			return err.Error()
		}
		if ais.Status.Status != v1beta1.StatusAccepted {
			return fmt.Sprintf("status %+v", ais.Status)
		}
		return ""
	})
}

// cleanup releases the test's Services while its vipgate still runs, then
// deletes its AviInfraSettings, so the next test starts from an empty cluster.
func cleanup(t testing.TB) {
	if !env.ReleaseServices(t) {
		return
	}
	ctx := context.Background()
	var list v1beta1.AviInfraSettingList
	if env.Client.List(ctx, &list) == nil {
		for i := range list.Items {
			_ = env.Client.Delete(ctx, &list.Items[i])
		}
	}
}
