// Package inventory holds vipgate's cached view of the controller: the cloud,
// its networks with subnets and static VIP ranges, SE groups and the VIP
// addresses in use. Admission reads a Snapshot and never calls the controller.
package inventory

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Cloud types that matter to vipgate's rules.
const (
	CloudAWS     = "CLOUD_AWS"
	CloudAzure   = "CLOUD_AZURE"
	CloudGCP     = "CLOUD_GCP"
	CloudVCenter = "CLOUD_VCENTER"
)

// IPAM profile types (ipamdnsproviderprofile.type) that decide where VIP
// addresses come from.
const (
	IPAMInternal = "IPAMDNS_TYPE_INTERNAL"
	IPAMAWS      = "IPAMDNS_TYPE_AWS"
	IPAMAzure    = "IPAMDNS_TYPE_AZURE"
	IPAMGCP      = "IPAMDNS_TYPE_GCP"
	IPAMInfoblox = "IPAMDNS_TYPE_INFOBLOX"
	IPAMCustom   = "IPAMDNS_TYPE_CUSTOM"
)

// Snapshot is an immutable view of the controller at FetchedAt. Readers share
// it without locks; the cache swaps in a new one on refresh.
type Snapshot struct {
	FetchedAt time.Time
	Cloud     Cloud
	// Networks usable for VIPs in the cloud, by name.
	Networks map[string]*Network
	// SEGroups in the cloud, by name.
	SEGroups map[string]SEGroup
	// InUse maps every VIP address allocated on the controller to its holder.
	InUse map[netip.Addr]Holder
	// VsVips lists every VsVip by name, one entry per tenant holding one:
	// names another owner holds are refused at admission.
	VsVips map[string][]Holder
	// Refs holds, per type of RefTypes, the objects rule CRDs may name. A
	// type missing from the map could not be listed (its checks fail open).
	Refs map[string]RefTable
	// LicenseTier is systemconfiguration.default_license_tier ("" when it
	// could not be read): AKO picks the TCP network profile by it.
	LicenseTier string
}

// License tiers under which AKO gives TCP virtual services the TCP proxy
// profile; other tiers get the fast path.
const (
	LicenseEnterprise              = "ENTERPRISE"
	LicenseEnterpriseCloudServices = "ENTERPRISE_WITH_CLOUD_SERVICES"
)

// FullProxyLicense reports whether the license tier offers the TCP proxy
// profile to Kubernetes virtual services (AKO's rule).
func (s *Snapshot) FullProxyLicense() bool {
	return s != nil && (s.LicenseTier == LicenseEnterprise || s.LicenseTier == LicenseEnterpriseCloudServices)
}

// DNSSubdomains returns the service domains of the cloud's DNS profile,
// sorted, without a leading dot; nil without a snapshot or a DNS profile.
func (s *Snapshot) DNSSubdomains() []string {
	if s == nil {
		return nil
	}
	return s.Cloud.DNSDomains
}

// Cloud is the Avi cloud vipgate places objects in.
type Cloud struct {
	Name string
	UUID string
	// Type is the cloud's vtype, e.g. CLOUD_VCENTER or CLOUD_AWS.
	Type string
	// IPAMNetworks are the names of the networks the cloud's IPAM profile can allocate from.
	IPAMNetworks []string
	// DNSProfileRef is the cloud's dns_provider_ref ("" when none).
	DNSProfileRef string
	// DNSDomains are the service domains of the cloud's DNS profile, sorted
	// and without a leading dot (AKO's subdomains for FQDNs).
	DNSDomains []string
	// IPAMType is the type of the cloud's IPAM profile (IPAMInternal,
	// IPAMAWS, ...), "" when the cloud has none.
	IPAMType string
	// GCPNetworkVIPs is the Google Cloud profile's use_gcp_network: VIPs
	// come from the VPC's subnets rather than from an Avi network's ranges.
	GCPNetworkVIPs bool
}

// MultiVIP reports whether the cloud can place one VIP per subnet (multi-AZ).
func (c Cloud) MultiVIP() bool { return c.Type == CloudAWS }

// ProviderIPAM reports whether someone other than the controller hands out
// VIP addresses, from whole subnets and without Avi static ranges: AWS's,
// Azure's and Google's IPAM (the latter with use_gcp_network), Infoblox, a
// custom IPAM script, and a public cloud with no IPAM profile at all.
// Admission can then check the subnet an address falls in, never a range
// or how many addresses are free.
func (c Cloud) ProviderIPAM() bool {
	switch c.IPAMType {
	case IPAMAWS, IPAMAzure, IPAMInfoblox, IPAMCustom:
		return true
	case IPAMGCP:
		return c.GCPNetworkVIPs
	case "":
		return c.Type == CloudAWS || c.Type == CloudAzure || c.Type == CloudGCP
	}
	return false
}

// SubnetByName reports whether vips name their subnet in subnet_uuid (the
// network's name) rather than ipam_network_subnet: AWS documents it as
// mandatory with its IPAM, and AKO names Azure subnets the same way.
func (c Cloud) SubnetByName() bool {
	return c.ProviderIPAM() && (c.Type == CloudAWS || c.Type == CloudAzure)
}

