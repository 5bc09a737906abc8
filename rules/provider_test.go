package rules

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

// providerInventory is a cloud whose IPAM is the provider's: networks with
// configured subnets and no static range (vip-a 10.80.0.0/24, vip-b
// 10.80.1.0/24 and 10.80.2.0/24), one the controller lists without any
// subnet (bare), and 10.80.0.50 held by another cluster.
func providerInventory(vtype, ipamType string) *inventory.Snapshot {
	s := &inventory.Snapshot{
		FetchedAt: now,
		Cloud: inventory.Cloud{Name: "Default-Cloud", UUID: "cloud-p", Type: vtype, IPAMType: ipamType,
			GCPNetworkVIPs: ipamType == inventory.IPAMGCP, IPAMNetworks: []string{"vip-a"}},
		Networks: map[string]*inventory.Network{
			"vip-a": {Name: "vip-a", UUID: "network-a", AvailabilityZone: "us-west-2a", Subnets: []inventory.Subnet{{Prefix: prefix("10.80.0.0/24")}}},
			"vip-b": {Name: "vip-b", UUID: "network-b", AvailabilityZone: "us-west-2b", Subnets: []inventory.Subnet{{Prefix: prefix("10.80.1.0/24")}, {Prefix: prefix("10.80.2.0/24")}}},
			"vip-c": {Name: "vip-c", UUID: "network-c", AvailabilityZone: "us-west-2a", Subnets: []inventory.Subnet{{Prefix: prefix("10.80.3.0/24")}}},
			"bare":  {Name: "bare", UUID: "network-bare"},
		},
		SEGroups: map[string]inventory.SEGroup{"Default-Group": {Name: "Default-Group"}},
		InUse:    map[netip.Addr]inventory.Holder{addr("10.80.0.50"): {VsVip: "other--ns-svc", CreatedBy: "ako-other", Tenant: "admin"}},
	}
	s.ComputeFree()
	return s
}

var (
	azureInv    = providerInventory(inventory.CloudAzure, inventory.IPAMAzure)
	gcpInv      = providerInventory(inventory.CloudGCP, inventory.IPAMGCP)
	awsInv      = providerInventory(inventory.CloudAWS, inventory.IPAMAWS)
	infobloxInv = providerInventory(inventory.CloudVCenter, inventory.IPAMInfoblox)
	// gcpAviInv is Google's IPAM without use_gcp_network: VIPs come from an
	// Avi network's static ranges, so the static checks apply.
	gcpAviInv = func() *inventory.Snapshot {
		s := providerInventory(inventory.CloudGCP, inventory.IPAMGCP)
		s.Cloud.GCPNetworkVIPs = false
		return s
	}()
)

func TestCloudProviderIPAM(t *testing.T) {
	tests := []struct {
		vtype, ipam, who string
		gcpNetwork       bool
		provider, byName bool
		low, high        int
	}{
		{inventory.CloudVCenter, inventory.IPAMInternal, "", false, false, false, 1, 1},
		{inventory.CloudAWS, inventory.IPAMInternal, "", false, false, false, 1, 1},
		{inventory.CloudAWS, inventory.IPAMAWS, "AWS", false, true, true, 4, 1},
		{inventory.CloudAWS, "", "AWS", false, true, true, 4, 1},
		{inventory.CloudAzure, inventory.IPAMAzure, "Azure", false, true, true, 4, 1},
		{inventory.CloudAzure, "", "Azure", false, true, true, 4, 1},
		{inventory.CloudGCP, inventory.IPAMGCP, "Google Cloud", true, true, false, 2, 2},
		{inventory.CloudGCP, inventory.IPAMGCP, "", false, false, false, 1, 1},
		{inventory.CloudGCP, "", "Google Cloud", false, true, false, 2, 2},
		{inventory.CloudVCenter, inventory.IPAMInfoblox, "", false, true, false, 1, 1},
		{inventory.CloudVCenter, inventory.IPAMCustom, "", false, true, false, 1, 1},
		{inventory.CloudVCenter, "", "", false, false, false, 1, 1},
	}
	for _, tt := range tests {
		c := inventory.Cloud{Type: tt.vtype, IPAMType: tt.ipam, GCPNetworkVIPs: tt.gcpNetwork}
		who, low, high := c.Reserver()
		if c.ProviderIPAM() != tt.provider || c.SubnetByName() != tt.byName || who != tt.who || low != tt.low || high != tt.high {
			t.Errorf("%s %s gcp=%v: provider %v byName %v reserver %q %d/%d, want %v %v %q %d/%d", tt.vtype, tt.ipam, tt.gcpNetwork,
				c.ProviderIPAM(), c.SubnetByName(), who, low, high, tt.provider, tt.byName, tt.who, tt.low, tt.high)
		}
	}
}

