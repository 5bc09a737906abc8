package model

import (
	"cmp"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/objects"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// Annotations and profiles vipgate shares with AKO.
const (
	AppProfileL4  = "System-L4-Application"
	NetProfileTCP = "System-TCP-Proxy"
	// NetProfileTCPFast is AKO's TCP profile below the ENTERPRISE tiers.
	NetProfileTCPFast = "System-TCP-Fast-Path"
	NetProfileUDP     = "System-UDP-Fast-Path"
	NetProfileSCTP    = "System-SCTP-Proxy"
	protocolTCPProxy  = "PROTOCOL_TYPE_TCP_PROXY"
	protocolTCPFast   = "PROTOCOL_TYPE_TCP_FAST_PATH"
	protocolUDPFast   = "PROTOCOL_TYPE_UDP_FAST_PATH"
	protocolSCTPProxy = "PROTOCOL_TYPE_SCTP_PROXY"

	// The controller's health monitors AKO puts on pools by protocol
	// (System-TCP on L7 pools too), so a server that stops answering is
	// taken out of rotation.
	HealthMonitorTCP  = "System-TCP"
	HealthMonitorUDP  = "System-UDP"
	HealthMonitorSCTP = "System-SCTP"
)

// Set is the desired controller state of one owner (a Service, a shared-VIP
// group, or an L7 shard), grouped by type. The applier creates it in CreateOrder.
type Set struct {
	// Owner is the base name (VsVip and VirtualService name); it keys the set.
	Owner string
	// CreatedBy is the marker on every object ("vipgate-<cluster>").
	CreatedBy string
	// OwnedBy is the owner identity in every object's vipgate-owner marker
	// (ownership.ServiceOwner, SharedVIPOwner or OwnerL7).
	OwnedBy string
	// ClusterID is the cluster identity in every object's markers ("" when unknown).
	ClusterID string
	// Tenant the objects live in.
	Tenant string
	// Namespace of an L4 owner's Services ("" for an L7 shard): an AKO
	// object of the owner's name is adopted only when its Namespace marker agrees.
	Namespace string `json:",omitempty"`
	// PoolBases are the stems (rules.PoolBaseName) of the port pools this
	// owner may hold (IsPoolOf); the applier uses them to find stale pools.
	PoolBases []string

	// L7 marks an L7 shard (BuildL7): the applier finds its objects through
	// the parent virtual service's references instead of L4 name patterns.
	L7 bool `json:",omitempty"`

	VsVips                []*objects.VsVip
	SSLKeyAndCertificates []*objects.SSLKeyAndCertificate `json:",omitempty"`
	Pools                 []*objects.Pool
	PoolGroups            []*objects.PoolGroup     `json:",omitempty"`
	HTTPPolicySets        []*objects.HTTPPolicySet `json:",omitempty"`
	// VirtualServices: parents first, then SNI children.
	VirtualServices []*objects.VirtualService

	// Held lists, by "type/name", the fields the applier keeps as the
	// controller has them: those of a rule CRD that is not (or no longer)
	// accepted (see rules.go).
	Held map[string][]string `json:",omitempty"`

	// KeepVIP maps a VsVip's name to the addresses, by vip_id, its owner's
	// status shows, when it asks for none (KeptVIP). The applier asks for
	// them only when it has to create the VsVip (it was deleted on the
	// controller, out of band) and takes what the IPAM gives when they are
	// no longer free: the VIP a user was given survives a lost VsVip when it
	// can. An update never uses them (the current addresses are kept as
	// they are).
	KeepVIP map[string]map[string]string `json:",omitempty"`
}

// Member is one Service of an owner with the inputs its pools need.
type Member struct {
	Service *corev1.Service
	// Slices are the Service's EndpointSlices (ClusterIP mode). Only ready
	// endpoints become servers; named targetPorts resolve through the slices' ports.
	Slices []discoveryv1.EndpointSlice
	// NPL maps the name of each pod behind the slices to its NodePortLocal
	// port mappings (NodePortLocal mode only; see nplServers).
	NPL map[string][]NPLMapping
}

// L4Input is everything BuildL4 reads.
type L4Input struct {
	Settings *config.Settings
	// Infra is the AviInfraSetting in effect, or nil.
	Infra *v1beta1.AviInfraSetting
	// Snapshot resolves networks, subnets and availability zones; may be nil.
	Snapshot *inventory.Snapshot
	// Members are the Services: one, or every member of a shared-VIP group.
	Members []Member
	// SharedKey is the ako.vmware.com/enable-shared-vip value, "" when not shared.
	SharedKey string
	// NodeAddresses are the pool servers in NodePort mode (already filtered by nodePortSelector).
	NodeAddresses []string
}

// NodePortMode reports whether pools point at node addresses and nodePorts
// (L7Settings.serviceType NodePort, AKO's single switch for both L4 and L7).
func NodePortMode(s *config.Settings) bool { return s.L7Settings.ServiceType == "NodePort" }

// BuildL4 returns the desired objects for an L4 Service or shared-VIP group.
func BuildL4(in L4Input) (*Set, error) {
	if len(in.Members) == 0 {
		return nil, fmt.Errorf("no Service to build")
	}
	s := in.Settings
	members := slices.Clone(in.Members)
	slices.SortFunc(members, func(a, b Member) int { return strings.Compare(a.Service.Name, b.Service.Name) })
	ns := members[0].Service.Namespace
	ownerName := members[0].Service.Name
	if in.SharedKey != "" {
		ownerName = in.SharedKey
	}
	base := BaseName(s.AKOSettings.ClusterName, ns, ownerName)
	owner := ownership.ServiceOwner(ns, ownerName)
	if in.SharedKey != "" {
		owner = ownership.SharedVIPOwner(ns, in.SharedKey)
	}
	set := &Set{Owner: base, CreatedBy: s.CreatedBy(), OwnedBy: owner, ClusterID: s.ClusterID,
		Tenant: s.ControllerSettings.TenantName, Namespace: ns}
	vsvip, err := l4VsVip(in, members, base)
	if err != nil {
		return nil, err
	}
	set.VsVips = []*objects.VsVip{vsvip}
	if kept := KeptVIP(ServicesShow(members), vsvip, in.Snapshot); kept != nil {
		set.KeepVIP = map[string]map[string]string{base: kept}
	}
	ports, err := l4Pools(in, members, set)
	if err != nil {
		return nil, err
	}
	set.VirtualServices = []*objects.VirtualService{l4VirtualService(in, base, ports)}
	set.stamp(Markers(s, set.OwnedBy))
	return set, nil
}

// stamp puts the owner's markers on every object of the set, ahead of the
// AKO markers the builder gave the object.
func (set *Set) stamp(m []*objects.RoleFilterMatchLabel) {
	with := func(own []*objects.RoleFilterMatchLabel) []*objects.RoleFilterMatchLabel {
		return append(slices.Clone(m), own...)
	}
	for _, o := range set.VsVips {
		o.Markers = with(o.Markers)
	}
	for _, o := range set.SSLKeyAndCertificates {
		o.Markers = with(o.Markers)
	}
	for _, o := range set.Pools {
		o.Markers = with(o.Markers)
	}
	for _, o := range set.PoolGroups {
		o.Markers = with(o.Markers)
	}
	for _, o := range set.HTTPPolicySets {
		o.Markers = with(o.Markers)
	}
	for _, o := range set.VirtualServices {
		o.Markers = with(o.Markers)
	}
}

// l4VsVip builds the VsVip of an owner: its vips (with the requested IP, if
// any member asks for one), autoFQDN names and BGP peer labels.
func l4VsVip(in L4Input, members []Member, base string) (*objects.VsVip, error) {
	s := in.Settings
	var reqIP string
	for _, m := range members {
		if ip, _ := rules.RequestedIP(m.Service); ip != "" {
			if reqIP != "" && reqIP != ip {
				return nil, fmt.Errorf("shared VIP %q: Services ask for different IPs %s and %s", in.SharedKey, reqIP, ip)
			}
			reqIP = ip
		}
	}
	vips, err := buildVips(in, reqIP)
	if err != nil {
		return nil, err
	}
	vsvip := &objects.VsVip{
		Name:          ptr.To(base),
		CloudRef:      ptr.To(Ref("cloud", s.ControllerSettings.CloudName)),
		VrfContextRef: ptr.To(Ref("vrfcontext", s.VRF())),
		Vip:           vips,
	}
	for _, m := range members {
		if fqdn := autoFQDN(s, in.Snapshot, m.Service); fqdn != "" {
			vsvip.DNSInfo = append(vsvip.DNSInfo, &objects.DNSInfo{Fqdn: ptr.To(fqdn), Type: ptr.To("DNS_RECORD_A")})
		}
	}
	if rhi, peerLabels := rhiSettings(s, in.Infra); rhi && len(peerLabels) > 0 {
		vsvip.BgpPeerLabels = peerLabels
	}
	return vsvip, nil
}

// ServicesShow lists the addresses the members' status shows.
func ServicesShow(members []Member) []string {
	var out []string
	for _, m := range members {
		for _, in := range m.Service.Status.LoadBalancer.Ingress {
			out = append(out, in.IP)
		}
	}
	return out
}

// KeptVIP is what to ask for if vsvip has to be created while its owner's
// objects already show a VIP (shown: every address their status shows), by
// vip_id: each vip of a VsVip that asks for no address (a requested VIP is
// asked for anyway) gets the one shown address of its family that lies in
// its subnet (the one it names, or its network's in snap for a vip that
// names its subnet by name, as on AWS; any subnet for a lone vip that names
// none), each address used once. nil unless every vip gets exactly one and
// every address is used.
func KeptVIP(shown []string, vsvip *objects.VsVip, snap *inventory.Snapshot) map[string]string {
	var addrs []netip.Addr
	for _, ip := range shown {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil
		}
		if !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 || len(addrs) != len(vsvip.Vip) {
		return nil
	}
	out := map[string]string{}
	used := make([]bool, len(addrs))
	for _, v := range vsvip.Vip {
		if v == nil || v.VipID == nil || v.IPAddress != nil || v.Ip6Address != nil {
			return nil
		}
		v6 := v.AutoAllocateIPType != nil && *v.AutoAllocateIPType == "V6_ONLY"
		prefixes := vipPrefixes(v, snap)
		if len(prefixes) == 0 && len(vsvip.Vip) > 1 {
			return nil // which address is whose cannot be told
		}
		match := -1
		for i, a := range addrs {
			if used[i] || a.Is6() != v6 || (len(prefixes) > 0 && !slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(a) })) {
				continue
			}
			if match >= 0 {
				return nil
			}
			match = i
		}
		if match < 0 {
			return nil
		}
		used[match] = true
		out[*v.VipID] = addrs[match].String()
	}
	return out
}

