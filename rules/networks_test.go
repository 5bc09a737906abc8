package rules

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

func TestValidateVIPNetworks(t *testing.T) {
	path := field.NewPath("spec", "network", "vipNetworks")
	n := func(name string) VIPNetworkRef { return VIPNetworkRef{Name: name} }
	tests := []struct {
		name      string
		nets      []VIPNetworkRef
		settings  *config.Settings
		inv       *inventory.Snapshot
		stale     bool
		wantErrs  []string
		wantWarns []string
	}{
		{name: "empty list"},
		{name: "empty list with stale inventory warns nothing", stale: true},
		{name: "one network by name", nets: []VIPNetworkRef{n("vip-net-a")}},
		{name: "one network by UUID", nets: []VIPNetworkRef{{UUID: "network-b"}}},
		{name: "configured cidr", nets: []VIPNetworkRef{{Name: "vip-net-a", CIDR: "10.50.0.0/24"}}},
		{name: "configured v6cidr with ipFamily V6", nets: []VIPNetworkRef{{Name: "vip-net-a", CIDR: "10.50.0.0/24", V6CIDR: "2001:db8:50::/64"}},
			settings: demoSettings(ipv6Settings), inv: demoInventory(withV6)},

		// Static.
		{name: "neither name nor UUID", nets: []VIPNetworkRef{{CIDR: "10.50.0.0/24"}},
			wantErrs: []string{`spec.network.vipNetworks[0].networkName: Required value: set networkName (or networkUUID) to a VIP network of the cloud`}},
		{name: "both name and UUID", nets: []VIPNetworkRef{{Name: "vip-net-a", UUID: "network-a"}},
			wantErrs: []string{`spec.network.vipNetworks[0].networkUUID: Invalid value: "network-a": set either networkName or networkUUID, not both`}},
		{name: "bad cidr", nets: []VIPNetworkRef{{Name: "vip-net-a", CIDR: "10.50.0.0/33"}},
			wantErrs: []string{`spec.network.vipNetworks[0].cidr: Invalid value: "10.50.0.0/33": must be an IPv4 CIDR such as 10.50.0.0/24`}},
		{name: "IPv6 in cidr", nets: []VIPNetworkRef{{Name: "vip-net-a", CIDR: "2001:db8:50::/64"}},
			wantErrs: []string{`spec.network.vipNetworks[0].cidr: Invalid value: "2001:db8:50::/64": must be an IPv4 CIDR such as 10.50.0.0/24`}},
		{name: "IPv4 in v6cidr", nets: []VIPNetworkRef{{Name: "vip-net-a", V6CIDR: "10.50.0.0/24"}}, settings: demoSettings(ipv6Settings),
			wantErrs: []string{`spec.network.vipNetworks[0].v6cidr: Invalid value: "10.50.0.0/24": must be an IPv6 CIDR such as 2001:db8::/64`}},
		{name: "v6cidr without IPv6", nets: []VIPNetworkRef{{Name: "vip-net-a", V6CIDR: "2001:db8:50::/64"}}, inv: demoInventory(withV6),
			wantErrs: []string{`spec.network.vipNetworks[0].v6cidr: Invalid value: "2001:db8:50::/64": IPv6 VIPs need AKOSettings.ipFamily V6 (it is V4); remove v6cidr or enable IPv6`}},
		{name: "same name twice", nets: []VIPNetworkRef{n("vip-net-a"), n("vip-net-a")},
			wantErrs: []string{`spec.network.vipNetworks[1]: Invalid value: "vip-net-a": names the same network as spec.network.vipNetworks[0]; list each network once`}},

		// Controller-dependent.
		{name: "unknown name", nets: []VIPNetworkRef{n("vip-net-x")},
			wantErrs: []string{`spec.network.vipNetworks[0].networkName: Invalid value: "vip-net-x": no network with this name in cloud "Default-Cloud"; known VIP networks: vip-net-a, vip-net-b`}},
		{name: "unknown UUID", nets: []VIPNetworkRef{{UUID: "network-x"}},
			wantErrs: []string{`spec.network.vipNetworks[0].networkUUID: Invalid value: "network-x": no network with this UUID in cloud "Default-Cloud"; known VIP networks: vip-net-a, vip-net-b`}},
		{name: "same network by name and UUID", nets: []VIPNetworkRef{n("vip-net-a"), {UUID: "network-a"}},
			wantErrs: []string{`spec.network.vipNetworks[1]: Invalid value: "network-a": is network vip-net-a (network-a), already listed; list each network once`}},
		{name: "cidr not configured", nets: []VIPNetworkRef{{Name: "vip-net-a", CIDR: "10.70.0.0/24"}},
			wantErrs: []string{`spec.network.vipNetworks[0].cidr: Invalid value: "10.70.0.0/24": not a configured subnet of network vip-net-a; configured: 10.50.0.0/24`}},
		{name: "v6cidr not configured", nets: []VIPNetworkRef{{Name: "vip-net-b", V6CIDR: "2001:db8:60::/64"}}, settings: demoSettings(ipv6Settings),
			wantErrs: []string{`spec.network.vipNetworks[0].v6cidr: Invalid value: "2001:db8:60::/64": not a configured subnet of network vip-net-b; configured: none`}},
		{name: "exhausted subnet by cidr", nets: []VIPNetworkRef{{Name: "vip-net-b", CIDR: "10.60.0.0/28"}}, inv: demoInventory(exhaustNetB),
			wantErrs: []string{`spec.network.vipNetworks[0].cidr: Invalid value: "10.60.0.0/28": static VIP range 10.60.0.2-10.60.0.5 of network vip-net-b (10.60.0.0/28) is exhausted; free addresses on the controller, widen the range, or pick another subnet`}},
		{name: "exhausted network without cidr", nets: []VIPNetworkRef{n("vip-net-b")}, inv: demoInventory(exhaustNetB),
			wantErrs: []string{`spec.network.vipNetworks[0].networkName: Invalid value: "vip-net-b": static VIP range 10.60.0.2-10.60.0.5 of network vip-net-b (10.60.0.0/28) is exhausted; free addresses on the controller, widen the range, or pick another subnet`}},
		{name: "every subnet exhausted", nets: []VIPNetworkRef{n("vip-net-d")}, inv: demoInventory(withNetD),
			wantErrs: []string{`spec.network.vipNetworks[0].networkName: Invalid value: "vip-net-d": every static VIP range of network vip-net-d is exhausted (10.80.0.2-10.80.0.2 in 10.80.0.0/29; 10.80.1.2-10.80.1.2 in 10.80.1.0/29); free addresses on the controller, widen a range, or pick another network`}},
		{name: "no static range", nets: []VIPNetworkRef{n("vip-net-c")}, inv: demoInventory(withNetC),
			wantErrs: []string{`spec.network.vipNetworks[0].networkName: Invalid value: "vip-net-c": network vip-net-c has no IPv4 subnet with a static VIP range; add a static range for VIPs on the controller, or pick another network`}},
		{name: "no static range in the named subnet", nets: []VIPNetworkRef{{UUID: "network-c", CIDR: "10.70.0.0/24"}}, inv: demoInventory(withNetC),
			wantErrs: []string{`spec.network.vipNetworks[0].cidr: Invalid value: "10.70.0.0/24": subnet 10.70.0.0/24 of network vip-net-c has no static VIP range; add a static range for VIPs to it on the controller, or pick another subnet`}},
		{name: "two networks on a vCenter cloud", nets: []VIPNetworkRef{n("vip-net-a"), n("vip-net-b")},
			wantErrs: []string{`spec.network.vipNetworks[1]: Invalid value: "vip-net-b": cloud "Default-Cloud" is of type CLOUD_VCENTER, which places one VIP per virtual service; list a single VIP network (several are supported only on CLOUD_AWS clouds)`}},
		{name: "unknown first network does not count", nets: []VIPNetworkRef{n("vip-net-x"), n("vip-net-b")},
			wantErrs: []string{`spec.network.vipNetworks[0].networkName: Invalid value: "vip-net-x": no network with this name in cloud "Default-Cloud"; known VIP networks: vip-net-a, vip-net-b`}},

		// Multi-VIP (AWS).
		{name: "AWS: three zones", nets: []VIPNetworkRef{n("subnet-1a"), n("subnet-1b"), n("subnet-1c")}, inv: awsInventory()},
		{name: "AWS: two networks in one zone", nets: []VIPNetworkRef{n("subnet-1a"), n("subnet-1b"), n("subnet-1a-2")}, inv: awsInventory(),
			wantErrs: []string{`spec.network.vipNetworks[2]: Invalid value: "subnet-1a-2": is in availability zone us-west-2a, like spec.network.vipNetworks[0] (subnet-1a); use one VIP network per availability zone`}},
		{name: "AWS: one exhausted subnet fails them all", nets: []VIPNetworkRef{n("subnet-1a"), n("subnet-1d")}, inv: awsInventory(),
			wantErrs: []string{`spec.network.vipNetworks[1].networkName: Invalid value: "subnet-1d": static VIP range 10.5.0.10-10.5.0.10 of network subnet-1d (10.5.0.0/24) is exhausted; free addresses on the controller, widen the range, or pick another subnet (with several VIP networks every VIP needs a free address in each)`}},

		// Inventory unusable.
		{name: "stale: static errors only, one warning", nets: []VIPNetworkRef{n("vip-net-x"), {Name: "vip-net-x", CIDR: "bad"}}, stale: true,
			wantErrs: []string{
				`spec.network.vipNetworks[1].cidr: Invalid value: "bad": must be an IPv4 CIDR such as 10.50.0.0/24`,
				`spec.network.vipNetworks[1]: Invalid value: "vip-net-x": names the same network as spec.network.vipNetworks[0]; list each network once`,
			},
			wantWarns: []string{WarnInventoryStale}},
		{name: "never loaded", nets: []VIPNetworkRef{n("vip-net-x")}, inv: (*inventory.Snapshot)(nil),
			wantWarns: []string{WarnInventoryNotLoaded}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := Env{Settings: tt.settings, Inventory: tt.inv, InventoryStale: tt.stale, Now: now}
			if env.Settings == nil {
				env.Settings = demoSettings()
			}
			if env.Inventory == nil && tt.name != "never loaded" {
				env.Inventory = demoInventory()
			}
			checkResult(t, ValidateVIPNetworks(path, tt.nets, env), tt.wantErrs, tt.wantWarns)
		})
	}
}

