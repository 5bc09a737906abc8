package model

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
)

// providerSnapshot is a cloud whose provider hands out VIPs from subnets
// (no static ranges): two networks in two zones.
func providerSnapshot(vtype, ipamType string) *inventory.Snapshot {
	mk := func(name, az, cidr string) *inventory.Network {
		return &inventory.Network{Name: name, UUID: "network-" + name, AvailabilityZone: az,
			Subnets: []inventory.Subnet{{Prefix: netip.MustParsePrefix(cidr)}}}
	}
	return &inventory.Snapshot{Cloud: inventory.Cloud{Name: "c", Type: vtype, IPAMType: ipamType, GCPNetworkVIPs: true},
		Networks: map[string]*inventory.Network{
			"net-1a": mk("net-1a", "us-east-1a", "10.1.0.0/24"),
			"net-1b": mk("net-1b", "us-east-1b", "10.2.0.0/24"),
		}}
}

// TestBuildVipsProviderIPAM: AWS's and Azure's IPAM get the subnet by name
// in subnet_uuid (AKO's form; the cidr picks nothing more), Google's the
// network (and subnet) in ipam_network_subnet, as AKO sends them.
func TestBuildVipsProviderIPAM(t *testing.T) {
	webPort := corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}
	withIP := svc("web", webPort)
	withIP.Spec.LoadBalancerIP = "10.2.0.30"
	two := settings(func(s *config.Settings) {
		s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "net-1b"}, {NetworkUUID: "network-net-1a", CIDR: "10.1.0.0/24"}}
	})
	one := settings(func(s *config.Settings) {
		s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "net-1a", CIDR: "10.1.0.0/24"}}
	})
	none := settings(func(s *config.Settings) { s.NetworkSettings.VIPNetworkList = nil })
	tests := []struct {
		name string
		in   L4Input
		want string
	}{
		{"AWS: one vip per network by subnet_uuid, zone, requested IP on its subnet",
			L4Input{Settings: two, Snapshot: providerSnapshot(inventory.CloudAWS, inventory.IPAMAWS), Members: []Member{{Service: withIP}}},
			`[{"vip_id":"1","auto_allocate_ip":true,"availability_zone":"us-east-1a","subnet_uuid":"net-1a"},
			  {"vip_id":"2","auto_allocate_ip":true,"availability_zone":"us-east-1b","subnet_uuid":"net-1b","ip_address":{"addr":"10.2.0.30","type":"V4"}}]`},
		{"Azure: one vip by subnet_uuid",
			L4Input{Settings: one, Snapshot: providerSnapshot(inventory.CloudAzure, inventory.IPAMAzure), Members: []Member{{Service: svc("web", webPort)}}},
			`[{"vip_id":"0","auto_allocate_ip":true,"subnet_uuid":"net-1a"}]`},
		{"Azure: no VIP network leaves it to the IPAM",
			L4Input{Settings: none, Snapshot: providerSnapshot(inventory.CloudAzure, inventory.IPAMAzure), Members: []Member{{Service: svc("web", webPort)}}},
			`[{"vip_id":"0","auto_allocate_ip":true}]`},
		{"GCP: network and subnet",
			L4Input{Settings: one, Snapshot: providerSnapshot(inventory.CloudGCP, inventory.IPAMGCP), Members: []Member{{Service: svc("web", webPort)}}},
			`[{"vip_id":"0","auto_allocate_ip":true,"ipam_network_subnet":{"network_ref":"/api/network/?name=net-1a","subnet":{"ip_addr":{"addr":"10.1.0.0","type":"V4"},"mask":24}}}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := BuildL4(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := mustJSON(t, set.VsVips[0].Vip), normJSON(t, tt.want); got != want {
				t.Fatalf("vips:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