// vipPrefixes are the subnets a vip's address must lie in, as far as the
// vip and the inventory tell: the subnet it names, else its network's.
func vipPrefixes(v *objects.Vip, snap *inventory.Snapshot) []netip.Prefix {
	if ns := v.IPAMNetworkSubnet; ns != nil {
		for _, pfx := range []*objects.IPAddrPrefix{ns.Subnet, ns.Subnet6} {
			if pfx != nil && pfx.IPAddr != nil && pfx.IPAddr.Addr != nil && pfx.Mask != nil {
				if base, err := netip.ParseAddr(*pfx.IPAddr.Addr); err == nil {
					return []netip.Prefix{netip.PrefixFrom(base, int(*pfx.Mask))}
				}
			}
		}
	}
	if snap == nil {
		return nil
	}
	// The network, by the name the vip gives its subnet (AWS, Azure) or by
	// its network reference (by name, or by UUID).
	var n *inventory.Network
	switch {
	case v.SubnetUUID != nil:
		n = snap.Networks[*v.SubnetUUID]
	case v.IPAMNetworkSubnet != nil && v.IPAMNetworkSubnet.NetworkRef != nil:
		ref := *v.IPAMNetworkSubnet.NetworkRef
		if _, name, ok := strings.Cut(ref, "?name="); ok {
			n = snap.Networks[name]
		} else {
			uuid := ref[strings.LastIndex(ref, "/")+1:]
			for _, c := range snap.Networks {
				if c.UUID == uuid {
					n = c
				}
			}
		}
	}
	if n == nil {
		return nil
	}
	out := make([]netip.Prefix, 0, len(n.Subnets))
	for _, sn := range n.Subnets {
		out = append(out, sn.Prefix)
	}
	return out
}