func TestValidateSEGroup(t *testing.T) {
	path := field.NewPath("spec", "seGroup", "name")
	tests := []struct {
		name      string
		seg       string
		stale     bool
		wantErrs  []string
		wantWarns []string
	}{
		{name: "unset"},
		{name: "unlabelled", seg: "Default-Group"},
		{name: "labelled for this cluster", seg: "edge-seg"},
		{name: "labelled for another cluster", seg: "prod-seg",
			wantErrs: []string{`spec.seGroup.name: Invalid value: "prod-seg": SE group is labelled clustername=prod, so it belongs to another cluster; use an SE group labelled clustername=demo or one without that label`}},
		{name: "missing", seg: "edge-segx",
			wantErrs: []string{`spec.seGroup.name: Invalid value: "edge-segx": no such SE group in cloud "Default-Cloud"; known SE groups: Default-Group, edge-seg, prod-seg`}},
		{name: "stale", seg: "edge-segx", stale: true, wantWarns: []string{WarnInventoryStale}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := Env{Settings: demoSettings(), Inventory: demoInventory(), InventoryStale: tt.stale, Now: now}
			checkResult(t, ValidateSEGroup(path, tt.seg, env), tt.wantErrs, tt.wantWarns)
		})
	}
}

func TestValidateNetworkSettings(t *testing.T) {
	tests := []struct {
		name      string
		settings  *config.Settings
		stale     bool
		wantErrs  []string
		wantWarns []string
	}{
		{name: "demo settings", settings: demoSettings()},
		{name: "unknown network and SE group", settings: demoSettings(func(s *config.Settings) {
			s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "vip-net-a", CIDR: "10.60.0.0/28"}}
			s.ControllerSettings.ServiceEngineGroupName = "nope"
		}), wantErrs: []string{
			`NetworkSettings.vipNetworkList[0].cidr: Invalid value: "10.60.0.0/28": not a configured subnet of network vip-net-a; configured: 10.50.0.0/24`,
			`ControllerSettings.serviceEngineGroupName: Invalid value: "nope": no such SE group in cloud "Default-Cloud"; known SE groups: Default-Group, edge-seg, prod-seg`,
		}},
		{name: "stale: one warning for both checks", settings: demoSettings(), stale: true, wantWarns: []string{WarnInventoryStale}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := Env{Settings: tt.settings, Inventory: demoInventory(), InventoryStale: tt.stale, Now: now}
			checkResult(t, ValidateNetworkSettings(env), tt.wantErrs, tt.wantWarns)
		})
	}
}

