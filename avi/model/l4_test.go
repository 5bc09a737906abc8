package model

import (
	"encoding/json"
	"maps"
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/objects"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/rules"
)

func settings(mut ...func(*config.Settings)) *config.Settings {
	s := config.Defaults()
	s.AKOSettings.ClusterName = "c1"
	s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "vip-net-a", CIDR: "10.50.0.0/24"}}
	for _, m := range mut {
		m(&s)
	}
	return &s
}

func svc(name string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: ports},
	}
}

func slice(portName string, port int32, proto corev1.Protocol, ready map[string]bool) discoveryv1.EndpointSlice {
	sl := discoveryv1.EndpointSlice{Ports: []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To(port), Protocol: ptr.To(proto)}}}
	for _, a := range sortedKeys(ready) {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready[a])}})
	}
	return sl
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func awsSnapshot() *inventory.Snapshot {
	mk := func(name, az, cidr string) *inventory.Network {
		p := netip.MustParsePrefix(cidr)
		return &inventory.Network{Name: name, UUID: "network-" + name, AvailabilityZone: az, Subnets: []inventory.Subnet{{Prefix: p,
			VIPRanges: []inventory.Range{{Begin: p.Addr().Next().Next(), End: p.Addr().Next().Next().Next()}}}}}
	}
	return &inventory.Snapshot{Cloud: inventory.Cloud{Name: "aws", Type: inventory.CloudAWS, IPAMType: inventory.IPAMInternal}, Networks: map[string]*inventory.Network{
		"net-1a": mk("net-1a", "us-east-1a", "10.1.0.0/24"),
		"net-1b": mk("net-1b", "us-east-1b", "10.2.0.0/24"),
	}}
}

// mustJSON renders v with object keys sorted, so comparisons do not depend
// on the field order of the Go types.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	if b, err = json.MarshalIndent(generic, "", " "); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func normJSON(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad expected JSON: %v\n%s", err, s)
	}
	return mustJSON(t, v)
}