func TestValidateVIPNetworksProviderIPAM(t *testing.T) {
	path := field.NewPath("spec", "network", "vipNetworks")
	n := func(name string) VIPNetworkRef { return VIPNetworkRef{Name: name} }
	tests := []struct {
		name      string
		inv       *inventory.Snapshot
		settings  *config.Settings
		nets      []VIPNetworkRef
		wantErrs  []string
		wantWarns []string
	}{
		{name: "Azure: a network without static ranges is usable", inv: azureInv, nets: []VIPNetworkRef{n("vip-a")}},
		{name: "Azure: by UUID", inv: azureInv, nets: []VIPNetworkRef{{UUID: "network-b"}}},
		{name: "Azure: cidr is one of its subnets", inv: azureInv, nets: []VIPNetworkRef{{Name: "vip-b", CIDR: "10.80.2.0/24"}}},
		{name: "Azure: cidr is not one of its subnets", inv: azureInv, nets: []VIPNetworkRef{{Name: "vip-b", CIDR: "10.80.0.0/24"}},
			wantErrs: []string{`spec.network.vipNetworks[0].cidr: Invalid value: "10.80.0.0/24": not a configured subnet of network vip-b; configured: 10.80.1.0/24, 10.80.2.0/24`}},
		{name: "Azure: unknown network", inv: azureInv, nets: []VIPNetworkRef{n("vip-x")},
			wantErrs: []string{`spec.network.vipNetworks[0].networkName: Invalid value: "vip-x": no network with this name in cloud "Default-Cloud"; known VIP networks: bare, vip-a, vip-b, vip-c`}},
		{name: "Azure: a network listing no subnet cannot check a cidr", inv: azureInv, nets: []VIPNetworkRef{{Name: "bare", CIDR: "10.99.0.0/24"}},
			wantWarns: []string{`spec.network.vipNetworks[0].cidr "10.99.0.0/24" could not be checked: network bare lists no IPv4 subnet on the controller; cloud "Default-Cloud" allocates VIPs through IPAMDNS_TYPE_AZURE, which checks it when it allocates`}},
		{name: "Azure: a network listing no subnet, no cidr", inv: azureInv, nets: []VIPNetworkRef{n("bare")}},
		{name: "Azure: one VIP network only", inv: azureInv, nets: []VIPNetworkRef{n("vip-a"), n("vip-b")},
			wantErrs: []string{`spec.network.vipNetworks[1]: Invalid value: "vip-b": cloud "Default-Cloud" is of type CLOUD_AZURE, which places one VIP per virtual service; list a single VIP network (several are supported only on CLOUD_AWS clouds)`}},
		{name: "Azure: v6cidr on a network with no IPv6 subnet", inv: azureInv, settings: demoSettings(ipv6Settings),
			nets:      []VIPNetworkRef{{Name: "vip-a", V6CIDR: "2001:db8::/64"}},
			wantWarns: []string{`spec.network.vipNetworks[0].v6cidr "2001:db8::/64" could not be checked: network vip-a lists no IPv6 subnet on the controller; cloud "Default-Cloud" allocates VIPs through IPAMDNS_TYPE_AZURE, which checks it when it allocates`}},
		{name: "GCP: cidr is one of its subnets", inv: gcpInv, nets: []VIPNetworkRef{{Name: "vip-a", CIDR: "10.80.0.0/24"}}},
		{name: "GCP without use_gcp_network needs static ranges", inv: gcpAviInv, nets: []VIPNetworkRef{n("vip-a")},
			wantErrs: []string{`spec.network.vipNetworks[0].networkName: Invalid value: "vip-a": network vip-a has no IPv4 subnet with a static VIP range; add a static range for VIPs on the controller, or pick another network`}},
		{name: "Infoblox: no static ranges needed", inv: infobloxInv, nets: []VIPNetworkRef{{Name: "vip-a", CIDR: "10.80.0.0/24"}}},
		{name: "AWS: one network per zone", inv: awsInv, nets: []VIPNetworkRef{n("vip-a"), n("vip-b")}},
		{name: "AWS: two networks in one zone", inv: awsInv, nets: []VIPNetworkRef{n("vip-a"), n("vip-c")},
			wantErrs: []string{`spec.network.vipNetworks[1]: Invalid value: "vip-c": is in availability zone us-west-2a, like spec.network.vipNetworks[0] (vip-a); use one VIP network per availability zone`}},
		{name: "AWS: cidr of another network", inv: awsInv, nets: []VIPNetworkRef{{Name: "vip-a", CIDR: "10.80.3.0/24"}},
			wantErrs: []string{`spec.network.vipNetworks[0].cidr: Invalid value: "10.80.3.0/24": not a configured subnet of network vip-a; configured: 10.80.0.0/24`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.settings
			if s == nil {
				s = demoSettings()
			}
			env := Env{Settings: s, Inventory: tt.inv, Now: now}
			checkResult(t, ValidateVIPNetworks(path, tt.nets, env), tt.wantErrs, tt.wantWarns)
		})
	}
}

