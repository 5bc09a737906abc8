package rules

import (
	"testing"

	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/crds/v1beta1"
)

// TestAviInfraSettingIgnoredFields: AKO's fields vipgate does not act on
// are admitted with one warning naming them, never refused; defaults (an
// explicit enablePublicIP false, an empty t1lr) are nothing to report.
func TestAviInfraSettingIgnoredFields(t *testing.T) {
	with := func(mut func(*v1beta1.AviInfraSetting)) *v1beta1.AviInfraSetting {
		a := ais("ako", "", "", "edge-seg", vn("vip-net-a"))
		mut(a)
		return a
	}
	nodeNets := func(a *v1beta1.AviInfraSetting) {
		a.Spec.Network.NodeNetworks = []v1beta1.AviInfraSettingNodeNetwork{{NetworkName: "node-net", Cidrs: []string{"10.10.0.0/16"}}}
	}
	listeners := func(a *v1beta1.AviInfraSetting) {
		a.Spec.Network.Listeners = []v1beta1.AviInfraListeners{{Port: ptr.To(8443), EnableSSL: ptr.To(true)}}
	}
	publicIP := func(v bool) func(*v1beta1.AviInfraSetting) {
		return func(a *v1beta1.AviInfraSetting) { a.Spec.Network.EnablePublicIP = ptr.To(v) }
	}
	t1 := func(v string) func(*v1beta1.AviInfraSetting) {
		return func(a *v1beta1.AviInfraSetting) { a.Spec.NSXSettings.T1LR = ptr.To(v) }
	}
	all := func(a *v1beta1.AviInfraSetting) {
		nodeNets(a)
		listeners(a)
		publicIP(true)(a)
		t1("/infra/tier-1s/t1")(a)
	}
	tests := []struct {
		name      string
		ais       *v1beta1.AviInfraSetting
		wantWarns []string
	}{
		{name: "none", ais: with(func(*v1beta1.AviInfraSetting) {})},
		{name: "defaults are not reported", ais: with(func(a *v1beta1.AviInfraSetting) { publicIP(false)(a); t1("")(a) })},
		{name: "nodeNetworks", ais: with(nodeNets),
			wantWarns: []string{`spec.network.nodeNetworks is accepted for AKO compatibility but vipgate does not act on it; the setting applies without it`}},
		{name: "enablePublicIP", ais: with(publicIP(true)),
			wantWarns: []string{`spec.network.enablePublicIP is accepted for AKO compatibility but vipgate does not act on it; the setting applies without it`}},
		{name: "all of them", ais: with(all),
			wantWarns: []string{`spec.network.nodeNetworks, spec.network.listeners, spec.network.enablePublicIP, spec.nsxSettings.t1lr are accepted for AKO compatibility but vipgate does not act on them; the setting applies without them`}},
		{name: "with a stale inventory too", ais: with(listeners),
			wantWarns: []string{WarnInventoryStale, `spec.network.listeners is accepted for AKO compatibility but vipgate does not act on it; the setting applies without it`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := Env{Settings: demoSettings(), Inventory: demoInventory(), InventoryStale: tt.name == "with a stale inventory too", Now: now}
			checkResult(t, ValidateAviInfraSetting(tt.ais, env), nil, tt.wantWarns)
		})
	}
}