// svcPort is one listening port of an L4 virtual service and its pool.
type svcPort struct {
	port  int32
	proto string
	pool  string
}

// l4Pools adds a pool per member port to set and returns the ports sorted
// by number, then protocol; two members on one port and protocol are an error.
func l4Pools(in L4Input, members []Member, set *Set) ([]svcPort, error) {
	s := in.Settings
	cluster := s.AKOSettings.ClusterName
	var ports []svcPort
	seen := map[string]string{}
	for _, m := range members {
		ns := m.Service.Namespace
		poolBase := rules.PoolBaseName(cluster, ns, m.Service.Name, in.SharedKey)
		set.PoolBases = append(set.PoolBases, poolBase)
		for _, p := range m.Service.Spec.Ports {
			proto := string(p.Protocol)
			if proto == "" {
				proto = "TCP"
			}
			key := fmt.Sprintf("%s/%d", proto, p.Port)
			if other, dup := seen[key]; dup {
				return nil, fmt.Errorf("port %s is used by both Service %s and %s", key, other, m.Service.Name)
			}
			seen[key] = m.Service.Name
			name := PoolName(poolBase, proto, p.Port)
			marks := AKOMarkers{Namespace: ns, ServiceName: m.Service.Name, Port: strconv.Itoa(int(p.Port))}
			if in.SharedKey != "" {
				marks.Protocol, marks.GatewayName = proto, in.SharedKey
			}
			set.Pools = append(set.Pools, &objects.Pool{
				Markers:           marks.labels(),
				Name:              ptr.To(name),
				CloudRef:          ptr.To(Ref("cloud", s.ControllerSettings.CloudName)),
				VrfRef:            ptr.To(Ref("vrfcontext", s.VRF())),
				CreatedBy:         ptr.To(s.CreatedBy()),
				Servers:           servers(in, m, p),
				HealthMonitorRefs: []string{Ref("healthmonitor", healthMonitor(proto))},
			})
			ports = append(ports, svcPort{port: p.Port, proto: proto, pool: name})
		}
	}
	slices.SortFunc(set.Pools, func(a, b *objects.Pool) int { return strings.Compare(*a.Name, *b.Name) })
	slices.Sort(set.PoolBases)
	slices.SortFunc(ports, func(a, b svcPort) int {
		return cmp.Or(cmp.Compare(a.port, b.port), strings.Compare(a.proto, b.proto))
	})
	return ports, nil
}