func TestValidateAviInfraSettingProviderIPAM(t *testing.T) {
	setting := ais("cidr", "", "", "Default-Group", v1beta1.AviInfraSettingVipNetwork{NetworkName: "vip-b", Cidr: "10.80.1.0/24"})
	for _, inv := range []*inventory.Snapshot{azureInv, gcpInv, awsInv} {
		t.Run(inv.Cloud.Type, func(t *testing.T) {
			checkResult(t, ValidateAviInfraSetting(setting, Env{Settings: demoSettings(), Inventory: inv, Now: now}), nil, nil)
		})
	}
}

func TestValidateServiceProviderIPAM(t *testing.T) {
	onA := demoSettings(func(s *config.Settings) {
		s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "vip-a"}}
	})
	onB := demoSettings(func(s *config.Settings) {
		s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "vip-b", CIDR: "10.80.2.0/24"}}
	})
	onBare := demoSettings(func(s *config.Settings) {
		s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "bare"}}
	})
	noList := demoSettings(func(s *config.Settings) { s.NetworkSettings.VIPNetworkList = nil })
	tests := []struct {
		name      string
		inv       *inventory.Snapshot
		settings  *config.Settings
		svc       *corev1.Service
		wantErrs  []string
		wantWarns []string
	}{
		{name: "no loadBalancerIP: the provider allocates", inv: azureInv, settings: onA, svc: lbSvc("default", "x")},
		{name: "Azure: any address of the subnet", inv: azureInv, settings: onA, svc: lbSvc("default", "x", ip("10.80.0.200"))},
		{name: "Azure: first usable address", inv: azureInv, settings: onA, svc: lbSvc("default", "x", ip("10.80.0.4"))},
		{name: "Azure: reserved at the start", inv: azureInv, settings: onA, svc: lbSvc("default", "x", ip("10.80.0.3")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.80.0.3": is reserved by Azure in subnet 10.80.0.0/24 (vip-a), which keeps the first four addresses and the last address of every subnet; pick another address in it`}},
		{name: "Azure: broadcast", inv: azureInv, settings: onA, svc: lbSvc("default", "x", ip("10.80.0.255")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.80.0.255": is reserved by Azure in subnet 10.80.0.0/24 (vip-a), which keeps the first four addresses and the last address of every subnet; pick another address in it`}},
		{name: "Azure: outside the VIP network", inv: azureInv, settings: onA, svc: lbSvc("default", "x", ip("10.80.1.20")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.80.1.20": not inside any VIP network of NetworkSettings.vipNetworkList (vip-a 10.80.0.0/24); pick an address in one of these subnets, or leave it unset to get one allocated`}},
		{name: "Azure: cidr narrows the subnets", inv: azureInv, settings: onB, svc: lbSvc("default", "x", ip("10.80.1.20")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.80.1.20": not inside any VIP network of NetworkSettings.vipNetworkList (vip-b 10.80.2.0/24); pick an address in one of these subnets, or leave it unset to get one allocated`}},
		{name: "Azure: held on the controller by another cluster", inv: azureInv, settings: onA, svc: lbSvc("default", "x", ip("10.80.0.50")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.80.0.50": is already allocated on the controller to VsVip "other--ns-svc" (created_by "ako-other"), which this cluster does not manage; pick another address, or leave it unset to get one allocated`}},
		{name: "Azure: subnets unknown, admitted with a warning", inv: azureInv, settings: onBare, svc: lbSvc("default", "x", ip("10.99.0.7")),
			wantWarns: []string{`spec.loadBalancerIP "10.99.0.7" could not be checked: no subnet of the VIP networks of NetworkSettings.vipNetworkList is known on the controller; cloud "Default-Cloud" allocates VIPs through IPAMDNS_TYPE_AZURE, which checks it when it allocates`}},
		{name: "Azure: no vipNetworkList, the IPAM's networks", inv: azureInv, settings: noList, svc: lbSvc("default", "x", ip("10.80.1.20")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.80.1.20": not inside any VIP network of the IPAM profile of cloud "Default-Cloud" (vip-a 10.80.0.0/24); pick an address in one of these subnets, or leave it unset to get one allocated`}},
		{name: "GCP: reserved second-to-last", inv: gcpInv, settings: onA, svc: lbSvc("default", "x", ip("10.80.0.254")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.80.0.254": is reserved by Google Cloud in subnet 10.80.0.0/24 (vip-a), which keeps the first two addresses and the last two addresses of every subnet; pick another address in it`}},
		{name: "GCP: the third address is usable", inv: gcpInv, settings: onA, svc: lbSvc("default", "x", ip("10.80.0.2"))},
		{name: "GCP without use_gcp_network: static ranges rule", inv: gcpAviInv, settings: onA, svc: lbSvc("default", "x", ip("10.80.0.20")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.80.0.20": is inside subnet 10.80.0.0/24 of vip-a, which has no static VIP range; the controller allocates VIPs only from static VIP ranges`}},
		{name: "AWS: reserved router address", inv: awsInv, settings: onA, svc: lbSvc("default", "x", ip("10.80.0.1")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.80.0.1": is reserved by AWS in subnet 10.80.0.0/24 (vip-a), which keeps the first four addresses and the last address of every subnet; pick another address in it`}},
		{name: "Infoblox: network address", inv: infobloxInv, settings: onA, svc: lbSvc("default", "x", ip("10.80.0.0")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.80.0.0": is the network address of subnet 10.80.0.0/24 (vip-a); pick another address in it`}},
		{name: "Infoblox: any other address", inv: infobloxInv, settings: onA, svc: lbSvc("default", "x", ip("10.80.0.1"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := Env{Settings: tt.settings, Inventory: tt.inv, Lookups: newFake(), Now: now}
			checkResult(t, ValidateService(tt.svc, nil, env), tt.wantErrs, tt.wantWarns)
		})
	}
}