func TestValidateAviInfraSetting(t *testing.T) {
	tests := []struct {
		name      string
		ais       *v1beta1.AviInfraSetting
		inv       *inventory.Snapshot
		settings  *config.Settings
		stale     bool
		wantErrs  []string
		wantWarns []string
	}{
		{name: "SE group only", ais: ais("edge", "", "", "edge-seg")},
		{name: "network and SE group", ais: ais("edge", "", "", "edge-seg", vn("vip-net-b"))},
		{name: "AWS multi-VIP", ais: ais("multi", "", "", "", vn("subnet-1a"), vn("subnet-1b"), vn("subnet-1c")), inv: awsInventory()},
		{name: "everything wrong", ais: ais("bad", "", "", "prod-seg",
			v1beta1.AviInfraSettingVipNetwork{NetworkName: "vip-net-a", Cidr: "10.70.0.0/24", V6Cidr: "2001:db8:50::/64"},
			vn("vip-net-b"), vn("vip-net-q")), inv: demoInventory(exhaustNetB),
			wantErrs: []string{
				`spec.network.vipNetworks[0].v6cidr: Invalid value: "2001:db8:50::/64": IPv6 VIPs need AKOSettings.ipFamily V6 (it is V4); remove v6cidr or enable IPv6`,
				`spec.network.vipNetworks[0].cidr: Invalid value: "10.70.0.0/24": not a configured subnet of network vip-net-a; configured: 10.50.0.0/24`,
				`spec.network.vipNetworks[1].networkName: Invalid value: "vip-net-b": static VIP range 10.60.0.2-10.60.0.5 of network vip-net-b (10.60.0.0/28) is exhausted; free addresses on the controller, widen the range, or pick another subnet (with several VIP networks every VIP needs a free address in each)`,
				`spec.network.vipNetworks[2].networkName: Invalid value: "vip-net-q": no network with this name in cloud "Default-Cloud"; known VIP networks: vip-net-a, vip-net-b`,
				`spec.network.vipNetworks[1]: Invalid value: "vip-net-b": cloud "Default-Cloud" is of type CLOUD_VCENTER, which places one VIP per virtual service; list a single VIP network (several are supported only on CLOUD_AWS clouds)`,
				`spec.seGroup.name: Invalid value: "prod-seg": SE group is labelled clustername=prod, so it belongs to another cluster; use an SE group labelled clustername=demo or one without that label`,
			}},
		{name: "stale: networks and SE group skipped with one warning", ais: ais("edge", "", "", "nope", vn("nope")), stale: true,
			wantWarns: []string{WarnInventoryStale}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := Env{Settings: tt.settings, Inventory: tt.inv, InventoryStale: tt.stale, Now: now}
			if env.Settings == nil {
				env.Settings = demoSettings()
			}
			if env.Inventory == nil {
				env.Inventory = demoInventory()
			}
			checkResult(t, ValidateAviInfraSetting(tt.ais, env), tt.wantErrs, tt.wantWarns)
		})
	}
}