// l4VirtualService builds the virtual service listening on ports, each
// mapped to its pool by service_pool_select.
func l4VirtualService(in L4Input, base string, ports []svcPort) *objects.VirtualService {
	s := in.Settings
	// The VS network profile follows the first protocol in TCP, UDP, SCTP
	// order that the Service uses; other protocols override it per port
	// (AKO's rule for mixed protocols).
	vsNet := ""
	for _, want := range []string{"TCP", "UDP", "SCTP"} {
		for _, p := range ports {
			if p.proto == want && vsNet == "" {
				vsNet = netProfile(want, in.Snapshot)
			}
		}
	}
	// AKO's markers name the Service or the shared-VIP key; a caller
	// without members (a Gateway's L4 virtual service) sets its own.
	var marks AKOMarkers
	if len(in.Members) > 0 {
		ns := in.Members[0].Service.Namespace
		marks = AKOMarkers{Namespace: ns, ServiceName: in.Members[0].Service.Name}
		if in.SharedKey != "" {
			marks = AKOMarkers{Namespace: ns, GatewayName: in.SharedKey}
		}
	}
	vs := &objects.VirtualService{
		Name:                  ptr.To(base),
		CloudRef:              ptr.To(Ref("cloud", s.ControllerSettings.CloudName)),
		VrfContextRef:         ptr.To(Ref("vrfcontext", s.VRF())),
		SeGroupRef:            ptr.To(Ref("serviceenginegroup", seGroup(s, in.Infra))),
		VsvipRef:              ptr.To(Ref(TypeVsVip, base)),
		CreatedBy:             ptr.To(s.CreatedBy()),
		ApplicationProfileRef: ptr.To(Ref("applicationprofile", AppProfileL4)),
		NetworkProfileRef:     ptr.To(Ref("networkprofile", vsNet)),
		// A Service with no ready endpoint stops listening, as AKO's L4
		// virtual services do, so clients fail fast instead of hanging.
		RemoveListeningPortOnVsDown: ptr.To(true),
		Markers:                     marks.labels(),
	}
	for _, p := range ports {
		svc := &objects.Service{Port: ptr.To(uint32(p.port))}
		if np := netProfile(p.proto, in.Snapshot); np != vsNet {
			svc.OverrideNetworkProfileRef = ptr.To(Ref("networkprofile", np))
		}
		vs.Services = append(vs.Services, svc)
		vs.ServicePoolSelect = append(vs.ServicePoolSelect, &objects.ServicePoolSelector{
			ServicePort:     ptr.To(uint32(p.port)),
			ServiceProtocol: ptr.To(serviceProtocol(p.proto, in.Snapshot)),
			ServicePoolRef:  ptr.To(Ref(TypePool, p.pool)),
		})
	}
	if rhi, peerLabels := rhiSettings(s, in.Infra); rhi {
		vs.EnableRhi = ptr.To(true)
		if len(peerLabels) > 0 {
			vs.BgpPeerLabels = peerLabels
		}
	}
	return vs
}

