package avisim

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/vmware/alb-sdk/go/models"
)

// IPAM profile types (ipamdnsproviderprofile.type) avisim allocates for.
const (
	ipamInternal = "IPAMDNS_TYPE_INTERNAL"
	ipamAWS      = "IPAMDNS_TYPE_AWS"
	ipamAzure    = "IPAMDNS_TYPE_AZURE"
	ipamGCP      = "IPAMDNS_TYPE_GCP"

	cloudAzure = "CLOUD_AZURE"
	cloudGCP   = "CLOUD_GCP"
)

// cloudIPAM is how a cloud hands out VIP addresses.
type cloudIPAM struct {
	// typ is the IPAM profile's type, "" when the cloud has none.
	typ string
	// provider is set when the cloud provider (AWS, Azure, Google) picks
	// the address from the network's subnet: static ranges play no part,
	// and the provider keeps a few addresses of every subnet for itself.
	provider bool
	// usable are the profile's usable networks: the ones a vip that names
	// no network allocates from.
	usable []*object
	// zones maps a network UUID to its availability zone (AWS's profile).
	zones map[string]string
	// vtype is the cloud's type: without a profile it says who allocates.
	vtype string
}

// ipamOf reads the cloud's IPAM profile. A public cloud without a profile
// allocates through its provider (the controller does not require one
// there); any other cloud without one has nothing to allocate from.
func (s *store) ipamOf(cloud *object) cloudIPAM {
	c := cloud.model.(*models.Cloud)
	vtype := str(c.Vtype)
	out := cloudIPAM{zones: map[string]string{}, vtype: vtype}
	var prof *models.IPAMDNSProviderProfile
	if c.IPAMProviderRef != nil {
		if p := s.all[uuidOfRef(*c.IPAMProviderRef)]; p != nil {
			prof = p.model.(*models.IPAMDNSProviderProfile)
		}
	}
	if prof == nil {
		out.provider = vtype == cloudAWS || vtype == cloudAzure || vtype == cloudGCP
		return out
	}
	out.typ = str(prof.Type)
	add := func(ref string) {
		if n := s.all[uuidOfRef(ref)]; n != nil && n.kind.name == "network" && !slices.Contains(out.usable, n) {
			out.usable = append(out.usable, n)
		}
	}
	switch {
	case prof.InternalProfile != nil && out.typ == ipamInternal:
		for _, un := range prof.InternalProfile.UsableNetworks {
			if un != nil && un.NwRef != nil {
				add(*un.NwRef)
			}
		}
	case prof.AwsProfile != nil && out.typ == ipamAWS:
		out.provider = true
		for _, u := range prof.AwsProfile.UsableNetworkUuids {
			add(u)
		}
		for _, z := range prof.AwsProfile.Zones {
			if z == nil {
				continue
			}
			for _, u := range z.UsableNetworkUuids {
				add(u)
				out.zones[u] = str(z.AvailabilityZone)
			}
		}
	case prof.AzureProfile != nil && out.typ == ipamAzure:
		out.provider = true
		for _, u := range prof.AzureProfile.UsableNetworkUuids {
			add(u)
		}
	case prof.GcpProfile != nil && out.typ == ipamGCP:
		// Without use_gcp_network the VIP comes from an Avi network's
		// static ranges, as with the internal IPAM.
		out.provider = prof.GcpProfile.UseGcpNetwork != nil && *prof.GcpProfile.UseGcpNetwork
		for _, r := range prof.GcpProfile.UsableNetworkRefs {
			add(r)
		}
	}
	return out
}

// reserved is how many addresses at the start and at the end of every
// subnet the provider keeps for itself: AWS and Azure the network address,
// the router, two DNS/future addresses and the broadcast address; Google
// the network address, the gateway, the second-to-last and the broadcast
// address. Other IPAMs keep the network and broadcast addresses.
func (ip cloudIPAM) reserved() (low, high uint32) {
	switch ip.who() {
	case ipamAWS, ipamAzure:
		return 4, 1
	case ipamGCP:
		return 2, 2
	}
	return 1, 1
}

// who is the IPAM type that allocates: the profile's, else the provider of
// a public cloud without one.
func (ip cloudIPAM) who() string {
	if ip.typ != "" {
		return ip.typ
	}
	switch ip.vtype {
	case cloudAWS:
		return ipamAWS
	case cloudAzure:
		return ipamAzure
	case cloudGCP:
		return ipamGCP
	}
	return ""
}

// providerName names who hands out the addresses, for messages.
func (ip cloudIPAM) providerName() string {
	switch ip.who() {
	case ipamAWS:
		return "AWS"
	case ipamAzure:
		return "Azure"
	case ipamGCP:
		return "Google Cloud"
	}
	return "the cloud provider"
}

// hostSpans gives each subnet of a provider-allocated network the one range
// the provider allocates from: every address but the reserved ones. The
// static ranges configured on it (if any) play no part.
func (ip cloudIPAM) hostSpans(sns []subnetInfo) []subnetInfo {
	low, high := ip.reserved()
	out := make([]subnetInfo, 0, len(sns))
	for _, sn := range sns {
		first := ip4(sn.prefix.Masked().Addr())
		size := uint64(1) << (32 - sn.prefix.Bits())
		sn.ranges = nil
		if size > uint64(low+high) {
			sn.ranges = []ipRange{{first + low, first + uint32(size-1) - high}}
		}
		out = append(out, sn)
	}
	return out
}

// subnetByUUID resolves vip.subnet_uuid, which the controller takes as the
// subnet's UUID, its name or its prefix: a network of the cloud by UUID or
// name, else the configured subnet with that prefix (networks in name order).
func (s *store) subnetByUUID(cloud *object, v string) []subnetInfo {
	var nets []*object
	for _, o := range s.all {
		if o.kind.name == "network" && uuidOfRef(str(o.model.(*models.Network).CloudRef)) == cloud.uuid {
			if o.uuid == v || o.name == v {
				return subnets(o)
			}
			nets = append(nets, o)
		}
	}
	pf, err := netip.ParsePrefix(v)
	if err != nil {
		return nil
	}
	slices.SortFunc(nets, func(a, b *object) int { return strings.Compare(a.name, b.name) })
	for _, n := range nets {
		for _, sn := range subnets(n) {
			if sn.prefix == pf.Masked() {
				return []subnetInfo{sn}
			}
		}
	}
	return nil
}

// subnetUUIDCloud reports the cloud types whose vips name their subnet in
// subnet_uuid (AWS documents it; AKO sends it on Azure too).
func subnetUUIDCloud(vtype string) bool { return vtype == cloudAWS || vtype == cloudAzure }

// vipSubnetUUID returns the subnet_uuid a vip carries, on the vip or in
// its ipam_network_subnet, and refuses two different ones.
func vipSubnetUUID(id string, vip *models.Vip) (string, *apiError) {
	a := str(vip.SubnetUUID)
	b := ""
	if vip.IPAMNetworkSubnet != nil {
		b = str(vip.IPAMNetworkSubnet.SubnetUUID)
	}
	if a != "" && b != "" && a != b {
		return "", errf(http.StatusBadRequest, "vip_id %s: subnet_uuid %s and ipam_network_subnet.subnet_uuid %s differ", id, a, b)
	}
	if a == "" {
		a = b
	}
	return a, nil
}
