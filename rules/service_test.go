package rules

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
)

// serviceLookups is the cluster every Service row runs against.
func serviceLookups() *fakeLookups {
	f := newFake()
	f.addService(
		lbSvc("default", "web", ip("10.50.0.10"), statusIP("10.50.0.10")),
		lbSvc("default", "api", ip("10.50.0.30")),
		lbSvc("team-b", "api", statusIP("10.50.0.31")),
		lbSvc("default", "other-lb", class("example.com/other"), ip("10.50.0.32")),
		lbSvc("default", "dns-tcp", shared("k"), ip("10.50.0.13"), ports(corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolTCP})),
		lbSvc("team-b", "dns", shared("k"), ip("10.50.0.33")),
		lbSvc("default", "b", shared("grp"), ip("10.50.0.40"), ports(corev1.ServicePort{Port: 80})),
	)
	f.addInfra(
		ais("edge", v1beta1.StatusAccepted, "", "edge-seg", vn("vip-net-b")),
		ais("no-nets", v1beta1.StatusAccepted, "", "edge-seg"),
		ais("broken", v1beta1.StatusRejected, "network vip-net-x not found", ""),
		ais("fresh", "", "", "", vn("vip-net-a")),
		ais("pinned", v1beta1.StatusAccepted, "", "", v1beta1.AviInfraSettingVipNetwork{NetworkUUID: "network-a", Cidr: "10.50.0.0/24"}),
	)
	f.addNamespace("default", "").addNamespace("team-a", "edge").addNamespace("team-x", "nope")
	return f
}

// akoHolds gives 10.50.0.15 to the VsVip AKO made for Service default/moved:
// AKO marks VsVips with clustername only.
func akoHolds(s *inventory.Snapshot) {
	s.InUse[addr("10.50.0.15")] = inventory.Holder{VsVip: "demo--default-moved", ClusterName: "demo", Tenant: "admin"}
}