// netProfile is the network profile of a protocol: TCP gets the proxy on
// the ENTERPRISE tiers and the fast path otherwise (AKO's choice by
// license), UDP the fast path, SCTP the proxy.
func netProfile(proto string, snap *inventory.Snapshot) string {
	switch proto {
	case "UDP":
		return NetProfileUDP
	case "SCTP":
		return NetProfileSCTP
	}
	if snap.FullProxyLicense() {
		return NetProfileTCP
	}
	return NetProfileTCPFast
}

func healthMonitor(proto string) string {
	switch proto {
	case "UDP":
		return HealthMonitorUDP
	case "SCTP":
		return HealthMonitorSCTP
	}
	return HealthMonitorTCP
}

// serviceProtocol is the protocol type of netProfile(proto), which a
// service_pool_select entry must name exactly.
func serviceProtocol(proto string, snap *inventory.Snapshot) string {
	switch proto {
	case "UDP":
		return protocolUDPFast
	case "SCTP":
		return protocolSCTPProxy
	}
	if snap.FullProxyLicense() {
		return protocolTCPProxy
	}
	return protocolTCPFast
}

// seGroup is the AviInfraSetting's SE group, else ControllerSettings.serviceEngineGroupName.
func seGroup(s *config.Settings, infra *v1beta1.AviInfraSetting) string {
	if infra != nil && infra.Spec.SeGroup.Name != "" {
		return infra.Spec.SeGroup.Name
	}
	return s.ControllerSettings.ServiceEngineGroupName
}

// rhiSettings says whether route health injection is on and with which BGP
// peer labels (AviInfraSetting overrides NetworkSettings).
func rhiSettings(s *config.Settings, infra *v1beta1.AviInfraSetting) (bool, []string) {
	rhi := bool(s.NetworkSettings.EnableRHI)
	labels := s.NetworkSettings.BGPPeerLabels
	if infra != nil {
		if infra.Spec.Network.EnableRhi != nil {
			rhi = *infra.Spec.Network.EnableRhi
		}
		if len(infra.Spec.Network.BgpPeerLabels) > 0 {
			labels = infra.Spec.Network.BgpPeerLabels
		}
	}
	labels = slices.Clone(labels)
	slices.Sort(labels)
	return rhi, slices.Compact(labels)
}