func TestBuildL4(t *testing.T) {
	webPort := corev1.ServicePort{Name: "http", Port: 80, Protocol: "TCP", TargetPort: intstr.FromString("web"), NodePort: 30080}
	webSlices := []discoveryv1.EndpointSlice{slice("http", 8080, "TCP", map[string]bool{"10.0.0.2": true, "10.0.0.1": true, "10.0.0.9": false})}
	infra := &v1beta1.AviInfraSetting{Spec: v1beta1.AviInfraSettingSpec{SeGroup: v1beta1.AviInfraSettingSeGroup{Name: "edge-seg"},
		Network: v1beta1.AviInfraSettingNetwork{VipNetworks: []v1beta1.AviInfraSettingVipNetwork{{NetworkName: "net-1b"}, {NetworkName: "net-1a"}}}}}
	ent := &inventory.Snapshot{LicenseTier: "ENTERPRISE"}
	dns := func(domains ...string) *inventory.Snapshot {
		slices.Sort(domains)
		return &inventory.Snapshot{LicenseTier: "ENTERPRISE", Cloud: inventory.Cloud{DNSDomains: domains}}
	}
	withIP := svc("web", webPort)
	withIP.Annotations = map[string]string{rules.AnnLoadBalancerIP: "10.2.0.3"}

	tests := []struct {
		name string
		in   L4Input
		pick func(*Set) any
		want string
	}{{
		name: "ClusterIP TCP with named targetPort: whole set",
		in:   L4Input{Settings: settings(), Snapshot: ent, Members: []Member{{Service: svc("web", webPort), Slices: webSlices}}},
		pick: func(s *Set) any { return s },
		want: `{"Owner":"c1--ns-web","CreatedBy":"vipgate-c1","OwnedBy":"Service/ns/web","ClusterID":"","Tenant":"admin","Namespace":"ns","PoolBases":["c1--ns-web"],
		 "VsVips":[{"name":"c1--ns-web","cloud_ref":"/api/cloud/?name=Default-Cloud","vrf_context_ref":"/api/vrfcontext/?name=global",
		   "markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["Service/ns/web"]}],
		   "vip":[{"vip_id":"0","auto_allocate_ip":true,"ipam_network_subnet":{"network_ref":"/api/network/?name=vip-net-a","subnet":{"ip_addr":{"addr":"10.50.0.0","type":"V4"},"mask":24}}}]}],
		 "Pools":[{"name":"c1--ns-web-TCP-80","cloud_ref":"/api/cloud/?name=Default-Cloud","vrf_ref":"/api/vrfcontext/?name=global","created_by":"vipgate-c1",
		   "servers":[{"ip":{"addr":"10.0.0.1","type":"V4"},"port":8080},{"ip":{"addr":"10.0.0.2","type":"V4"},"port":8080}],
		   "health_monitor_refs":["/api/healthmonitor/?name=System-TCP"],"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["Service/ns/web"]},
		     {"key":"Namespace","values":["ns"]},{"key":"ServiceName","values":["web"]},{"key":"Port","values":["80"]}]}],
		 "VirtualServices":[{"name":"c1--ns-web","cloud_ref":"/api/cloud/?name=Default-Cloud","vrf_context_ref":"/api/vrfcontext/?name=global",
		   "markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["Service/ns/web"]},
		     {"key":"Namespace","values":["ns"]},{"key":"ServiceName","values":["web"]}],
		   "remove_listening_port_on_vs_down":true,
		   "created_by":"vipgate-c1","se_group_ref":"/api/serviceenginegroup/?name=Default-Group","vsvip_ref":"/api/vsvip/?name=c1--ns-web",
		   "application_profile_ref":"/api/applicationprofile/?name=System-L4-Application","network_profile_ref":"/api/networkprofile/?name=System-TCP-Proxy",
		   "services":[{"port":80}],
		   "service_pool_select":[{"service_port":80,"service_protocol":"PROTOCOL_TYPE_TCP_PROXY","service_pool_ref":"/api/pool/?name=c1--ns-web-TCP-80"}]}]}`,
	}, {
		name: "NodePort mode: node addresses and nodePort",
		in: L4Input{Settings: settings(func(s *config.Settings) { s.L7Settings.ServiceType = "NodePort" }),
			Members: []Member{{Service: svc("web", webPort), Slices: webSlices}}, NodeAddresses: []string{"192.168.1.12", "192.168.1.11", "bogus"}},
		pick: func(s *Set) any { return s.Pools[0].Servers },
		want: `[{"ip":{"addr":"192.168.1.11","type":"V4"},"port":30080},{"ip":{"addr":"192.168.1.12","type":"V4"},"port":30080}]`,
	}, {
		name: "UDP and TCP ports: UDP overrides the TCP profile per port, sorted by port",
		in: L4Input{Settings: settings(), Snapshot: ent, Members: []Member{{Service: svc("dns",
			corev1.ServicePort{Name: "dns-udp", Port: 53, Protocol: "UDP", TargetPort: intstr.FromInt32(5353)},
			corev1.ServicePort{Name: "dns-tcp", Port: 53, Protocol: "TCP", TargetPort: intstr.FromInt32(5353)},
			corev1.ServicePort{Name: "a", Port: 9, Protocol: "UDP", TargetPort: intstr.FromInt32(9)})}}},
		pick: func(s *Set) any {
			return map[string]any{"pools": []string{*s.Pools[0].Name, *s.Pools[1].Name, *s.Pools[2].Name},
				"monitors": [][]string{s.Pools[0].HealthMonitorRefs, s.Pools[1].HealthMonitorRefs, s.Pools[2].HealthMonitorRefs},
				"net":      s.VirtualServices[0].NetworkProfileRef, "services": s.VirtualServices[0].Services, "select": s.VirtualServices[0].ServicePoolSelect}
		},
		want: `{"pools":["c1--ns-dns-TCP-53","c1--ns-dns-UDP-53","c1--ns-dns-UDP-9"],"net":"/api/networkprofile/?name=System-TCP-Proxy",
		 "monitors":[["/api/healthmonitor/?name=System-TCP"],["/api/healthmonitor/?name=System-UDP"],["/api/healthmonitor/?name=System-UDP"]],
		 "services":[{"port":9,"override_network_profile_ref":"/api/networkprofile/?name=System-UDP-Fast-Path"},{"port":53},{"port":53,"override_network_profile_ref":"/api/networkprofile/?name=System-UDP-Fast-Path"}],
		 "select":[{"service_port":9,"service_protocol":"PROTOCOL_TYPE_UDP_FAST_PATH","service_pool_ref":"/api/pool/?name=c1--ns-dns-UDP-9"},
		   {"service_port":53,"service_protocol":"PROTOCOL_TYPE_TCP_PROXY","service_pool_ref":"/api/pool/?name=c1--ns-dns-TCP-53"},
		   {"service_port":53,"service_protocol":"PROTOCOL_TYPE_UDP_FAST_PATH","service_pool_ref":"/api/pool/?name=c1--ns-dns-UDP-53"}]}`,
	}, {
		name: "UDP only: the VS profile is UDP fast path",
		in:   L4Input{Settings: settings(), Members: []Member{{Service: svc("u", corev1.ServicePort{Port: 514, Protocol: "UDP"})}}},
		pick: func(s *Set) any {
			return []any{s.VirtualServices[0].NetworkProfileRef, s.VirtualServices[0].Services, s.Pools[0].Servers}
		},
		want: `["/api/networkprofile/?name=System-UDP-Fast-Path",[{"port":514}],null]`,
	}, {
		name: "TCP below the ENTERPRISE tiers: fast path, named in service_pool_select too (AKO's choice by license)",
		in:   L4Input{Settings: settings(), Snapshot: &inventory.Snapshot{LicenseTier: "ESSENTIALS"}, Members: []Member{{Service: svc("web", webPort)}}},
		pick: func(s *Set) any {
			return []any{s.VirtualServices[0].NetworkProfileRef, s.VirtualServices[0].ServicePoolSelect}
		},
		want: `["/api/networkprofile/?name=System-TCP-Fast-Path",
		  [{"service_port":80,"service_protocol":"PROTOCOL_TYPE_TCP_FAST_PATH","service_pool_ref":"/api/pool/?name=c1--ns-web-TCP-80"}]]`,
	}, {
		name: "requested IP (spec) and autoFQDN default under NetworkSettings.defaultDomain, one of the DNS profile's domains",
		in: L4Input{Settings: settings(func(s *config.Settings) { s.NetworkSettings.DefaultDomain = "apps.example.com" }), Snapshot: dns("other.example.com", "apps.example.com"),
			Members: []Member{{Service: func() *corev1.Service { x := svc("web", webPort); x.Spec.LoadBalancerIP = "10.50.0.42"; return x }()}}},
		pick: func(s *Set) any { return []any{s.VsVips[0].Vip, s.VsVips[0].DNSInfo} },
		want: `[[{"vip_id":"0","auto_allocate_ip":true,"ip_address":{"addr":"10.50.0.42","type":"V4"},
		   "ipam_network_subnet":{"network_ref":"/api/network/?name=vip-net-a","subnet":{"ip_addr":{"addr":"10.50.0.0","type":"V4"},"mask":24}}}],
		  [{"fqdn":"web.ns.apps.example.com","type":"DNS_RECORD_A"}]]`,
	}, {
		name: "autoFQDN flat: NetworkSettings.defaultDomain before L4Settings' (AKO's order)",
		in: L4Input{Settings: settings(func(s *config.Settings) {
			s.NetworkSettings.DefaultDomain = "net.example.com"
			s.L4Settings.DefaultDomain = "l4.example.com"
			s.L4Settings.AutoFQDN = "flat"
		}), Snapshot: dns("l4.example.com", "net.example.com"), Members: []Member{{Service: svc("web", webPort)}}},
		pick: func(s *Set) any { return s.VsVips[0].DNSInfo },
		want: `[{"fqdn":"web-ns.net.example.com","type":"DNS_RECORD_A"}]`,
	}, {
		name: "a defaultDomain the DNS profile lacks: its first domain; a name starting with a digit gets AKO's prefix",
		in: L4Input{Settings: settings(func(s *config.Settings) { s.L4Settings.DefaultDomain = "elsewhere.example.com" }),
			Snapshot: dns("b.example.com", "a.example.com"), Members: []Member{{Service: svc("1web", webPort)}}},
		pick: func(s *Set) any { return s.VsVips[0].DNSInfo },
		want: `[{"fqdn":"s1web.ns.a.example.com","type":"DNS_RECORD_A"}]`,
	}, {
		name: "no DNS profile on the cloud: no FQDN, whatever defaultDomain says",
		in: L4Input{Settings: settings(func(s *config.Settings) { s.NetworkSettings.DefaultDomain = "apps.example.com" }), Snapshot: ent,
			Members: []Member{{Service: svc("web", webPort)}}},
		pick: func(s *Set) any { return s.VsVips[0].DNSInfo },
		want: `null`,
	}, {
		name: "autoFQDN disabled",
		in: L4Input{Settings: settings(func(s *config.Settings) {
			s.L4Settings.DefaultDomain = "l4.example.com"
			s.L4Settings.AutoFQDN = "disabled"
		}), Snapshot: dns("l4.example.com"), Members: []Member{{Service: svc("web", webPort)}}},
		pick: func(s *Set) any { return s.VsVips[0].DNSInfo },
		want: `null`,
	}, {
		name: "AWS multi-VIP from AviInfraSetting: one vip per network sorted, AZ, SE group, requested IP on its subnet",
		in:   L4Input{Settings: settings(), Infra: infra, Snapshot: awsSnapshot(), Members: []Member{{Service: withIP}}},
		pick: func(s *Set) any { return []any{s.VsVips[0].Vip, s.VirtualServices[0].SeGroupRef} },
		want: `[[{"vip_id":"1","auto_allocate_ip":true,"availability_zone":"us-east-1a",
		    "ipam_network_subnet":{"network_ref":"/api/network/?name=net-1a"}},
		   {"vip_id":"2","auto_allocate_ip":true,"availability_zone":"us-east-1b","ip_address":{"addr":"10.2.0.3","type":"V4"},
		    "ipam_network_subnet":{"network_ref":"/api/network/?name=net-1b"}}],
		  "/api/serviceenginegroup/?name=edge-seg"]`,
	}, {
		name: "several networks on a single-VIP cloud: only the first",
		in:   L4Input{Settings: settings(), Infra: infra, Members: []Member{{Service: svc("web", webPort)}}},
		pick: func(s *Set) any { return s.VsVips[0].Vip },
		want: `[{"vip_id":"0","auto_allocate_ip":true,"ipam_network_subnet":{"network_ref":"/api/network/?name=net-1a"}}]`,
	}, {
		name: "shared VIP: one VsVip/VS named by key over all members' ports, a pool per member port",
		in: L4Input{Settings: settings(), Snapshot: ent, SharedKey: "shared1", Members: []Member{
			{Service: svc("b", corev1.ServicePort{Port: 443, Protocol: "TCP"})},
			{Service: svc("a", corev1.ServicePort{Port: 80, Protocol: "TCP"})}}},
		pick: func(s *Set) any {
			return map[string]any{"owner": s.Owner, "bases": s.PoolBases, "vsvip": s.VsVips[0].Name, "pools": []string{*s.Pools[0].Name, *s.Pools[1].Name},
				"select": s.VirtualServices[0].ServicePoolSelect, "vsvipref": s.VirtualServices[0].VsvipRef,
				"vsmarkers": s.VirtualServices[0].Markers[3:], "poolmarkers": s.Pools[0].Markers[3:]}
		},
		want: `{"owner":"c1--ns-shared1","bases":["c1--ns-a-shared1","c1--ns-b-shared1"],"vsvip":"c1--ns-shared1","pools":["c1--ns-a-shared1-TCP-80","c1--ns-b-shared1-TCP-443"],
		 "select":[{"service_port":80,"service_protocol":"PROTOCOL_TYPE_TCP_PROXY","service_pool_ref":"/api/pool/?name=c1--ns-a-shared1-TCP-80"},
		   {"service_port":443,"service_protocol":"PROTOCOL_TYPE_TCP_PROXY","service_pool_ref":"/api/pool/?name=c1--ns-b-shared1-TCP-443"}],
		 "vsvipref":"/api/vsvip/?name=c1--ns-shared1",
		 "vsmarkers":[{"key":"Namespace","values":["ns"]},{"key":"GatewayName","values":["shared1"]}],
		 "poolmarkers":[{"key":"Namespace","values":["ns"]},{"key":"ServiceName","values":["a"]},{"key":"Port","values":["80"]},{"key":"Protocol","values":["TCP"]},{"key":"GatewayName","values":["shared1"]}]}`,
	}, {
		name: "RHI with peer labels from AviInfraSetting",
		in: L4Input{Settings: settings(), Infra: &v1beta1.AviInfraSetting{Spec: v1beta1.AviInfraSettingSpec{Network: v1beta1.AviInfraSettingNetwork{
			EnableRhi: ptr.To(true), BgpPeerLabels: []string{"peer2", "peer1"}}}}, Members: []Member{{Service: svc("web", webPort)}}},
		pick: func(s *Set) any {
			return []any{s.VirtualServices[0].EnableRhi, s.VirtualServices[0].BgpPeerLabels, s.VsVips[0].BgpPeerLabels}
		},
		want: `[true,["peer1","peer2"],["peer1","peer2"]]`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := BuildL4(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got, want := normJSON(t, mustJSON(t, tc.pick(set))), normJSON(t, tc.want)
			if got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			again, _ := BuildL4(tc.in)
			if mustJSON(t, again) != mustJSON(t, set) {
				t.Error("not deterministic")
			}
		})
	}
}