func TestValidateAviInfraSettingDelete(t *testing.T) {
	f := newFake()
	f.refs["edge"] = []string{"Service team-a/web", "Namespace team-a", "IngressClass avi-lb"}
	for i := range 7 {
		f.refs["busy"] = append(f.refs["busy"], fmt.Sprintf("Service default/s%d", i))
	}
	tests := []struct {
		name     string
		ais      string
		wantErrs []string
	}{
		{name: "unreferenced", ais: "idle"},
		{name: "referenced", ais: "edge", wantErrs: []string{
			`metadata.name: Invalid value: "edge": AviInfraSetting is still referenced by IngressClass avi-lb, Namespace team-a, Service team-a/web; remove the aviinfrasetting.ako.vmware.com/name annotation (or IngressClass parameters) from them first`}},
		{name: "many referrers are capped", ais: "busy", wantErrs: []string{
			`metadata.name: Invalid value: "busy": AviInfraSetting is still referenced by Service default/s0, Service default/s1, Service default/s2, Service default/s3, Service default/s4 and 2 more; remove the aviinfrasetting.ako.vmware.com/name annotation (or IngressClass parameters) from them first`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Deleting is judged on the cluster alone: no inventory, no warning.
			env := Env{Settings: demoSettings(), Lookups: f, Now: now}
			checkResult(t, ValidateAviInfraSettingDelete(tt.ais, env), tt.wantErrs, nil)
		})
	}
	if got := f.refs["edge"][0]; got != "Service team-a/web" {
		t.Errorf("the caller's slice was reordered: %q", got)
	}
}