// FQDNSubdomain is the DNS subdomain AKO builds names under: the cloud DNS
// profile's service domains decide; NetworkSettings.defaultDomain (else
// L4Settings.defaultDomain) picks one of them when it is one, else the
// first in sorted order wins. Without a DNS profile there is none.
func FQDNSubdomain(s *config.Settings, snap *inventory.Snapshot) string {
	doms := snap.DNSSubdomains()
	if len(doms) == 0 {
		return ""
	}
	def := s.NetworkSettings.DefaultDomain
	if def == "" {
		def = s.L4Settings.DefaultDomain
	}
	if def = strings.TrimSuffix(strings.TrimPrefix(def, "."), "."); def != "" && slices.Contains(doms, def) {
		return def
	}
	return doms[0]
}

// rfc1035Label matches a DNS label as RFC 1035 wants it.
var rfc1035Label = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// dnsLabel makes a Kubernetes name a valid RFC 1035 label the way AKO does:
// a name starting with a digit gets prefix ("s" for names, "n" for namespaces).
func dnsLabel(name, prefix string) string {
	if !rfc1035Label.MatchString(name) && rfc1035Label.MatchString(prefix+name) {
		return prefix + name
	}
	return name
}

// autoFQDN is the Service's DNS name under L4Settings.autoFQDN, or "":
// "<svc>.<ns>.<subdomain>" (default) or "<svc>-<ns>.<subdomain>" (flat,
// shortened to one 63-character label), as AKO builds it.
func autoFQDN(s *config.Settings, snap *inventory.Snapshot, svc *corev1.Service) string {
	domain := FQDNSubdomain(s, snap)
	if domain == "" || s.L4Settings.AutoFQDN == "disabled" {
		return ""
	}
	name, ns := dnsLabel(svc.Name, "s"), dnsLabel(svc.Namespace, "n")
	if s.L4Settings.AutoFQDN == "flat" {
		name, ns = shortenLabels(name, ns)
		return name + "-" + ns + "." + domain
	}
	return name + "." + ns + "." + domain
}

// shortenLabels fits "<name>-<ns>" into one 63-character DNS label, cutting
// the name first and the namespace when the name alone cannot make room.
func shortenLabels(name, ns string) (string, string) {
	const maxLabel = 63
	if len(name)+len(ns)+1 <= maxLabel {
		return name, ns
	}
	room := maxLabel - len(ns) - 1
	if room <= 0 {
		nsRoom := maxLabel - len(name) - 1
		if nsRoom <= 0 {
			nsRoom = 48
		}
		ns = strings.TrimRight(ns[:min(nsRoom, len(ns))], "-")
		room = maxLabel - len(ns) - 1
	}
	return name[:min(room, len(name))], ns
}

// FQDNs returns the autoFQDN names a Service gets (for status hostname).
func FQDNs(s *config.Settings, snap *inventory.Snapshot, svc *corev1.Service) []string {
	if f := autoFQDN(s, snap, svc); f != "" {
		return []string{f}
	}
	return nil
}

// vipNetwork is one resolved VIP network.
type vipNetwork struct {
	name   string // "" when only a UUID is known
	uuid   string
	subnet netip.Prefix // invalid when the controller should choose
	az     string
	// known are the network's configured subnets (from the inventory):
	// they place a requested address on its network's vip.
	known []netip.Prefix
}

func (v vipNetwork) ref() string {
	if v.name != "" {
		return Ref("network", v.name)
	}
	return "/api/network/" + v.uuid
}