func TestBuildL4Errors(t *testing.T) {
	a := svc("a", corev1.ServicePort{Port: 80, Protocol: "TCP"})
	a.Spec.LoadBalancerIP = "10.50.0.10"
	b := svc("b", corev1.ServicePort{Port: 80, Protocol: "TCP"})
	if _, err := BuildL4(L4Input{Settings: settings(), SharedKey: "k", Members: []Member{{Service: a}, {Service: b}}}); err == nil {
		t.Error("port collision in a shared group must fail")
	}
	c := svc("c", corev1.ServicePort{Port: 81, Protocol: "TCP"})
	c.Spec.LoadBalancerIP = "10.50.0.11"
	if _, err := BuildL4(L4Input{Settings: settings(), SharedKey: "k", Members: []Member{{Service: a}, {Service: c}}}); err == nil {
		t.Error("different IPs in a shared group must fail")
	}
	bad := svc("d", corev1.ServicePort{Port: 80})
	bad.Annotations = map[string]string{rules.AnnLoadBalancerIP: "not-an-ip"}
	if _, err := BuildL4(L4Input{Settings: settings(), Members: []Member{{Service: bad}}}); err == nil {
		t.Error("bad IP must fail")
	}
}

func TestNames(t *testing.T) {
	if got := PoolName(rules.PoolBaseName("c1", "ns", "web", ""), "tcp", 80); got != "c1--ns-web-TCP-80" {
		t.Error(got)
	}
	if got := PoolName(rules.PoolBaseName("c1", "ns", "web", "k"), "udp", 53); got != "c1--ns-web-k-UDP-53" {
		t.Error(got)
	}
	for name, want := range map[string]bool{"c1--ns-web-TCP-80": true, "c1--ns-web-UDP-53": true, "c1--ns-web-api-TCP-80": false, "c1--ns-web": false, "c1--ns-web-TCP-80x": false} {
		if IsPoolOf("c1--ns-web", name) != want {
			t.Errorf("IsPoolOf(%s) != %v", name, want)
		}
	}
}

