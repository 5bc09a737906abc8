package avisim

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/vmware/alb-sdk/go/models"
)

// TestProviderSeeds checks what the public-cloud seeds hold: the cloud type,
// an IPAM profile of the provider's type with its usable networks, networks
// with configured subnets and no static ranges, and one SE group per cluster
// (labelled for it, with the two-arm override) besides Default-Group.
func TestProviderSeeds(t *testing.T) {
	tests := []struct {
		seed        string
		vtype, ipam string
		usable      string // the profile's usable networks, as JSON
		networks    []string
		segs        map[string]string // SE group -> its two-arm override, as JSON
	}{
		{"azure", "CLOUD_AZURE", "IPAMDNS_TYPE_AZURE", `{"usable_network_uuids":2,"virtual_network_ids":1}`,
			[]string{"se-subnet-demo", "se-subnet-prod", "vip-subnet-a", "vip-subnet-b"},
			map[string]string{"demo-seg": `se-subnet-demo`, "prod-seg": `se-subnet-prod`}},
		{"gcp", "CLOUD_GCP", "IPAMDNS_TYPE_GCP", `{"usable_network_refs":2,"use_gcp_network":true}`,
			[]string{"demo-nodes", "frontend-a", "frontend-b", "prod-nodes"},
			map[string]string{"demo-seg": `demo-vpc/demo-nodes`, "prod-seg": `prod-vpc/prod-nodes`}},
		{"aws-provider", "CLOUD_AWS", "IPAMDNS_TYPE_AWS", `{"zones":3}`,
			[]string{"vip-az-a", "vip-az-b", "vip-az-c"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.seed, func(t *testing.T) {
			seed, err := EmbeddedSeed(tt.seed)
			must(t, err)
			sim, err := New(Options{Seed: seed})
			must(t, err)
			cloud := sim.Objects("admin", "cloud")[0]
			if cloud["vtype"] != tt.vtype {
				t.Fatalf("vtype %v, want %s", cloud["vtype"], tt.vtype)
			}
			var prof map[string]any
			for _, p := range sim.Objects("admin", "ipamdnsproviderprofile") {
				if p["url"] == cloud["ipam_provider_ref"] {
					prof = p
				}
			}
			if prof == nil || prof["type"] != tt.ipam {
				t.Fatalf("IPAM profile %v, want type %s", prof, tt.ipam)
			}
			if got := profileShape(prof); got != tt.usable {
				t.Fatalf("profile %s, want %s", got, tt.usable)
			}
			var names []string
			for _, n := range sim.Objects("admin", "network") {
				names = append(names, n["name"].(string))
				subs, _ := n["configured_subnets"].([]any)
				if len(subs) != 1 {
					t.Fatalf("network %s: %d configured subnets, want 1", n["name"], len(subs))
				}
				if r := subs[0].(map[string]any)["static_ip_ranges"]; r != nil {
					t.Fatalf("network %s has static ranges %v; the provider allocates", n["name"], r)
				}
				if tt.vtype == "CLOUD_AWS" && n["attrs"] != nil {
					t.Fatalf("network %s carries attrs %v; AWS's IPAM knows the zones", n["name"], n["attrs"])
				}
			}
			if !equalStrings(names, tt.networks) {
				t.Fatalf("networks %v, want %v", names, tt.networks)
			}
			got := map[string]string{}
			for _, g := range sim.Objects("admin", "serviceenginegroup") {
				name := g["name"].(string)
				if name == "Default-Group" {
					continue
				}
				labels, _ := g["labels"].([]any)
				if len(labels) != 1 || labels[0].(map[string]any)["key"] != "clustername" || name != labels[0].(map[string]any)["value"].(string)+"-seg" {
					t.Fatalf("SE group %s labels %v, want clustername=<its cluster>", name, labels)
				}
				if v, ok := g["data_network_id"].(string); ok {
					got[name] = v
				}
				if gc, ok := g["gcp_config"].(map[string]any); ok {
					got[name] = gc["backend_data_vpc_network_name"].(string) + "/" + gc["backend_data_vpc_subnet_name"].(string)
				}
			}
			if len(got) != len(tt.segs) {
				t.Fatalf("SE groups %v, want %v", got, tt.segs)
			}
			for k, v := range tt.segs {
				if got[k] != v {
					t.Fatalf("SE group %s override %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// profileShape summarises the provider part of an IPAM profile as JSON:
// each list by its length, use_gcp_network as it is.
func profileShape(prof map[string]any) string {
	for _, k := range []string{"aws_profile", "azure_profile", "gcp_profile"} {
		p, ok := prof[k].(map[string]any)
		if !ok {
			continue
		}
		out := map[string]any{}
		for _, f := range []string{"usable_network_uuids", "usable_network_refs", "virtual_network_ids", "zones", "use_gcp_network"} {
			if v, ok := p[f]; ok {
				if l, isList := v.([]any); isList {
					v = len(l)
				}
				out[f] = v
			}
		}
		b, _ := json.Marshal(out)
		return string(b)
	}
	return "no provider profile"
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// providerVip is one vip as a client names its subnet on a provider cloud:
// by subnet_uuid (AKO on AWS and Azure), by network_ref (and subnet, AKO
// on GCP), or not at all ("" for both: the IPAM's usable networks).
func providerVip(id, subnetUUID, network, cidr, ip string) *models.Vip {
	v := &models.Vip{VipID: s(id), AutoAllocateIP: b(true)}
	if subnetUUID != "" {
		v.SubnetUUID = s(subnetUUID)
	}
	if network != "" {
		v.IPAMNetworkSubnet = &models.IPNetworkSubnet{NetworkRef: s("/api/network/?name=" + network)}
		if cidr != "" {
			a, m, _ := cutPrefix(cidr)
			v.IPAMNetworkSubnet.Subnet = &models.IPAddrPrefix{IPAddr: &models.IPAddr{Addr: s(a), Type: s("V4")}, Mask: &m}
		}
	}
	if ip != "" {
		v.IPAddress = &models.IPAddr{Addr: s(ip), Type: s("V4")}
	}
	return v
}

func cutPrefix(cidr string) (string, int32, bool) {
	for i := range cidr {
		if cidr[i] == '/' {
			var m int32
			for _, c := range cidr[i+1:] {
				m = m*10 + int32(c-'0')
			}
			return cidr[:i], m, true
		}
	}
	return cidr, 32, false
}

// allocStep creates a VsVip and checks the addresses (and zones) it got, or
// the controller's refusal.
type allocStep struct {
	name    string
	vips    []*models.Vip
	wantIPs []string
	wantNet []string // network_ref filled in, by name
	wantAZ  []string
	msg     string // the 400's message when set
}

func runAllocSteps(t *testing.T, sim *Sim, steps []allocStep) {
	c := newClient(t, sim)
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, err := c.VsVip.Create(&models.VsVip{Name: s("v" + string(rune('a'+i))), Vip: st.vips})
			if st.msg != "" {
				wantAviErr(t, err, http.StatusBadRequest, st.msg)
				return
			}
			must(t, err)
			for j, want := range st.wantIPs {
				if vipAddr(got, j) != want {
					t.Fatalf("vip %d: got %s, want %s", j, vipAddr(got, j), want)
				}
				nw, err := c.Network.GetByName(st.wantNet[j])
				must(t, err)
				if ref := *got.Vip[j].IPAMNetworkSubnet.NetworkRef; ref != *nw.URL {
					t.Fatalf("vip %d: network_ref %s, want %s (%s)", j, ref, *nw.URL, st.wantNet[j])
				}
				if len(st.wantAZ) > j && (got.Vip[j].AvailabilityZone == nil || *got.Vip[j].AvailabilityZone != st.wantAZ[j]) {
					t.Fatalf("vip %d: availability zone %v, want %s", j, got.Vip[j].AvailabilityZone, st.wantAZ[j])
				}
			}
		})
	}
}

func TestAzureAllocation(t *testing.T) {
	sim := startSim(t, AzureSeed())
	v := providerVip
	runAllocSteps(t, sim, []allocStep{
		{name: "subnet_uuid by name: the first address Azure does not reserve", vips: []*models.Vip{v("1", "vip-subnet-a", "", "", "")},
			wantIPs: []string{"10.80.0.4"}, wantNet: []string{"vip-subnet-a"}},
		{name: "no subnet: the IPAM's usable networks", vips: []*models.Vip{v("0", "", "", "", "")},
			wantIPs: []string{"10.80.0.5"}, wantNet: []string{"vip-subnet-a"}},
		{name: "subnet_uuid by prefix", vips: []*models.Vip{v("1", "10.80.1.0/24", "", "", "")},
			wantIPs: []string{"10.80.1.4"}, wantNet: []string{"vip-subnet-b"}},
		{name: "requested address anywhere in the subnet, no static range needed", vips: []*models.Vip{v("1", "vip-subnet-b", "", "", "10.80.1.200")},
			wantIPs: []string{"10.80.1.200"}, wantNet: []string{"vip-subnet-b"}},
		{name: "requested address without a subnet: the usable networks", vips: []*models.Vip{v("0", "", "", "", "10.80.1.201")},
			wantIPs: []string{"10.80.1.201"}, wantNet: []string{"vip-subnet-b"}},
		{name: "requested address taken", vips: []*models.Vip{v("1", "vip-subnet-b", "", "", "10.80.1.200")},
			msg: "IP 10.80.1.200 is already in use by VsVip vd"},
		{name: "requested address Azure reserves (first four)", vips: []*models.Vip{v("1", "vip-subnet-a", "", "", "10.80.0.3")},
			msg: "IP 10.80.0.3 is reserved by Azure in subnet 10.80.0.0/24 of vip-subnet-a"},
		{name: "requested broadcast address", vips: []*models.Vip{v("1", "vip-subnet-a", "", "", "10.80.0.255")},
			msg: "IP 10.80.0.255 is reserved by Azure in subnet 10.80.0.0/24 of vip-subnet-a"},
		{name: "requested address outside the subnet", vips: []*models.Vip{v("1", "vip-subnet-a", "", "", "10.80.1.50")},
			msg: "IP 10.80.1.50 is not in a subnet of vip-subnet-a 10.80.0.0/24"},
		{name: "network_ref instead of subnet_uuid", vips: []*models.Vip{v("1", "", "vip-subnet-a", "", "")},
			msg: "vip_id 1: cloud Default-Cloud allocates VIPs through Azure (IPAMDNS_TYPE_AZURE), which takes the subnet from subnet_uuid; ipam_network_subnet.network_ref is for Avi's own IPAM"},
		{name: "unknown subnet_uuid", vips: []*models.Vip{v("1", "subnet-x", "", "", "")},
			msg: "vip_id 1: subnet_uuid subnet-x is not a subnet of cloud Default-Cloud"},
		{name: "two vips on Azure", vips: []*models.Vip{v("1", "vip-subnet-a", "", "", ""), v("2", "vip-subnet-b", "", "", "")},
			msg: "VsVip vl has 2 vips; more than one vip is only supported on CLOUD_AWS clouds (cloud Default-Cloud is CLOUD_AZURE)"},
	})
}

func TestGCPAllocation(t *testing.T) {
	sim := startSim(t, GCPSeed())
	v := providerVip
	runAllocSteps(t, sim, []allocStep{
		{name: "network_ref and subnet (AKO's form): the first address Google does not reserve", vips: []*models.Vip{v("0", "", "frontend-a", "10.90.0.0/24", "")},
			wantIPs: []string{"10.90.0.2"}, wantNet: []string{"frontend-a"}},
		{name: "network_ref alone", vips: []*models.Vip{v("0", "", "frontend-b", "", "")},
			wantIPs: []string{"10.90.1.2"}, wantNet: []string{"frontend-b"}},
		{name: "no network: the IPAM's usable networks", vips: []*models.Vip{v("0", "", "", "", "")},
			wantIPs: []string{"10.90.0.3"}, wantNet: []string{"frontend-a"}},
		{name: "requested second-to-last address is reserved", vips: []*models.Vip{v("0", "", "frontend-a", "", "10.90.0.254")},
			msg: "IP 10.90.0.254 is reserved by Google Cloud in subnet 10.90.0.0/24 of frontend-a"},
		{name: "requested gateway address is reserved", vips: []*models.Vip{v("0", "", "frontend-a", "", "10.90.0.1")},
			msg: "IP 10.90.0.1 is reserved by Google Cloud in subnet 10.90.0.0/24 of frontend-a"},
		{name: "requested last usable address", vips: []*models.Vip{v("0", "", "frontend-a", "", "10.90.0.253")},
			wantIPs: []string{"10.90.0.253"}, wantNet: []string{"frontend-a"}},
		{name: "subnet_uuid is not GCP's", vips: []*models.Vip{v("0", "frontend-a", "", "", "")},
			msg: "vip_id 0: subnet_uuid names the subnet on AWS and Azure clouds; cloud Default-Cloud is CLOUD_GCP: set ipam_network_subnet.network_ref"},
		{name: "subnet not configured on the network", vips: []*models.Vip{v("0", "", "frontend-a", "10.90.1.0/24", "")},
			msg: "vip_id 0: subnet 10.90.1.0/24 is not configured on network frontend-a"},
	})
}

// Without use_gcp_network, Google's IPAM gives VIPs from an Avi network's
// static ranges: the seed's networks have none, so nothing is allocated.
func TestGCPWithoutGCPNetworkNeedsStaticRanges(t *testing.T) {
	sim := startSim(t, GCPSeed())
	c := newClient(t, sim)
	var prof models.IPAMDNSProviderProfile
	must(t, c.AviSession.GetObjectByName("ipamdnsproviderprofile", "Default-Cloud-ipam", &prof))
	prof.GcpProfile.UseGcpNetwork = b(false)
	_, err := c.IPAMDNSProviderProfile.Update(&prof)
	must(t, err)
	_, err = c.VsVip.Create(&models.VsVip{Name: s("v"), Vip: []*models.Vip{providerVip("0", "", "frontend-a", "", "")}})
	wantAviErr(t, err, http.StatusBadRequest, "No available free IPs in frontend-a 10.90.0.0/24 (no static VIP range)")
}

func TestAWSProviderAllocation(t *testing.T) {
	sim := startSim(t, AWSProviderSeed())
	v := providerVip
	runAllocSteps(t, sim, []allocStep{
		{name: "one vip per zone by subnet_uuid (AKO's form)", vips: []*models.Vip{v("1", "vip-az-a", "", "", ""), v("2", "vip-az-b", "", "", ""), v("3", "vip-az-c", "", "", "")},
			wantIPs: []string{"10.75.1.4", "10.75.2.4", "10.75.3.4"}, wantNet: []string{"vip-az-a", "vip-az-b", "vip-az-c"},
			wantAZ: []string{"us-west-2a", "us-west-2b", "us-west-2c"}},
		{name: "requested address in one zone", vips: []*models.Vip{v("1", "vip-az-a", "", "", "10.75.1.77"), v("2", "vip-az-b", "", "", "")},
			wantIPs: []string{"10.75.1.77", "10.75.2.5"}, wantNet: []string{"vip-az-a", "vip-az-b"}, wantAZ: []string{"us-west-2a", "us-west-2b"}},
		{name: "requested address AWS reserves", vips: []*models.Vip{v("1", "vip-az-a", "", "", "10.75.1.1")},
			msg: "IP 10.75.1.1 is reserved by AWS in subnet 10.75.1.0/24 of vip-az-a"},
		{name: "subnet_uuid is mandatory", vips: []*models.Vip{v("1", "", "", "", "")},
			msg: "vip_id 1: subnet_uuid is mandatory on cloud Default-Cloud (CLOUD_AWS) when auto_allocate_ip is set"},
		{name: "network_ref instead of subnet_uuid", vips: []*models.Vip{v("1", "", "vip-az-a", "", "")},
			msg: "vip_id 1: cloud Default-Cloud allocates VIPs through AWS (IPAMDNS_TYPE_AWS), which takes the subnet from subnet_uuid; ipam_network_subnet.network_ref is for Avi's own IPAM"},
		{name: "two vips in one subnet", vips: []*models.Vip{v("1", "vip-az-a", "", "", ""), v("2", "10.75.1.0/24", "", "", "")},
			msg: "vip_id 1 and vip_id 2 are both in subnet 10.75.1.0/24; use one vip per subnet"},
	})
}

// A provider subnet is exhausted once every address it does not reserve is
// taken: a /29 on Azure has three.
func TestProviderSubnetExhaustion(t *testing.T) {
	seed := AzureSeed()
	seed.Networks = append(seed.Networks, SeedNetwork{Name: "tiny", Cloud: "Default-Cloud", VRF: "global", Subnets: []SeedSubnet{{Prefix: "10.83.0.0/29"}}})
	sim := startSim(t, seed)
	v := providerVip
	runAllocSteps(t, sim, []allocStep{
		{name: "first", vips: []*models.Vip{v("1", "tiny", "", "", "")}, wantIPs: []string{"10.83.0.4"}, wantNet: []string{"tiny"}},
		{name: "second", vips: []*models.Vip{v("1", "tiny", "", "", "")}, wantIPs: []string{"10.83.0.5"}, wantNet: []string{"tiny"}},
		{name: "third", vips: []*models.Vip{v("1", "tiny", "", "", "")}, wantIPs: []string{"10.83.0.6"}, wantNet: []string{"tiny"}},
		{name: "exhausted", vips: []*models.Vip{v("1", "tiny", "", "", "")}, msg: "No available free IPs in tiny 10.83.0.0/29"},
	})
}

// A client may PUT back what it read (the controller filled in the
// network); a vip left without its address is allocated again in the same
// subnet, and one that keeps it keeps it.
func TestProviderVsVipPutBack(t *testing.T) {
	sim := startSim(t, AzureSeed())
	c := newClient(t, sim)
	got, err := c.VsVip.Create(&models.VsVip{Name: s("v"), Vip: []*models.Vip{providerVip("1", "vip-subnet-b", "", "", "")}})
	must(t, err)
	if vipAddr(got, 0) != "10.80.1.4" || got.Vip[0].IPAMNetworkSubnet.Subnet != nil {
		t.Fatalf("created %s with subnet %v", vipAddr(got, 0), got.Vip[0].IPAMNetworkSubnet.Subnet)
	}
	kept, err := c.VsVip.Update(got)
	must(t, err)
	if vipAddr(kept, 0) != "10.80.1.4" {
		t.Fatalf("PUT back moved the VIP to %s", vipAddr(kept, 0))
	}
	kept.Vip[0].IPAddress = nil
	moved, err := c.VsVip.Update(kept)
	must(t, err)
	if vipAddr(moved, 0) != "10.80.1.5" {
		t.Fatalf("PUT without the address: %s, want the next free address of vip-subnet-b", vipAddr(moved, 0))
	}
}