// vipNetworks resolves the VIP networks: the AviInfraSetting's, else
// NetworkSettings.vipNetworkList. Sorted by name for stable vip_ids.
func vipNetworks(in L4Input) []vipNetwork {
	type entry struct{ name, uuid, cidr, v6 string }
	var entries []entry
	if in.Infra != nil && len(in.Infra.Spec.Network.VipNetworks) > 0 {
		for _, n := range in.Infra.Spec.Network.VipNetworks {
			entries = append(entries, entry{n.NetworkName, n.NetworkUUID, n.Cidr, n.V6Cidr})
		}
	} else {
		for _, n := range in.Settings.NetworkSettings.VIPNetworkList {
			entries = append(entries, entry{n.NetworkName, n.NetworkUUID, n.CIDR, n.V6CIDR})
		}
	}
	v6 := in.Settings.AKOSettings.IPFamily == "V6"
	var out []vipNetwork
	for _, e := range entries {
		vn := vipNetwork{name: e.name, uuid: e.uuid}
		var nw *inventory.Network
		if e.name != "" {
			nw = in.Snapshot.Network(e.name)
		} else if nw = in.Snapshot.NetworkByUUID(e.uuid); nw != nil {
			vn.name = nw.Name
		}
		// Without a cidr the controller picks the subnet, as with AKO: a
		// subnet an admin adds later never moves an existing VIP.
		cidr := e.cidr
		if v6 {
			cidr = e.v6
		}
		if p, err := netip.ParsePrefix(cidr); err == nil {
			vn.subnet = p.Masked()
		}
		if nw != nil {
			vn.az = nw.AvailabilityZone
			for _, sub := range nw.Subnets {
				vn.known = append(vn.known, sub.Prefix.Masked())
			}
		}
		out = append(out, vn)
	}
	slices.SortStableFunc(out, func(a, b vipNetwork) int {
		return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.uuid, b.uuid))
	})
	return out
}

// buildVips returns VsVip.vip[]: one vip (vip_id "0") on single-VIP clouds,
// one per VIP network on multi-VIP (AWS) clouds (vip_id "1".."N"), as AKO
// numbers them.
func buildVips(in L4Input, reqIP string) ([]*objects.Vip, error) {
	nets := vipNetworks(in)
	multi := in.Snapshot != nil && in.Snapshot.Cloud.MultiVIP()
	if !multi && len(nets) > 1 {
		nets = nets[:1]
	}
	var req netip.Addr
	if reqIP != "" {
		a, err := netip.ParseAddr(reqIP)
		if err != nil {
			return nil, fmt.Errorf("requested IP %q is not an IP address", reqIP)
		}
		req = a
	}
	v6 := in.Settings.AKOSettings.IPFamily == "V6" || (req.IsValid() && req.Is6())
	if len(nets) == 0 {
		nets = []vipNetwork{{}} // let the cloud's IPAM pick the network
	}
	// The requested IP goes on the vip whose subnet holds it, else the first.
	reqAt := -1
	if req.IsValid() {
		reqAt = 0
	search:
		for i, n := range nets {
			if n.subnet.IsValid() && n.subnet.Contains(req) {
				reqAt = i
				break
			}
			for _, k := range n.known {
				if k.Contains(req) {
					reqAt = i
					break search
				}
			}
		}
	}
	var out []*objects.Vip
	for i, n := range nets {
		id := "0"
		if multi {
			id = fmt.Sprint(i + 1)
		}
		vip := &objects.Vip{VipID: ptr.To(id), AutoAllocateIP: ptr.To(true)}
		if v6 {
			vip.AutoAllocateIPType = ptr.To("V6_ONLY")
		}
		switch {
		case (n.name != "" || n.uuid != "") && in.Snapshot != nil && in.Snapshot.Cloud.SubnetByName():
			// AWS's and Azure's IPAM take the subnet by name (AKO's
			// form; the cidr picks nothing more there).
			vip.SubnetUUID = ptr.To(cmp.Or(n.name, n.uuid))
		case n.name != "" || n.uuid != "":
			ns := &objects.IPNetworkSubnet{NetworkRef: ptr.To(n.ref())}
			if n.subnet.IsValid() {
				pfx := &objects.IPAddrPrefix{
					IPAddr: ipAddr(n.subnet.Addr()),
					Mask:   ptr.To(int32(n.subnet.Bits())),
				}
				if n.subnet.Addr().Is6() {
					ns.Subnet6 = pfx
				} else {
					ns.Subnet = pfx
				}
			}
			vip.IPAMNetworkSubnet = ns
		}
		if multi && n.az != "" {
			vip.AvailabilityZone = ptr.To(n.az)
		}
		if i == reqAt {
			if req.Is6() {
				vip.Ip6Address = ipAddr(req)
			} else {
				vip.IPAddress = ipAddr(req)
			}
		}
		out = append(out, vip)
	}
	return out, nil
}