func TestAllocatedAddresses(t *testing.T) {
	ip := func(a string) *objects.IPAddr { return &objects.IPAddr{Addr: ptr.To(a), Type: ptr.To("V4")} }
	v := &objects.VsVip{Vip: []*objects.Vip{
		{VipID: ptr.To("10"), IPAddress: ip("10.0.0.10")},
		{VipID: ptr.To("2"), IPAddress: ip("10.0.0.2"), Ip6Address: &objects.IPAddr{Addr: ptr.To("2001:db8::2"), Type: ptr.To("V6")}},
		{VipID: ptr.To("3"), AutoAllocateIP: ptr.To(true)}, // not allocated yet: nothing guessed
		{VipID: ptr.To("4"), IPAddress: ip("0.0.0.0")},
	}}
	got := AllocatedAddresses(v)
	want := []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("10.0.0.10")}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v want %v", got, want)
		}
	}
	if AllocatedAddresses(nil) != nil || AllocatedAddresses(&objects.VsVip{Vip: []*objects.Vip{{VipID: ptr.To("1"), AutoAllocateIP: ptr.To(true)}}}) != nil {
		t.Error("no address must give nil")
	}
}

// TestKeptVIP: the addresses asked for when an owner's VsVip has to be
// created again are the ones its objects show, only where each can be told
// to be one vip's (no requested address, its subnet and family; several
// vips only with subnets to tell them apart, as on AWS).
func TestKeptVIP(t *testing.T) {
	shows := func(name string, ips ...string) Member {
		s := svc(name)
		for _, ip := range ips {
			s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
		}
		return Member{Service: s}
	}
	vip := func(id string, mut ...func(*objects.Vip)) *objects.Vip {
		v := &objects.Vip{VipID: ptr.To(id), AutoAllocateIP: ptr.To(true), IPAMNetworkSubnet: &objects.IPNetworkSubnet{
			Subnet: &objects.IPAddrPrefix{IPAddr: &objects.IPAddr{Addr: ptr.To("10.50.0.0"), Type: ptr.To("V4")}, Mask: ptr.To[int32](24)}}}
		for _, m := range mut {
			m(v)
		}
		return v
	}
	one := func(mut ...func(*objects.Vip)) *objects.VsVip {
		return &objects.VsVip{Vip: []*objects.Vip{vip("0", mut...)}}
	}
	byName := func(name string) func(*objects.Vip) {
		return func(v *objects.Vip) { v.IPAMNetworkSubnet, v.SubnetUUID = nil, ptr.To(name) }
	}
	aws := &objects.VsVip{Vip: []*objects.Vip{vip("1", byName("subnet-a")), vip("2", byName("subnet-b")), vip("3", byName("subnet-c"))}}
	snap := &inventory.Snapshot{Networks: map[string]*inventory.Network{
		"subnet-a": {Name: "subnet-a", Subnets: []inventory.Subnet{{Prefix: netip.MustParsePrefix("10.70.1.0/24")}}},
		"subnet-b": {Name: "subnet-b", Subnets: []inventory.Subnet{{Prefix: netip.MustParsePrefix("10.70.2.0/24")}}},
		"subnet-c": {Name: "subnet-c", Subnets: []inventory.Subnet{{Prefix: netip.MustParsePrefix("10.70.3.0/24")}}},
	}}
	for _, tc := range []struct {
		name    string
		members []Member
		vsvip   *objects.VsVip
		want    map[string]string
	}{
		{"a Service with a VIP", []Member{shows("web", "10.50.0.7")}, one(), map[string]string{"0": "10.50.0.7"}},
		{"no VIP yet", []Member{shows("web")}, one(), nil},
		{"a shared VIP, shown by the members that have it", []Member{shows("a", "10.50.0.7"), shows("b"), shows("c", "10.50.0.7")}, one(), map[string]string{"0": "10.50.0.7"}},
		{"members that disagree", []Member{shows("a", "10.50.0.7"), shows("b", "10.50.0.8")}, one(), nil},
		{"two addresses, one vip", []Member{shows("web", "10.50.0.7", "10.50.0.8")}, one(), nil},
		{"outside the vip's subnet (moved network)", []Member{shows("web", "10.60.0.7")}, one(), nil},
		{"a hostname, not an address", []Member{shows("web", "")}, one(), nil},
		{"an address asked for already", []Member{shows("web", "10.50.0.7")}, one(func(v *objects.Vip) { v.IPAddress = ipAddr(netip.MustParseAddr("10.50.0.9")) }), nil},
		{"an IPv6 VIP on an IPv4 vip", []Member{shows("web", "2001:db8::7")}, one(), nil},
		{"an IPv4 VIP on an IPv6 vip", []Member{shows("web", "10.50.0.7")}, one(func(v *objects.Vip) { v.AutoAllocateIPType = ptr.To("V6_ONLY"); v.IPAMNetworkSubnet = nil }), nil},
		{"the IPAM picks the network", []Member{shows("web", "10.70.0.7")}, one(func(v *objects.Vip) { v.IPAMNetworkSubnet = nil }), map[string]string{"0": "10.70.0.7"}},
		{"AWS: one address per zone's subnet", []Member{shows("web", "10.70.2.9", "10.70.1.8", "10.70.3.7")}, aws,
			map[string]string{"1": "10.70.1.8", "2": "10.70.2.9", "3": "10.70.3.7"}},
		{"AWS: a zone without its address", []Member{shows("web", "10.70.1.8", "10.70.1.9", "10.70.3.7")}, aws, nil},
		{"AWS: fewer addresses than zones", []Member{shows("web", "10.70.1.8", "10.70.3.7")}, aws, nil},
		{"several vips nothing tells apart", []Member{shows("web", "10.70.1.8", "10.70.2.9")},
			&objects.VsVip{Vip: []*objects.Vip{vip("1", byName("x")), vip("2", byName("y"))}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := KeptVIP(ServicesShow(tc.members), tc.vsvip, snap); !maps.Equal(got, tc.want) {
				t.Errorf("KeptVIP = %v, want %v", got, tc.want)
			}
		})
	}
}
