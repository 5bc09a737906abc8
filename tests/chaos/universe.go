package chaos

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
)

// The universe is the fixed cast every run draws its operations from: a few
// namespaces, Service and Ingress names, AviInfraSettings and nodes per
// cluster, and a controller seed per cloud flavour. Names are few on purpose,
// so random operations collide: the same Service is created, edited and
// deleted many times, and AKO's plain name concatenation meets itself
// (team/a-web and team-a/web both become <cluster>--team-a-web).

// Cloud flavours of the simulated controller.
const (
	FlavourVCenter = "vcenter"
	FlavourAWS     = "aws"
)

var (
	namespaces   = []string{"team", "team-a", "shop", "dev"}
	serviceNames = []string{"web", "api", "a-web", "db"}
	ingressNames = []string{"site", "store"}
	// portMenu are the Service ports operations pick from.
	portMenu = []svcPort{{80, "TCP"}, {443, "TCP"}, {8080, "TCP"}, {53, "UDP"}, {9000, "TCP"}}
	// sharedKey is the one ako.vmware.com/enable-shared-vip key in use.
	sharedKey = "front"
	// tenants other than admin that namespaces may move their objects to.
	extraTenants = []string{"blue", "green"}
	nodeCount    = 3
	// echoCount is the number of echo backends (pods) per cluster.
	echoCount = 5
)

// Namespace selection: every namespace starts labelled selectorKey=on, and
// operations take the label away and give it back.
const (
	selectorKey   = "vipgate"
	selectorValue = "on"
	// otherClass is an IngressClass and loadBalancerClass of another controller.
	otherClass = "example.com/other"
	// ingressClass is vipgate's (default) IngressClass.
	ingressClass = "avi-lb"
	// otherIngressClass is an IngressClass another controller serves.
	otherIngressClass = "other-lb"
	// vipgateNamespace is where the replicas hold their lease.
	vipgateNamespace = "vipgate-system"
)

// AviInfraSetting names; each cluster has its own (they are cluster-scoped).
const (
	aisSmall = "small" // the tiny VIP network: four addresses, easily full
	aisEdge  = "edge"  // another SE group, the global VIP networks
	aisBad   = "bogus" // names a network the cloud does not have (admission refuses it)
)

// layout is what one cluster's vipgate is configured with and may use.
type layout struct {
	Index int
	Name  string
	// SEGroup is ControllerSettings.serviceEngineGroupName; EdgeSEGroup is
	// the SE group of the "edge" AviInfraSetting.
	SEGroup, EdgeSEGroup string
	// MainNets is NetworkSettings.vipNetworkList; SmallNet the "small" AviInfraSetting's network.
	MainNets []string
	SmallNet string
	// Reserved are addresses operations request as loadBalancerIP: the top
	// of the main network's range, never reached by automatic allocation in
	// a run, distinct per cluster, and each used at most once per run (so no
	// request meets an address a deleted Service still held a moment ago).
	Reserved []netip.Addr
	// Outside is inside the main subnet but outside its static range.
	Outside string
	// Broadcast is the main subnet's broadcast address.
	Broadcast string
	// SmallAddr is inside the small network's range (wrong network for a
	// Service on the global networks).
	SmallAddr string
	// NodeNet is the /16 of the cluster's pod CIDRs; NodeIPs its nodes' addresses.
	NodeNet string
}

// clusterNames are the clusterName of cluster 0 and 1.
var clusterNames = []string{"demo", "west"}

// layouts returns the layout of each cluster for a flavour.
func layouts(flavour string) []layout {
	out := make([]layout, 2)
	for i := range out {
		l := layout{Index: i, Name: clusterNames[i], SmallNet: "vip-small"}
		if i == 0 {
			l.SEGroup, l.EdgeSEGroup = "Default-Group", "edge-seg"
		} else {
			l.SEGroup, l.EdgeSEGroup = "west-seg", "west-edge"
		}
		if flavour == FlavourAWS {
			l.MainNets = []string{"vip-az-a", "vip-az-b", "vip-az-c"}
			for k := range 50 {
				l.Reserved = append(l.Reserved, netip.MustParseAddr(fmt.Sprintf("10.70.1.%d", 150+50*i+k)))
			}
			l.Outside, l.Broadcast = "10.70.1.5", "10.70.1.255"
		} else {
			l.MainNets = []string{"vip-net-a"}
			for k := range 200 {
				l.Reserved = append(l.Reserved, netip.MustParseAddr(fmt.Sprintf("10.77.%d.%d", 2+i, k)))
			}
			l.Outside, l.Broadcast = "10.77.0.5", "10.77.3.255"
		}
		l.SmallAddr = "10.71.0.3"
		l.NodeNet = fmt.Sprintf("10.%d", 240+i)
		out[i] = l
	}
	return out
}