func TestValidateService(t *testing.T) {
	v4 := demoSettings()
	v6 := demoSettings(ipv6Settings)
	noList := demoSettings(func(s *config.Settings) { s.NetworkSettings.VIPNetworkList = nil })
	defaultClassOff := demoSettings(func(s *config.Settings) { s.L4Settings.DefaultLBController = false })

	tests := []struct {
		name      string
		svc, old  *corev1.Service
		settings  *config.Settings
		inv       *inventory.Snapshot
		stale     bool
		wantErrs  []string
		wantWarns []string
	}{
		// Ownership: other Services pass untouched, whatever they carry.
		{name: "not type LoadBalancer", svc: lbSvc("default", "x", clusterIP(), ip("garbage"))},
		{name: "another loadBalancerClass", svc: lbSvc("default", "x", class("example.com/other"), ip("garbage"))},
		{name: "no class and defaultLBController false", svc: lbSvc("default", "x", noClass(), ip("garbage")), settings: defaultClassOff},
		{name: "no class and defaultLBController true is ours", svc: lbSvc("default", "x", noClass(), ip("garbage")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "garbage": must be a valid IP address, such as 10.50.0.20`}},

		// Happy paths.
		{name: "no VIP requested", svc: lbSvc("default", "x")},
		{name: "free address in the static range", svc: lbSvc("default", "x", ip("10.50.0.20"))},
		{name: "annotation only", svc: lbSvc("default", "x", annIP("10.50.0.20"))},
		{name: "spec and annotation agree", svc: lbSvc("default", "x", ip("10.50.0.20"), annIP("10.50.0.20"))},
		{name: "own VsVip holds it (reconcile re-check)", svc: lbSvc("default", "web", ip("10.50.0.10"), statusIP("10.50.0.10"))},
		{name: "shared-VIP group's VsVip holds it", svc: lbSvc("default", "dns-udp", shared("k"), ip("10.50.0.13"),
			ports(corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP}))},
		{name: "held by a Service of another class", svc: lbSvc("default", "x", ip("10.50.0.32"))},
		{name: "AviInfraSetting on the Service", svc: lbSvc("default", "x", infra("edge"), ip("10.60.0.3"))},
		{name: "AviInfraSetting on the Namespace", svc: lbSvc("team-a", "x", ip("10.60.0.3"))},
		{name: "AviInfraSetting without networks uses the global list", svc: lbSvc("default", "x", infra("no-nets"), ip("10.50.0.20"))},
		{name: "AviInfraSetting by UUID and cidr", svc: lbSvc("default", "x", infra("pinned"), ip("10.50.0.20"))},
		{name: "IPv6 address with ipFamily V6", svc: lbSvc("default", "x", ip("2001:db8:50::20"), families(corev1.IPv6Protocol)),
			settings: v6, inv: demoInventory(withV6)},

		// Syntax and family (static: they hold without an inventory).
		{name: "not an address", svc: lbSvc("default", "x", ip("10.50.0")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0": must be a valid IP address, such as 10.50.0.20`}},
		{name: "bad annotation", svc: lbSvc("default", "x", annIP("10.50.0.300")),
			wantErrs: []string{`metadata.annotations[ako.vmware.com/load-balancer-ip]: Invalid value: "10.50.0.300": must be a valid IP address, such as 10.50.0.20`}},
		{name: "IPv6 zone", svc: lbSvc("default", "x", ip("2001:db8:50::20%eth0")), settings: v6,
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "2001:db8:50::20%eth0": must not carry an IPv6 zone; use "2001:db8:50::20"`}},
		{name: "IPv4-mapped IPv6", svc: lbSvc("default", "x", ip("::ffff:10.50.0.20")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "::ffff:10.50.0.20": must be a plain IPv4 address, not IPv4-mapped IPv6; use "10.50.0.20"`}},
		{name: "loopback", svc: lbSvc("default", "x", ip("127.0.0.1")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "127.0.0.1": is not a unicast address usable as a VIP (unspecified, loopback, link-local, multicast and broadcast addresses are not)`}},
		{name: "IPv6 with ipFamily V4", svc: lbSvc("default", "x", ip("2001:db8:50::20")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "2001:db8:50::20": is an IPv6 address, but AKOSettings.ipFamily is V4; use an IPv4 address, or set AKOSettings.ipFamily to V6`}},
		{name: "family not in spec.ipFamilies", svc: lbSvc("default", "x", ip("10.50.0.20"), families(corev1.IPv6Protocol)), settings: v6,
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.20": is an IPv4 address, but spec.ipFamilies is [IPv6]; use an IPv6 address, or add IPv4 to spec.ipFamilies`}},

		// Placement in the networks that apply.
		{name: "outside the global VIP networks", svc: lbSvc("default", "x", ip("10.10.0.5")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.10.0.5": not inside any VIP network of NetworkSettings.vipNetworkList (vip-net-a 10.50.0.0/24, static VIP range 10.50.0.10-10.50.0.200); pick an address in a static VIP range, or leave it unset to get one allocated`}},
		{name: "outside the AviInfraSetting's networks", svc: lbSvc("default", "x", infra("edge"), ip("10.50.0.20")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.20": not inside any VIP network of AviInfraSetting "edge" (vip-net-b 10.60.0.0/28, static VIP range 10.60.0.2-10.60.0.5); pick an address in a static VIP range, or leave it unset to get one allocated`}},
		{name: "outside the Namespace's AviInfraSetting", svc: lbSvc("team-a", "x", ip("10.50.0.20")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.20": not inside any VIP network of AviInfraSetting "edge" (vip-net-b 10.60.0.0/28, static VIP range 10.60.0.2-10.60.0.5); pick an address in a static VIP range, or leave it unset to get one allocated`}},
		{name: "no list: the cloud's IPAM networks", svc: lbSvc("default", "x", ip("10.10.0.5")), settings: noList,
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.10.0.5": not inside any VIP network of the IPAM profile of cloud "Default-Cloud" (vip-net-a 10.50.0.0/24, static VIP range 10.50.0.10-10.50.0.200; vip-net-b 10.60.0.0/28, static VIP range 10.60.0.2-10.60.0.5); pick an address in a static VIP range, or leave it unset to get one allocated`}},
		{name: "in the subnet, outside the static range", svc: lbSvc("default", "x", ip("10.50.0.5")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.5": is inside subnet 10.50.0.0/24 of vip-net-a but outside its static VIP range 10.50.0.10-10.50.0.200; the controller allocates VIPs only from that range`}},
		{name: "subnet without a static range", svc: lbSvc("default", "x", ip("10.70.0.20")),
			settings: demoSettings(func(s *config.Settings) {
				s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "vip-net-c"}}
			}),
			inv:      demoInventory(withNetC),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.70.0.20": is inside subnet 10.70.0.0/24 of vip-net-c, which has no static VIP range; the controller allocates VIPs only from static VIP ranges`}},
		{name: "network address", svc: lbSvc("default", "x", ip("10.50.0.0")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.0": is the network address of subnet 10.50.0.0/24 (vip-net-a); pick an address in static VIP range 10.50.0.10-10.50.0.200`}},
		{name: "broadcast address", svc: lbSvc("default", "x", ip("10.50.0.255")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.255": is the broadcast address of subnet 10.50.0.0/24 (vip-net-a); pick an address in static VIP range 10.50.0.10-10.50.0.200`}},
		{name: "IPv6 subnet-router address", svc: lbSvc("default", "x", ip("2001:db8:50::")), settings: v6, inv: demoInventory(withV6),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "2001:db8:50::": is the network address of subnet 2001:db8:50::/64 (vip-net-a); pick an address in static VIP range 2001:db8:50::10-2001:db8:50::200`}},

		// Held by someone else.
		{name: "requested by another Service", svc: lbSvc("default", "x", ip("10.50.0.30")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.30": is already requested or held by Service default/api; a VIP belongs to one Service unless Services in the same namespace share it with the same ako.vmware.com/enable-shared-vip key`}},
		{name: "held in status by a Service of another namespace", svc: lbSvc("default", "x", ip("10.50.0.31")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.31": is already requested or held by Service team-b/api; a VIP belongs to one Service unless Services in the same namespace share it with the same ako.vmware.com/enable-shared-vip key`}},
		{name: "same shared key in another namespace", svc: lbSvc("default", "x", shared("k"), ip("10.50.0.33"), ports(corev1.ServicePort{Port: 99})),
			wantErrs: []string{
				`spec.loadBalancerIP: Invalid value: "10.50.0.33": is already requested or held by Service team-b/dns; a VIP belongs to one Service unless Services in the same namespace share it with the same ako.vmware.com/enable-shared-vip key`,
				`spec.loadBalancerIP: Invalid value: "10.50.0.33": differs from "10.50.0.13" requested by Service default/dns-tcp, which shares VIP key "k"; Services sharing a VIP must request the same address, or only one of them requests it`,
			}},
		{name: "own Service and controller both hold it: named once", svc: lbSvc("default", "web2", ip("10.50.0.10")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.10": is already requested or held by Service default/web; a VIP belongs to one Service unless Services in the same namespace share it with the same ako.vmware.com/enable-shared-vip key`}},
		{name: "allocated to another AKO's VsVip", svc: lbSvc("default", "x", ip("10.50.0.11")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.11": is already allocated on the controller to VsVip "legacy-vip" (created_by "ako-prod"), which this cluster does not manage; pick another address, or leave it unset to get one allocated`}},
		{name: "allocated to a hand-made VsVip", svc: lbSvc("default", "x", ip("10.50.0.14")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.14": is already allocated on the controller to VsVip "hand-made" (no created_by), which this cluster does not manage; pick another address, or leave it unset to get one allocated`}},
		{name: "AKO's VsVip of this Service (switching from AKO): adopted, not someone else's", svc: lbSvc("default", "moved", ip("10.50.0.15")), inv: demoInventory(akoHolds)},
		{name: "AKO's VsVip of another Service: held by this cluster", svc: lbSvc("default", "x", ip("10.50.0.15")), inv: demoInventory(akoHolds),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.15": is already allocated on the controller to VsVip "demo--default-moved" of this cluster; pick another address, or wait until that VsVip is deleted`}},
		{name: "AKO's VsVip with adoption off", svc: lbSvc("default", "moved", ip("10.50.0.15")), inv: demoInventory(akoHolds),
			settings: demoSettings(func(s *config.Settings) { s.AKOSettings.AdoptAKOObjects = false }),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.15": is already allocated on the controller to VsVip "demo--default-moved" (written by AKO for this clusterName; AKOSettings.adoptAKOObjects is false, so this cluster does not manage it); pick another address, or leave it unset to get one allocated`}},
		{name: "allocated to an orphan of this cluster", svc: lbSvc("default", "x", ip("10.50.0.12")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.12": is already allocated on the controller to VsVip "demo--default-old" of this cluster; pick another address, or wait until that VsVip is deleted`}},

		// Spec field and annotation.
		{name: "spec and annotation disagree", svc: lbSvc("default", "x", ip("10.50.0.20"), annIP("10.50.0.21")),
			wantErrs: []string{`metadata.annotations[ako.vmware.com/load-balancer-ip]: Invalid value: "10.50.0.21": does not match spec.loadBalancerIP "10.50.0.20"; set only one of them, or both to the same address`}},
		{name: "spec and annotation agree in different spellings", svc: lbSvc("default", "x", ip("2001:db8:50::20"), annIP("2001:DB8:50::20")),
			settings: v6, inv: demoInventory(withV6)},

		// Immutable after create.
		{name: "changed on update", svc: lbSvc("default", "x", ip("10.50.0.21")), old: lbSvc("default", "x", ip("10.50.0.20")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.21": the requested VIP cannot change after the Service is created (it was "10.50.0.20"); delete and recreate the Service to move it to another address`}},
		{name: "set on update", svc: lbSvc("default", "x", annIP("10.50.0.21")), old: lbSvc("default", "x"),
			wantErrs: []string{`metadata.annotations[ako.vmware.com/load-balancer-ip]: Invalid value: "10.50.0.21": the requested VIP cannot change after the Service is created (it was unset); delete and recreate the Service to move it to another address`}},
		{name: "removed on update", svc: lbSvc("default", "x"), old: lbSvc("default", "x", ip("10.50.0.20")),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "": the requested VIP cannot change after the Service is created (it was "10.50.0.20"); delete and recreate the Service to move it to another address`}},
		{name: "moved from spec to annotation unchanged", svc: lbSvc("default", "x", annIP("10.50.0.20")), old: lbSvc("default", "x", ip("10.50.0.20"))},
		{name: "unrelated update ratchets a range that shrank", svc: lbSvc("default", "x", ip("10.50.0.5")), old: lbSvc("default", "x", ip("10.50.0.5"))},
		{name: "becoming type LoadBalancer is a create", svc: lbSvc("default", "x", ip("10.50.0.5")), old: lbSvc("default", "x", clusterIP()),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.5": is inside subnet 10.50.0.0/24 of vip-net-a but outside its static VIP range 10.50.0.10-10.50.0.200; the controller allocates VIPs only from that range`}},

		// Shared-VIP groups.
		{name: "shared group members disagree on the address", svc: lbSvc("default", "a", shared("grp"), ip("10.50.0.41"), ports(corev1.ServicePort{Port: 443})),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.41": differs from "10.50.0.40" requested by Service default/b, which shares VIP key "grp"; Services sharing a VIP must request the same address, or only one of them requests it`}},
		{name: "shared group port collision", svc: lbSvc("default", "a", shared("grp")),
			wantErrs: []string{`spec.ports[0].port: Invalid value: 80: collides with port 80/TCP of Service default/b, which shares VIP key "grp"; Services sharing a VIP need distinct port/protocol pairs`}},
		{name: "shared group: same port, other protocol", svc: lbSvc("default", "a", shared("grp"), ip("10.50.0.40"),
			ports(corev1.ServicePort{Port: 80, Protocol: corev1.ProtocolUDP}))},

		// AviInfraSetting selection.
		{name: "AviInfraSetting missing", svc: lbSvc("default", "x", infra("nope")),
			wantErrs: []string{`metadata.annotations[aviinfrasetting.ako.vmware.com/name]: Invalid value: "nope": no AviInfraSetting with this name exists; create it first, or remove the annotation`}},
		{name: "Namespace's AviInfraSetting missing", svc: lbSvc("team-x", "x"),
			wantErrs: []string{`metadata.namespace: Invalid value: "team-x": the Namespace selects AviInfraSetting "nope" (annotation aviinfrasetting.ako.vmware.com/name), which does not exist; create it first, or fix the Namespace annotation`}},
		{name: "AviInfraSetting Rejected", svc: lbSvc("default", "x", infra("broken")),
			wantErrs: []string{`metadata.annotations[aviinfrasetting.ako.vmware.com/name]: Invalid value: "broken": AviInfraSetting "broken" is Rejected: network vip-net-x not found; fix it first, or select another one`}},
		{name: "AviInfraSetting not processed yet", svc: lbSvc("default", "x", infra("fresh")),
			wantWarns: []string{`AviInfraSetting "fresh" has not been accepted yet; the Service gets its VIP once it is`}},
		{name: "AviInfraSetting unchanged on update ratchets", svc: lbSvc("default", "x", infra("broken"), ip("10.50.0.20")),
			old: lbSvc("default", "x", infra("broken"), ip("10.50.0.20"))},

		// Inventory unusable: controller checks skipped with one warning, static ones hold.
		{name: "stale inventory skips placement", svc: lbSvc("default", "x", ip("10.10.0.5")), stale: true,
			wantWarns: []string{WarnInventoryStale}},
		{name: "stale inventory keeps Service conflicts", svc: lbSvc("default", "x", ip("10.50.0.30")), stale: true,
			wantErrs:  []string{`spec.loadBalancerIP: Invalid value: "10.50.0.30": is already requested or held by Service default/api; a VIP belongs to one Service unless Services in the same namespace share it with the same ako.vmware.com/enable-shared-vip key`},
			wantWarns: []string{WarnInventoryStale}},
		{name: "stale inventory keeps syntax", svc: lbSvc("default", "x", ip("nope")), stale: true,
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "nope": must be a valid IP address, such as 10.50.0.20`}},
		{name: "inventory never loaded", svc: lbSvc("default", "x", ip("10.10.0.5")), inv: (*inventory.Snapshot)(nil),
			wantWarns: []string{WarnInventoryNotLoaded}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := Env{Settings: tt.settings, Inventory: tt.inv, InventoryStale: tt.stale, Lookups: serviceLookups(), Now: now}
			if env.Settings == nil {
				env.Settings = v4
			}
			if env.Inventory == nil && tt.name != "inventory never loaded" {
				env.Inventory = demoInventory()
			}
			checkResult(t, ValidateService(tt.svc, tt.old, env), tt.wantErrs, tt.wantWarns)
		})
	}
}

func TestOwnsService(t *testing.T) {
	on, off := demoSettings(), demoSettings(func(s *config.Settings) { s.L4Settings.DefaultLBController = false })
	tests := []struct {
		name string
		svc  *corev1.Service
		s    *config.Settings
		want bool
	}{
		{"avi-lb class", lbSvc("d", "x"), off, true},
		{"other class", lbSvc("d", "x", class("example.com/other")), on, false},
		{"no class, default controller", lbSvc("d", "x", noClass()), on, true},
		{"no class, not default controller", lbSvc("d", "x", noClass()), off, false},
		{"no class, no settings", lbSvc("d", "x", noClass()), nil, false},
		{"ClusterIP", lbSvc("d", "x", clusterIP()), on, false},
		{"nil Service", nil, on, false},
		{"layer7Only", lbSvc("d", "x"), demoSettings(func(s *config.Settings) { s.AKOSettings.Layer7Only = true }), false},
	}
	for _, tt := range tests {
		if got := ownership.OwnsService(tt.svc, tt.s); got != tt.want {
			t.Errorf("%s: OwnsService = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRequestedIP(t *testing.T) {
	tests := []struct {
		name     string
		svc      *corev1.Service
		want     string
		wantPath string
	}{
		{"none", lbSvc("d", "x"), "", ""},
		{"spec", lbSvc("d", "x", ip("10.50.0.20")), "10.50.0.20", "spec.loadBalancerIP"},
		{"annotation", lbSvc("d", "x", annIP("10.50.0.21")), "10.50.0.21", "metadata.annotations[ako.vmware.com/load-balancer-ip]"},
		{"spec wins", lbSvc("d", "x", ip("10.50.0.20"), annIP("10.50.0.21")), "10.50.0.20", "spec.loadBalancerIP"},
	}
	for _, tt := range tests {
		got, p := RequestedIP(tt.svc)
		gotPath := ""
		if p != nil {
			gotPath = p.String()
		}
		if got != tt.want || gotPath != tt.wantPath {
			t.Errorf("%s: RequestedIP = %q, %q; want %q, %q", tt.name, got, gotPath, tt.want, tt.wantPath)
		}
	}
}

func TestInfraSettingName(t *testing.T) {
	f := newFake().addNamespace("team-a", "edge").addNamespace("plain", "")
	tests := []struct {
		name string
		svc  *corev1.Service
		ns   string
		want string
	}{
		{"on the Service", lbSvc("team-a", "x", infra("core")), "team-a", "core"},
		{"from the Namespace", lbSvc("team-a", "x"), "team-a", "edge"},
		{"neither", lbSvc("plain", "x"), "plain", ""},
		{"no Namespace", lbSvc("gone", "x"), "gone", ""},
	}
	for _, tt := range tests {
		ns, _ := f.Namespace(context.Background(), tt.ns)
		if got := InfraSettingName(tt.svc, ns); got != tt.want {
			t.Errorf("%s: InfraSettingName = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestCanonicalIP(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"10.50.0.20", "10.50.0.20", true},
		{"2001:DB8:0:0::20", "2001:db8::20", true},
		{"2001:db8:0000::0020", "2001:db8::20", true},
		{"010.50.0.20", "010.50.0.20", false},
		{"web", "web", false},
	}
	for _, tt := range tests {
		if got, ok := CanonicalIP(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("CanonicalIP(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestVsVipName(t *testing.T) {
	if got := VsVipName("demo", "default", "web"); got != "demo--default-web" {
		t.Errorf("VsVipName = %q", got)
	}
}

func TestEffectiveVIPNetworks(t *testing.T) {
	s := demoSettings()
	tests := []struct {
		name       string
		ais        *v1beta1.AviInfraSetting
		want       []VIPNetworkRef
		wantOrigin string
	}{
		{"no AviInfraSetting", nil, []VIPNetworkRef{{Name: "vip-net-a"}}, "NetworkSettings.vipNetworkList"},
		{"AviInfraSetting without networks", ais("seg-only", "", "", "edge-seg"), []VIPNetworkRef{{Name: "vip-net-a"}}, "NetworkSettings.vipNetworkList"},
		{"AviInfraSetting networks win", ais("edge", "", "", "", vn("vip-net-b"), v1beta1.AviInfraSettingVipNetwork{NetworkUUID: "network-a", Cidr: "10.50.0.0/24"}),
			[]VIPNetworkRef{{Name: "vip-net-b"}, {UUID: "network-a", CIDR: "10.50.0.0/24"}}, `AviInfraSetting "edge"`},
	}
	for _, tt := range tests {
		got, origin := EffectiveVIPNetworks(tt.ais, s)
		if len(got) != len(tt.want) || origin != tt.wantOrigin {
			t.Errorf("%s: got %v %q, want %v %q", tt.name, got, origin, tt.want, tt.wantOrigin)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: [%d] = %+v, want %+v", tt.name, i, got[i], tt.want[i])
			}
		}
	}
}

// TestResultWarnOnce pins that a warning reached by several checks is printed once.
func TestResultWarnOnce(t *testing.T) {
	var r Result
	r.Warn("a")
	r.Merge(Result{Warnings: []string{"a", "b"}, Errors: field.ErrorList{field.Invalid(field.NewPath("x"), 1, "bad")}})
	checkResult(t, r, []string{"x: Invalid value: 1: bad"}, []string{"a", "b"})
	if r.Err() == nil || r.Err().Error() != "x: Invalid value: 1: bad" {
		t.Errorf("Err() = %v", r.Err())
	}
}

// TestZeroEnv pins that a caller without settings, caches or inventory (early
// start-up, a unit test elsewhere) gets AKO's defaults and fail-open behaviour
// rather than a panic.
func TestZeroEnv(t *testing.T) {
	checkResult(t, ValidateService(lbSvc("default", "x", noClass(), ip("10.50.0.20"), infra("edge")), nil, Env{}),
		[]string{`metadata.annotations[aviinfrasetting.ako.vmware.com/name]: Invalid value: "edge": no AviInfraSetting with this name exists; create it first, or remove the annotation`},
		[]string{WarnInventoryNotLoaded})
	checkResult(t, ValidateIngress(ingress("team-a", "web", tlsEntry("web-tls")), nil, Env{}),
		[]string{`spec.tls[0].secretName: Invalid value: "web-tls": Secret team-a/web-tls does not exist; create it (kubectl create secret tls web-tls -n team-a --cert=<file> --key=<file>), or annotate the Ingress with cert-manager.io/cluster-issuer or cert-manager.io/issuer so cert-manager issues it`}, nil)
	checkResult(t, ValidateAviInfraSetting(nil, Env{}), nil, nil)
	checkResult(t, ValidateAviInfraSettingDelete("edge", Env{}), nil, nil)
	checkResult(t, ValidateNetworkSettings(Env{}), nil, []string{WarnInventoryNotLoaded}) // Default-Group cannot be checked
}