func ipAddr(a netip.Addr) *objects.IPAddr {
	t := "V4"
	if a.Is6() {
		t = "V6"
	}
	return &objects.IPAddr{Addr: ptr.To(a.String()), Type: ptr.To(t)}
}

// servers returns a pool's servers for one Service port, sorted by address then port.
func servers(in L4Input, m Member, p corev1.ServicePort) []*objects.Server {
	type hp = hostPort
	set := map[hp]bool{}
	switch {
	case NodePortLocalMode(in.Settings):
		for _, k := range nplServers(m, p) {
			set[k] = true
		}
	case NodePortMode(in.Settings):
		if p.NodePort == 0 {
			return nil
		}
		for _, a := range in.NodeAddresses {
			if ip, err := netip.ParseAddr(a); err == nil {
				set[hp{ip, p.NodePort}] = true
			}
		}
	default:
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		for _, sl := range m.Slices {
			port, ok := slicePort(sl, p, proto)
			if !ok {
				continue
			}
			for _, ep := range sl.Endpoints {
				if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
					continue
				}
				for _, a := range ep.Addresses {
					if ip, err := netip.ParseAddr(a); err == nil {
						set[hp{ip, port}] = true
					}
				}
			}
		}
	}
	keys := make([]hp, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b hp) int { return cmp.Or(a.addr.Compare(b.addr), cmp.Compare(a.port, b.port)) })
	out := make([]*objects.Server, 0, len(keys))
	for _, k := range keys {
		out = append(out, &objects.Server{IP: ipAddr(k.addr), Port: ptr.To(k.port)})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// hostPort is one pool server: an address and a port.
type hostPort struct {
	addr netip.Addr
	port int32
}

// slicePort resolves the target port of service port p in one EndpointSlice.
// Slice ports carry the Service port's name and the resolved (possibly named)
// target port number; a numeric targetPort is the fallback for slices without ports.
func slicePort(sl discoveryv1.EndpointSlice, p corev1.ServicePort, proto corev1.Protocol) (int32, bool) {
	for _, sp := range sl.Ports {
		name := ""
		if sp.Name != nil {
			name = *sp.Name
		}
		spProto := corev1.ProtocolTCP
		if sp.Protocol != nil {
			spProto = *sp.Protocol
		}
		if name == p.Name && spProto == proto && sp.Port != nil {
			return *sp.Port, true
		}
	}
	if len(sl.Ports) == 0 && p.TargetPort.Type == intstr.Int {
		if p.TargetPort.IntVal > 0 {
			return p.TargetPort.IntVal, true
		}
		return p.Port, true
	}
	return 0, false
}

// AllocatedAddresses returns the addresses the controller allocated on a
// VsVip, in vip_id order: the IPv4 then IPv6 address of each vip that has
// one. It never falls back to a requested or guessed address: a VsVip whose
// vips carry no address yet gives nil.
func AllocatedAddresses(v *objects.VsVip) []netip.Addr {
	if v == nil {
		return nil
	}
	vips := slices.Clone(v.Vip)
	slices.SortStableFunc(vips, func(a, b *objects.Vip) int {
		x, y := ptr.Deref(a.VipID, ""), ptr.Deref(b.VipID, "")
		return cmp.Or(cmp.Compare(len(x), len(y)), strings.Compare(x, y)) // "2" before "10"
	})
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, vip := range vips {
		if vip == nil || (vip.Enabled != nil && !*vip.Enabled) {
			continue
		}
		for _, ip := range []*objects.IPAddr{vip.IPAddress, vip.Ip6Address} {
			if ip == nil || ip.Addr == nil {
				continue
			}
			a, err := netip.ParseAddr(*ip.Addr)
			if err != nil || a.IsUnspecified() || seen[a] {
				continue
			}
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}
