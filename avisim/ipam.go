package avisim

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vmware/alb-sdk/go/models"
)

// allocation is one IPv4 address held by a VsVip on a network.
type allocation struct {
	network string // network uuid
	ip      uint32
	vipID   string
}

// ipRange is an inclusive IPv4 range usable for VIPs.
type ipRange struct{ lo, hi uint32 }

// subnetInfo is a configured subnet of a network with its VIP ranges.
type subnetInfo struct {
	net    *object
	prefix netip.Prefix
	ranges []ipRange
}

const (
	azAttr      = "availability_zone"
	cloudAWS    = "CLOUD_AWS"
	adminTenant = "admin"
	// allTenants in X-Avi-Tenant reads collections across every tenant.
	allTenants   = "*"
	defaultCloud = "Default-Cloud"
)

func ip4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func ipString(v uint32) string {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

func prefixOf(p *models.IPAddrPrefix) (netip.Prefix, bool) {
	if p == nil || p.IPAddr == nil || p.Mask == nil {
		return netip.Prefix{}, false
	}
	a, err := netip.ParseAddr(str(p.IPAddr.Addr))
	if err != nil || !a.Is4() {
		return netip.Prefix{}, false
	}
	pf, err := a.Prefix(int(*p.Mask))
	return pf, err == nil
}

// subnets returns the configured IPv4 subnets of a network and their static
// ranges usable for VIPs (STATIC_IPS_FOR_VIP or STATIC_IPS_FOR_VIP_AND_SE,
// the latter being the default type).
func subnets(n *object) []subnetInfo {
	nw := n.model.(*models.Network)
	var out []subnetInfo
	for _, sn := range nw.ConfiguredSubnets {
		if sn == nil {
			continue
		}
		pf, ok := prefixOf(sn.Prefix)
		if !ok {
			continue
		}
		si := subnetInfo{net: n, prefix: pf}
		for _, r := range sn.StaticIPRanges {
			if r == nil || r.Range == nil || r.Range.Begin == nil || r.Range.End == nil {
				continue
			}
			if t := str(r.Type); t != "" && t != "STATIC_IPS_FOR_VIP" && t != "STATIC_IPS_FOR_VIP_AND_SE" {
				continue
			}
			b, err1 := netip.ParseAddr(str(r.Range.Begin.Addr))
			e, err2 := netip.ParseAddr(str(r.Range.End.Addr))
			if err1 != nil || err2 != nil || !b.Is4() || !e.Is4() {
				continue
			}
			si.ranges = append(si.ranges, ipRange{ip4(b), ip4(e)})
		}
		out = append(out, si)
	}
	return out
}

func describe(sns []subnetInfo) string {
	var parts []string
	for _, sn := range sns {
		var rs []string
		for _, r := range sn.ranges {
			rs = append(rs, ipString(r.lo)+"-"+ipString(r.hi))
		}
		if len(rs) == 0 {
			rs = []string{"no static VIP range"}
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s)", sn.net.name, sn.prefix, strings.Join(rs, ", ")))
	}
	return strings.Join(parts, "; ")
}

func networkAZ(n *object) string {
	for _, kv := range n.model.(*models.Network).Attrs {
		if kv != nil && str(kv.Key) == azAttr {
			return str(kv.Value)
		}
	}
	return ""
}

// allocate assigns addresses to the vips of the VsVip in obj (replacing
// old when updating). It works on a scratch set so that a failure on any
// vip leaves nothing allocated; the caller commits obj.ips via link.
func (s *store) allocate(tenant string, obj, old *object) *apiError {
	vs := obj.model.(*models.VsVip)
	var cloud *object
	if vs.CloudRef != nil {
		cloud = s.all[uuidOfRef(*vs.CloudRef)]
	}
	if cloud == nil {
		if len(vs.Vip) == 0 {
			return nil
		}
		return errf(http.StatusBadRequest, "VsVip %s has no cloud_ref and there is no %s", obj.name, defaultCloud)
	}
	vtype := str(cloud.model.(*models.Cloud).Vtype)
	if len(vs.Vip) > 1 && vtype != cloudAWS {
		return errf(http.StatusBadRequest, "VsVip %s has %d vips; more than one vip is only supported on CLOUD_AWS clouds (cloud %s is %s)", obj.name, len(vs.Vip), cloud.name, vtype)
	}

	ipam := s.ipamOf(cloud)
	prev := map[string]allocation{}
	if old != nil {
		for _, a := range old.ips {
			prev[a.vipID] = a
		}
	}
	scratch := map[string]map[uint32]bool{} // taken within this request
	// freeIn says, for one network with its maps looked up once, whether
	// an address is free for obj: pickFree asks it about every address it
	// passes, thousands per allocation once thousands of VIPs are held.
	freeIn := func(network string) func(uint32) bool {
		taken, used := scratch[network], s.used[network]
		return func(ip uint32) bool {
			if taken[ip] {
				return false
			}
			owner, ok := used[ip]
			return !ok || owner == obj.uuid
		}
	}
	// isFree is freeIn for one address, with the name of what holds it.
	isFree := func(network string, ip uint32) (bool, string) {
		if freeIn(network)(ip) {
			return true, ""
		}
		if scratch[network][ip] {
			return false, obj.name
		}
		owner := s.used[network][ip]
		if o := s.all[owner]; o != nil {
			return false, o.name
		}
		return false, owner
	}
	take := func(network string, ip uint32) {
		if scratch[network] == nil {
			scratch[network] = map[uint32]bool{}
		}
		scratch[network][ip] = true
	}

	seenID := map[string]bool{}
	seenSubnet := map[string]string{}
	var ips []allocation
	refs := obj.refs
	for i, vip := range vs.Vip {
		if vip == nil {
			return errf(http.StatusBadRequest, "vip[%d] is null", i)
		}
		if vip.VipID == nil || *vip.VipID == "" {
			vip.VipID = ptr(strconv.Itoa(i))
		}
		id := *vip.VipID
		if seenID[id] {
			return errf(http.StatusBadRequest, "Duplicate vip_id %s in VsVip %s", id, obj.name)
		}
		seenID[id] = true
		var want string
		if vip.IPAddress != nil {
			want = str(vip.IPAddress.Addr)
		}

		var moved *allocation // the address a vip held before a PUT that left it out
		if a, ok := prev[id]; ok {
			have := ipString(a.ip)
			switch want {
			case have:
				vip.IPAddress = &models.IPAddr{Addr: ptr(have), Type: ptr("V4")}
				if ov := oldVip(old, id); ov != nil {
					// Keep what the controller filled in at allocation time
					// when the client's PUT leaves it out.
					if vip.IPAMNetworkSubnet == nil {
						vip.IPAMNetworkSubnet = ov.IPAMNetworkSubnet
					}
					if vip.AviAllocatedVip == nil {
						vip.AviAllocatedVip = ov.AviAllocatedVip
					}
					if vip.AvailabilityZone == nil {
						vip.AvailabilityZone = ov.AvailabilityZone
					}
				}
				take(a.network, a.ip)
				ips = append(ips, a)
				refs = appendUnique(refs, a.network)
				seenSubnet[subnetKey(s, a)] = id
				continue
			case "":
				// A PUT without the address releases it and allocates
				// again. Which address comes back is up to the controller;
				// avisim hands out a different one whenever another is
				// free, so a client that forgets to send its address back
				// sees its VIP move.
				moved = &a
			default:
				return errf(http.StatusBadRequest, "VsVip %s vip_id %s: changing the IP address of an existing vip (%s to %s) is not supported; delete the VsVip and create it again", obj.name, id, have, want)
			}
		}

		cands, aerr := s.candidates(cloud, ipam, id, vip)
		if aerr != nil {
			return aerr
		}
		if ipam.provider {
			cands = ipam.hostSpans(cands)
		}

		var got *subnetInfo
		var ip uint32
		switch {
		case want != "":
			a, err := netip.ParseAddr(want)
			if err != nil || !a.Is4() {
				return errf(http.StatusBadRequest, "vip_id %s: invalid IPv4 address %q", id, want)
			}
			ip = ip4(a)
		search:
			for ci := range cands {
				for _, r := range cands[ci].ranges {
					if ip >= r.lo && ip <= r.hi {
						got = &cands[ci]
						break search
					}
				}
			}
			if got == nil && ipam.provider {
				for _, c := range cands {
					if c.prefix.Contains(a) {
						return errf(http.StatusBadRequest, "IP %s is reserved by %s in subnet %s of %s", want, ipam.providerName(), c.prefix, c.net.name)
					}
				}
				return errf(http.StatusBadRequest, "IP %s is not in a subnet of %s", want, describeSubnets(cands))
			}
			if got == nil {
				return errf(http.StatusBadRequest, "IP %s is not in a static VIP range of %s", want, describe(cands))
			}
			if ok, owner := isFree(got.net.uuid, ip); !ok {
				return errf(http.StatusBadRequest, "IP %s is already in use by VsVip %s", want, owner)
			}
		case vip.AutoAllocateIP != nil && *vip.AutoAllocateIP:
			got, ip = pickFree(cands, freeIn, moved)
			if got == nil && ipam.provider {
				return errf(http.StatusBadRequest, "No available free IPs in %s", describeSubnets(cands))
			}
			if got == nil {
				return errf(http.StatusBadRequest, "No available free IPs in %s", describe(cands))
			}
			if !restricted(s.cloudTier(cloud.uuid)) {
				// ESSENTIALS and BASIC only allow avi_allocated_vip false.
				vip.AviAllocatedVip = ptr(true)
			}
		default:
			return errf(http.StatusBadRequest, "vip_id %s: set auto_allocate_ip or ip_address", id)
		}
		key := got.prefix.String()
		if other, dup := seenSubnet[key]; dup {
			return errf(http.StatusBadRequest, "vip_id %s and vip_id %s are both in subnet %s; use one vip per subnet", other, id, key)
		}
		seenSubnet[key] = id
		take(got.net.uuid, ip)
		ips = append(ips, allocation{network: got.net.uuid, ip: ip, vipID: id})
		refs = appendUnique(refs, got.net.uuid)

		vip.IPAddress = &models.IPAddr{Addr: ptr(ipString(ip)), Type: ptr("V4")}
		if vip.IPAMNetworkSubnet == nil {
			vip.IPAMNetworkSubnet = &models.IPNetworkSubnet{}
		}
		vip.IPAMNetworkSubnet.NetworkRef = ptr(s.ref("network", got.net.uuid))
		if sid, _ := vipSubnetUUID(id, vip); sid == "" {
			// A vip placed by subnet_uuid keeps that: a subnet here too
			// would be "only one of subnet or subnet_uuid" on its next PUT.
			vip.IPAMNetworkSubnet.Subnet = &models.IPAddrPrefix{
				IPAddr: &models.IPAddr{Addr: ptr(got.prefix.Addr().String()), Type: ptr("V4")},
				Mask:   ptr(int32(got.prefix.Bits())),
			}
		}
		if vtype == cloudAWS {
			if az := networkAZ(got.net); az != "" {
				vip.AvailabilityZone = ptr(az)
			} else if az := ipam.zones[got.net.uuid]; az != "" {
				vip.AvailabilityZone = ptr(az)
			}
		}
	}
	obj.ips = ips
	obj.refs = refs
	return nil
}

// pickFree returns the first free address of the candidate subnets' static
// ranges. With avoid set (a vip whose address was left out of a PUT), it
// returns the first free address after the old one, wrapping around, and
// the old one only when nothing else is free.
func pickFree(cands []subnetInfo, freeIn func(network string) func(uint32) bool, avoid *allocation) (*subnetInfo, uint32) {
	type span struct {
		ci     int
		lo, hi uint32
	}
	var spans []span
	at := -1 // index of the span holding the avoided address
	for ci := range cands {
		for _, r := range cands[ci].ranges {
			if avoid != nil && at < 0 && cands[ci].net.uuid == avoid.network && avoid.ip >= r.lo && avoid.ip <= r.hi {
				at = len(spans)
			}
			spans = append(spans, span{ci, r.lo, r.hi})
		}
	}
	if at >= 0 {
		// After the old address, the following ranges, the earlier ones,
		// then the start of the old address's range.
		sp := spans[at]
		var order []span
		if avoid.ip < sp.hi {
			order = append(order, span{sp.ci, avoid.ip + 1, sp.hi})
		}
		order = append(order, spans[at+1:]...)
		order = append(order, spans[:at]...)
		if avoid.ip > sp.lo {
			order = append(order, span{sp.ci, sp.lo, avoid.ip - 1})
		}
		order = append(order, span{sp.ci, avoid.ip, avoid.ip})
		spans = order
	}
	for _, sp := range spans {
		free := freeIn(cands[sp.ci].net.uuid)
		for v := sp.lo; v <= sp.hi && v >= sp.lo; v++ {
			if free(v) {
				return &cands[sp.ci], v
			}
		}
	}
	return nil, 0
}

func appendUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

func oldVip(old *object, id string) *models.Vip {
	for _, v := range old.model.(*models.VsVip).Vip {
		if v != nil && str(v.VipID) == id {
			return v
		}
	}
	return nil
}

// subnetKey is the configured subnet (as in seenSubnet) holding a.
func subnetKey(s *store, a allocation) string {
	if n := s.all[a.network]; n != nil {
		for _, sn := range subnets(n) {
			if sn.prefix.Contains(netip.AddrFrom4([4]byte{byte(a.ip >> 24), byte(a.ip >> 16), byte(a.ip >> 8), byte(a.ip)})) {
				return sn.prefix.String()
			}
		}
	}
	return a.network
}

// candidates returns the subnets a vip may be allocated from: the subnet
// named in subnet_uuid (AWS and Azure clouds), the network (and subnet) in
// ipam_network_subnet, or every subnet of the cloud's usable IPAM networks.
func (s *store) candidates(cloud *object, ipam cloudIPAM, id string, vip *models.Vip) ([]subnetInfo, *apiError) {
	vtype := str(cloud.model.(*models.Cloud).Vtype)
	subnetUUID, aerr := vipSubnetUUID(id, vip)
	if aerr != nil {
		return nil, aerr
	}
	ns := vip.IPAMNetworkSubnet
	if subnetUUID != "" {
		if !subnetUUIDCloud(vtype) {
			return nil, errf(http.StatusBadRequest, "vip_id %s: subnet_uuid names the subnet on AWS and Azure clouds; cloud %s is %s: set ipam_network_subnet.network_ref", id, cloud.name, vtype)
		}
		if ns != nil && ns.Subnet != nil {
			return nil, errf(http.StatusBadRequest, "vip_id %s: Only one of subnet or subnet_uuid configuration is allowed", id)
		}
		cands := s.subnetByUUID(cloud, subnetUUID)
		if len(cands) == 0 {
			return nil, errf(http.StatusBadRequest, "vip_id %s: subnet_uuid %s is not a subnet of cloud %s", id, subnetUUID, cloud.name)
		}
		if ns != nil && ns.NetworkRef != nil && uuidOfRef(*ns.NetworkRef) != cands[0].net.uuid {
			return nil, errf(http.StatusBadRequest, "vip_id %s: ipam_network_subnet.network_ref is not the network of subnet_uuid %s", id, subnetUUID)
		}
		return cands, nil
	}
	if ns != nil && ns.NetworkRef != nil {
		// The controller documents network_ref for its own (Vantage)
		// IPAM and subnet_uuid as mandatory on AWS; AKO names Azure
		// subnets the same way. Refusing network_ref there is the
		// pessimistic reading.
		if ipam.provider && subnetUUIDCloud(vtype) {
			return nil, errf(http.StatusBadRequest, "vip_id %s: cloud %s allocates VIPs through %s (%s), which takes the subnet from subnet_uuid; ipam_network_subnet.network_ref is for Avi's own IPAM", id, cloud.name, ipam.providerName(), orDefault(ipam.typ, vtype))
		}
		n := s.all[uuidOfRef(*ns.NetworkRef)]
		if n == nil || n.kind.name != "network" {
			return nil, errf(http.StatusBadRequest, "vip_id %s: ipam_network_subnet.network_ref does not name a network", id)
		}
		if nc := str(n.model.(*models.Network).CloudRef); nc != "" && uuidOfRef(nc) != cloud.uuid {
			return nil, errf(http.StatusBadRequest, "vip_id %s: network %s does not belong to cloud %s", id, n.name, cloud.name)
		}
		all := subnets(n)
		if ns.Subnet == nil {
			return all, nil
		}
		pf, ok := prefixOf(ns.Subnet)
		if !ok {
			return nil, errf(http.StatusBadRequest, "vip_id %s: invalid ipam_network_subnet.subnet", id)
		}
		var cands []subnetInfo
		for _, sn := range all {
			if sn.prefix == pf.Masked() {
				cands = append(cands, sn)
			}
		}
		if len(cands) == 0 {
			return nil, errf(http.StatusBadRequest, "vip_id %s: subnet %s is not configured on network %s (configured: %s)", id, pf, n.name, describe(all))
		}
		return cands, nil
	}
	if ipam.provider && vtype == cloudAWS {
		return nil, errf(http.StatusBadRequest, "vip_id %s: subnet_uuid is mandatory on cloud %s (%s) when auto_allocate_ip is set", id, cloud.name, vtype)
	}
	var cands []subnetInfo
	for _, n := range ipam.usable {
		cands = append(cands, subnets(n)...)
	}
	if len(cands) == 0 {
		return nil, errf(http.StatusBadRequest, "vip_id %s: cloud %s has no IPAM networks; set ipam_network_subnet.network_ref", id, cloud.name)
	}
	return cands, nil
}

// describeSubnets lists subnets by network, for provider-allocated clouds
// where ranges mean nothing to the user.
func describeSubnets(sns []subnetInfo) string {
	parts := make([]string, 0, len(sns))
	for _, sn := range sns {
		parts = append(parts, sn.net.name+" "+sn.prefix.String())
	}
	return strings.Join(parts, "; ")
}