// settingsYAML is a cluster's settings file for a controller at host.
func (l layout) settingsYAML(host string) string {
	var nets strings.Builder
	for _, n := range l.MainNets {
		fmt.Fprintf(&nets, "  - networkName: %s\n", n)
	}
	// A full sync every 20 s: rounds (the controller read again while
	// applies go on, every key queued) run among the faults, restarts and
	// failovers, several times a run.
	return fmt.Sprintf(`AKOSettings:
  clusterName: %s
  fullSyncFrequency: "20"
  namespaceSelector:
    labelKey: %s
    labelValue: "%s"
NetworkSettings:
  vipNetworkList:
%sL7Settings:
  defaultIngController: true
  serviceType: ClusterIP
  shardVSSize: SMALL
L4Settings:
  defaultLBController: true
ControllerSettings:
  controllerHost: "%s"
  cloudName: Default-Cloud
  serviceEngineGroupName: %s
  tenantName: admin
`, l.Name, selectorKey, selectorValue, nets.String(), host, l.SEGroup)
}

// settings parses settingsYAML; the suite's oracle judges with the very
// settings the cluster's vipgate reads.
func (l layout) settings(host string) (*config.Settings, error) {
	return config.Parse([]byte(l.settingsYAML(host)))
}

// controllerSeed is the simulated controller of a flavour. vcenter: one VIP
// network (vip-net-a, 10.77.0.0/22); aws: three networks in three
// availability zones, so every VsVip carries three vips. Both have vip-small
// (10.71.0.0/28) with four VIP addresses. The VIP networks are not loopback
// addresses (the rule book refuses those as requested VIPs): the data plane
// serves each VIP port on a loopback port of its own (DataPlane.Lookup).
func controllerSeed(flavour string) *avisim.Seed {
	s := &avisim.Seed{
		Version:  "22.1.3",
		Tenants:  append([]string{"admin"}, extraTenants...),
		Users:    []avisim.SeedUser{{Username: "admin", Password: "admin"}},
		VRFs:     []avisim.SeedVRF{{Name: "global", Cloud: "Default-Cloud"}},
		SEGroups: []avisim.SeedSEGroup{},
	}
	for _, g := range []string{"Default-Group", "edge-seg", "west-seg", "west-edge"} {
		s.SEGroups = append(s.SEGroups, avisim.SeedSEGroup{Name: g, Cloud: "Default-Cloud"})
	}
	small := avisim.SeedNetwork{Name: "vip-small", Cloud: "Default-Cloud", VRF: "global",
		Subnets: []avisim.SeedSubnet{{Prefix: "10.71.0.0/28", StaticRanges: []avisim.SeedRange{{Begin: "10.71.0.2", End: "10.71.0.5"}}}}}
	if flavour == FlavourAWS {
		s.Clouds = []avisim.SeedCloud{{Name: "Default-Cloud", Vtype: "CLOUD_AWS", IPAMNetworks: []string{"vip-az-a", "vip-az-b", "vip-az-c", "vip-small"}}}
		for i, az := range []string{"a", "b", "c"} {
			s.Networks = append(s.Networks, avisim.SeedNetwork{Name: "vip-az-" + az, Cloud: "Default-Cloud", VRF: "global",
				AvailabilityZone: "us-west-2" + az,
				Subnets: []avisim.SeedSubnet{{Prefix: fmt.Sprintf("10.70.%d.0/24", i+1),
					StaticRanges: []avisim.SeedRange{{Begin: fmt.Sprintf("10.70.%d.10", i+1), End: fmt.Sprintf("10.70.%d.250", i+1)}}}}})
		}
		small.AvailabilityZone = "us-west-2a"
	} else {
		s.Clouds = []avisim.SeedCloud{{Name: "Default-Cloud", Vtype: "CLOUD_VCENTER", IPAMNetworks: []string{"vip-net-a", "vip-small"}}}
		s.Networks = append(s.Networks, avisim.SeedNetwork{Name: "vip-net-a", Cloud: "Default-Cloud", VRF: "global",
			Subnets: []avisim.SeedSubnet{{Prefix: "10.77.0.0/22", StaticRanges: []avisim.SeedRange{{Begin: "10.77.0.10", End: "10.77.3.250"}}}}})
	}
	s.Networks = append(s.Networks, small)
	return s
}

// svcPort is a Service port: number and protocol.
type svcPort struct {
	Port  int32  `json:"port"`
	Proto string `json:"proto"`
}

func (p svcPort) String() string { return fmt.Sprintf("%d/%s", p.Port, p.Proto) }

// portName names a Service port (names are required once there are two).
func (p svcPort) name() string { return fmt.Sprintf("p%d-%s", p.Port, strings.ToLower(p.Proto)) }