// Reserver names who keeps addresses of every subnet for itself and how
// many (at the start and at the end): AWS and Azure the first four and the
// last, Google Cloud the first two and the last two. Others ("") keep the
// network and broadcast addresses only.
func (c Cloud) Reserver() (who string, low, high int) {
	typ := c.IPAMType
	if typ == "" {
		switch c.Type {
		case CloudAWS:
			typ = IPAMAWS
		case CloudAzure:
			typ = IPAMAzure
		case CloudGCP:
			typ = IPAMGCP
		}
	}
	switch {
	case typ == IPAMAWS:
		return "AWS", 4, 1
	case typ == IPAMAzure:
		return "Azure", 4, 1
	case typ == IPAMGCP && c.ProviderIPAM():
		return "Google Cloud", 2, 2
	}
	return "", 1, 1
}

// IPAMName is how messages name the cloud's IPAM: its profile type, or
// "<vtype> provider" without a profile.
func (c Cloud) IPAMName() string {
	if c.IPAMType != "" {
		return c.IPAMType
	}
	return c.Type + " provider"
}

// Network is a controller network with its configured subnets.
type Network struct {
	Name string
	UUID string
	// AvailabilityZone is set on AWS clouds.
	AvailabilityZone string
	Subnets          []Subnet
}

// Subnet is a configured subnet with its static ranges usable for VIPs.
type Subnet struct {
	Prefix netip.Prefix
	// VIPRanges are the static ranges of type STATIC_IPS_FOR_VIP or STATIC_IPS_FOR_VIP_AND_SE.
	VIPRanges []Range
	// Free is the number of addresses in VIPRanges not in use.
	Free int
}

// Range is an inclusive address range.
type Range struct {
	Begin netip.Addr
	End   netip.Addr
}

// Contains reports whether a lies in the range.
func (r Range) Contains(a netip.Addr) bool {
	return r.Begin.Compare(a) <= 0 && a.Compare(r.End) <= 0
}

// String renders the range as begin-end, as users see it in messages.
func (r Range) String() string { return r.Begin.String() + "-" + r.End.String() }

// sizeCap caps Size for huge IPv6 ranges.
const sizeCap = 1 << 20

// Size is the number of addresses in the range (capped for huge IPv6
// ranges). It is arithmetic, not a walk: free addresses are counted again
// each time vipgate's writes are folded into the inventory.
func (r Range) Size() int {
	if !r.Begin.IsValid() || !r.End.IsValid() || r.Begin.Is4() != r.End.Is4() {
		return r.walk()
	}
	if r.End.Less(r.Begin) {
		return 0
	}
	b, e := r.Begin.As16(), r.End.As16()
	bhi, blo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	ehi, elo := binary.BigEndian.Uint64(e[:8]), binary.BigEndian.Uint64(e[8:])
	lo, borrow := bits.Sub64(elo, blo, 0)
	if hi, _ := bits.Sub64(ehi, bhi, borrow); hi != 0 || lo >= sizeCap-1 {
		return sizeCap
	}
	return int(lo) + 1
}

// walk counts the range address by address (what Size did before it was
// arithmetic; kept for ranges whose ends are not of one family).
func (r Range) walk() int {
	n := 0
	for a := r.Begin; a.IsValid() && a.Compare(r.End) <= 0; a = a.Next() {
		n++
		if n >= sizeCap {
			break
		}
	}
	return n
}

// SEGroup is a Service Engine group with its labels (used to mark cluster ownership).
type SEGroup struct {
	Name   string
	UUID   string
	Labels map[string]string
}

// Holder says which controller object holds a VIP address.
type Holder struct {
	// VsVip is the name of the VsVip holding the address.
	VsVip string
	// CreatedBy is the VsVip's created_by ("vipgate-<cluster>" when it is ours).
	CreatedBy string
	Tenant    string
	// ClusterID and Owner are vipgate's identity markers ("" when absent).
	ClusterID, Owner string
	// ClusterName is the clustername marker AKO and vipgate put on objects.
	ClusterName string
}

// FromAKO reports whether the VsVip was written by AKO for cluster: AKO
// marks VsVips with clustername only (a VsVip has no created_by field, and
// vipgate's carry a created_by marker).
func (h Holder) FromAKO(cluster string) bool {
	return h.CreatedBy == "" && h.ClusterName != "" && h.ClusterName == cluster
}

// HoldsAddress reports whether a VsVip named name whose holder match
// accepts holds an address. VsVips lists every holder InUse names (the
// loader and With keep them together), so a name without a matching entry
// there answers without a pass over every address in use: a reconcile of a
// new Service asks this once, and in a burst of thousands the pass would
// cost each one time in proportion to all the others.
func (s *Snapshot) HoldsAddress(name string, match func(Holder) bool) bool {
	if s == nil || !slices.ContainsFunc(s.VsVips[name], match) {
		return false
	}
	for _, h := range s.InUse {
		if h.VsVip == name && match(h) {
			return true
		}
	}
	return false
}

