// Package inventory holds vipgate's cached view of the controller: the cloud,
// its networks with subnets and static VIP ranges, SE groups and the VIP
// addresses in use. Admission reads a Snapshot and never calls the controller.
package inventory

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Cloud types that matter to vipgate's rules.
const (
	CloudAWS     = "CLOUD_AWS"
	CloudVCenter = "CLOUD_VCENTER"
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
}

// Cloud is the Avi cloud vipgate places objects in.
type Cloud struct {
	Name string
	UUID string
	// Type is the cloud's vtype, e.g. CLOUD_VCENTER or CLOUD_AWS.
	Type string
	// IPAMNetworks are the names of the networks the cloud's IPAM profile can allocate from.
	IPAMNetworks []string
}

// MultiVIP reports whether the cloud can place one VIP per subnet (multi-AZ).
func (c Cloud) MultiVIP() bool { return c.Type == CloudAWS }

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

// Size is the number of addresses in the range (capped for huge IPv6 ranges).
func (r Range) Size() int {
	n := 0
	for a := r.Begin; a.IsValid() && a.Compare(r.End) <= 0; a = a.Next() {
		n++
		if n >= 1<<20 {
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