// Network returns the network with that name, or nil.
func (s *Snapshot) Network(name string) *Network {
	if s == nil {
		return nil
	}
	return s.Networks[name]
}

// NetworkByUUID returns the network with that UUID, or nil.
func (s *Snapshot) NetworkByUUID(uuid string) *Network {
	if s == nil {
		return nil
	}
	for _, n := range s.Networks {
		if n.UUID == uuid {
			return n
		}
	}
	return nil
}

// Age is how old the snapshot is at now.
func (s *Snapshot) Age(now time.Time) time.Duration {
	if s == nil || s.FetchedAt.IsZero() {
		return time.Duration(1<<63 - 1)
	}
	return now.Sub(s.FetchedAt)
}

// Subnet returns the subnet of n equal to prefix, or nil.
func (n *Network) Subnet(prefix netip.Prefix) *Subnet {
	for i := range n.Subnets {
		if n.Subnets[i].Prefix == prefix.Masked() {
			return &n.Subnets[i]
		}
	}
	return nil
}

// ComputeFree fills Subnet.Free from InUse; call once after building a snapshot.
func (s *Snapshot) ComputeFree() {
	for _, n := range s.Networks {
		for i := range n.Subnets {
			sub := &n.Subnets[i]
			total, used := 0, 0
			for _, r := range sub.VIPRanges {
				total += r.Size()
			}
			for a := range s.InUse {
				for _, r := range sub.VIPRanges {
					if r.Contains(a) {
						used++
						break
					}
				}
			}
			sub.Free = total - used
		}
	}
}

// SubnetUsage is how much of one subnet's static VIP ranges is in use.
type SubnetUsage struct {
	Network   string
	Subnet    netip.Prefix
	Free      int
	Allocated int
}

// Usage lists every subnet with static VIP ranges and its free and
// allocated addresses (ComputeFree must have run), sorted by network and subnet.
func (s *Snapshot) Usage() []SubnetUsage {
	var out []SubnetUsage
	for _, n := range s.Networks {
		for _, sub := range n.Subnets {
			if len(sub.VIPRanges) == 0 {
				continue
			}
			total := 0
			for _, r := range sub.VIPRanges {
				total += r.Size()
			}
			out = append(out, SubnetUsage{Network: n.Name, Subnet: sub.Prefix, Free: sub.Free, Allocated: total - sub.Free})
		}
	}
	slices.SortFunc(out, func(a, b SubnetUsage) int {
		if c := strings.Compare(a.Network, b.Network); c != 0 {
			return c
		}
		return a.Subnet.Addr().Compare(b.Subnet.Addr())
	})
	return out
}

// VsVipChange is a VsVip write vipgate made: what the controller answered
// (its addresses and holder), or its deletion.
type VsVipChange struct {
	Holder  Holder
	Addrs   []netip.Addr
	Deleted bool
}

// With returns a copy of s with changes applied: the VIPs each VsVip holds
// now, and free addresses counted again. It lets the writes themselves keep
// the inventory current between collection reads.
func (s *Snapshot) With(changes []VsVipChange) *Snapshot {
	// One pass over the addresses in use, not one per change: the writes of
	// a burst are folded in every few milliseconds while thousands of VIPs
	// are held. The changes still apply in order (a later change of the same
	// VsVip replaces what an earlier one added), as if each were applied alone.
	type key struct{ name, tenant string }
	changed := make(map[key]bool, len(changes))
	for _, c := range changes {
		changed[key{c.Holder.VsVip, c.Holder.Tenant}] = true
	}
	out := *s
	out.InUse = make(map[netip.Addr]Holder, len(s.InUse)+len(changes))
	for a, h := range s.InUse {
		if !changed[key{h.VsVip, h.Tenant}] {
			out.InUse[a] = h
		}
	}
	out.VsVips = make(map[string][]Holder, len(s.VsVips)+len(changes))
	for n, hs := range s.VsVips {
		out.VsVips[n] = hs
	}
	added := make(map[key][]netip.Addr, len(changes))
	for _, c := range changes {
		name, tenant := c.Holder.VsVip, c.Holder.Tenant
		k := key{name, tenant}
		for _, a := range added[k] {
			if h, ok := out.InUse[a]; ok && h.VsVip == name && h.Tenant == tenant {
				delete(out.InUse, a)
			}
		}
		added[k] = nil
		hs := slices.DeleteFunc(slices.Clone(out.VsVips[name]), func(h Holder) bool { return h.Tenant == tenant })
		if !c.Deleted {
			hs = append(hs, c.Holder)
			for _, a := range c.Addrs {
				out.InUse[a] = c.Holder
			}
			added[k] = c.Addrs
		}
		if len(hs) == 0 {
			delete(out.VsVips, name)
		} else {
			out.VsVips[name] = hs
		}
	}
	out.Networks = make(map[string]*Network, len(s.Networks))
	for k, n := range s.Networks {
		cp := *n
		cp.Subnets = slices.Clone(n.Subnets)
		out.Networks[k] = &cp
	}
	out.ComputeFree()
	return &out
}
