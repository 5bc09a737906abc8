package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
)

// InventoryKind and InventoryVersion identify an inventory file, so a file
// of another shape (or a future version) is refused instead of read as empty.
const (
	InventoryKind    = "VipgateInventory"
	InventoryVersion = 1
)

// InventoryFile is the JSON form of an inventory.Snapshot that `vipgate
// inventory export` writes and `vipgate check` reads. It is the controller's
// state as the rule book sees it: names, subnets, ranges and addresses, no
// credentials and nothing else read from the controller. Collections are
// sorted lists (not maps) and addresses are strings, so two exports of the
// same controller are byte-identical and diff well in review.
type InventoryFile struct {
	Kind    string `json:"kind"`
	Version int    `json:"version"`
	// FetchedAt is when the snapshot was read; check prints its age.
	FetchedAt time.Time `json:"fetchedAt"`
	// Controller and Tenant say where the snapshot was read (informational).
	Controller string             `json:"controller,omitempty"`
	Tenant     string             `json:"tenant,omitempty"`
	Cloud      InventoryCloud     `json:"cloud"`
	Networks   []InventoryNetwork `json:"networks"`
	SEGroups   []InventorySEGroup `json:"seGroups"`
	// VIPsInUse lists every VIP address allocated on the controller.
	VIPsInUse []InventoryVIP `json:"vipsInUse"`
	// VsVips lists every VsVip by name and tenant (Avi names held).
	VsVips []InventoryVsVip `json:"vsVips"`
	// LicenseTier is the controller's default license tier.
	LicenseTier string `json:"licenseTier,omitempty"`
	// References are the objects HostRules, HTTPRules and L4Rules may name,
	// per type; a type not listed could not be read (its checks warn).
	References []InventoryRefType `json:"references,omitempty"`
}

// InventoryRefType is one type of Snapshot.Refs.
type InventoryRefType struct {
	Type    string         `json:"type"`
	Objects []InventoryRef `json:"objects"`
}

// InventoryRef is one object of a RefTable.
type InventoryRef struct {
	Tenant    string `json:"tenant"`
	Name      string `json:"name"`
	Kind      string `json:"kind,omitempty"`
	CreatedBy string `json:"createdBy,omitempty"`
}

// InventoryCloud is inventory.Cloud.
type InventoryCloud struct {
	Name         string   `json:"name"`
	UUID         string   `json:"uuid,omitempty"`
	Type         string   `json:"type"`
	IPAMNetworks []string `json:"ipamNetworks,omitempty"`
	// IPAMType decides whether admission checks static ranges (the
	// controller's IPAM) or only subnets (a provider's).
	IPAMType       string   `json:"ipamType,omitempty"`
	GCPNetworkVIPs bool     `json:"gcpNetworkVIPs,omitempty"`
	DNSDomains     []string `json:"dnsDomains,omitempty"`
}

// InventoryNetwork is inventory.Network.
type InventoryNetwork struct {
	Name             string            `json:"name"`
	UUID             string            `json:"uuid,omitempty"`
	AvailabilityZone string            `json:"availabilityZone,omitempty"`
	Subnets          []InventorySubnet `json:"subnets,omitempty"`
}

// InventorySubnet is inventory.Subnet; ranges are "begin-end". Free is
// informational: check recomputes it from VIPsInUse.
type InventorySubnet struct {
	Prefix    string   `json:"prefix"`
	VIPRanges []string `json:"vipRanges,omitempty"`
	Free      int      `json:"free"`
}

// InventorySEGroup is inventory.SEGroup.
type InventorySEGroup struct {
	Name   string            `json:"name"`
	UUID   string            `json:"uuid,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// InventoryHolder is inventory.Holder without the VsVip name.
type InventoryHolder struct {
	CreatedBy string `json:"createdBy,omitempty"`
	Tenant    string `json:"tenant,omitempty"`
	ClusterID string `json:"clusterID,omitempty"`
	Owner     string `json:"owner,omitempty"`
}

// InventoryVIP is one entry of Snapshot.InUse.
type InventoryVIP struct {
	IP    string `json:"ip"`
	VsVip string `json:"vsVip"`
	InventoryHolder
}

// InventoryVsVip is one entry of Snapshot.VsVips.
type InventoryVsVip struct {
	Name string `json:"name"`
	InventoryHolder
}

// EncodeInventory converts a snapshot to its file form. controller and
// tenant are recorded for the reader's information only.
func EncodeInventory(s *inventory.Snapshot, controller, tenant string) *InventoryFile {
	f := &InventoryFile{
		Kind: InventoryKind, Version: InventoryVersion,
		FetchedAt: s.FetchedAt.UTC(), Controller: controller, Tenant: tenant,
		Cloud: InventoryCloud{Name: s.Cloud.Name, UUID: s.Cloud.UUID, Type: s.Cloud.Type, IPAMNetworks: slices.Clone(s.Cloud.IPAMNetworks),
			IPAMType: s.Cloud.IPAMType, GCPNetworkVIPs: s.Cloud.GCPNetworkVIPs, DNSDomains: slices.Clone(s.Cloud.DNSDomains)},
		Networks: []InventoryNetwork{}, SEGroups: []InventorySEGroup{}, VIPsInUse: []InventoryVIP{}, VsVips: []InventoryVsVip{},
		LicenseTier: s.LicenseTier, References: encodeRefs(s.Refs),
	}
	for _, n := range s.Networks {
		out := InventoryNetwork{Name: n.Name, UUID: n.UUID, AvailabilityZone: n.AvailabilityZone}
		for _, sub := range n.Subnets {
			fs := InventorySubnet{Prefix: sub.Prefix.String(), Free: sub.Free}
			for _, r := range sub.VIPRanges {
				fs.VIPRanges = append(fs.VIPRanges, r.String())
			}
			out.Subnets = append(out.Subnets, fs)
		}
		f.Networks = append(f.Networks, out)
	}
	slices.SortFunc(f.Networks, func(a, b InventoryNetwork) int { return strings.Compare(a.Name, b.Name) })
	for _, g := range s.SEGroups {
		f.SEGroups = append(f.SEGroups, InventorySEGroup{Name: g.Name, UUID: g.UUID, Labels: g.Labels})
	}
	slices.SortFunc(f.SEGroups, func(a, b InventorySEGroup) int { return strings.Compare(a.Name, b.Name) })
	for a, h := range s.InUse {
		f.VIPsInUse = append(f.VIPsInUse, InventoryVIP{IP: a.String(), VsVip: h.VsVip, InventoryHolder: holder(h)})
	}
	slices.SortFunc(f.VIPsInUse, func(a, b InventoryVIP) int {
		return netip.MustParseAddr(a.IP).Compare(netip.MustParseAddr(b.IP))
	})
	for name, hs := range s.VsVips {
		for _, h := range hs {
			f.VsVips = append(f.VsVips, InventoryVsVip{Name: name, InventoryHolder: holder(h)})
		}
	}
	slices.SortFunc(f.VsVips, func(a, b InventoryVsVip) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Tenant, b.Tenant)
	})
	return f
}

// encodeRefs lists the reference tables sorted by type, tenant and name.
func encodeRefs(refs map[string]inventory.RefTable) []InventoryRefType {
	var out []InventoryRefType
	for typ, table := range refs {
		t := InventoryRefType{Type: typ, Objects: []InventoryRef{}}
		for tenant, objs := range table {
			for name, o := range objs {
				t.Objects = append(t.Objects, InventoryRef{Tenant: tenant, Name: name, Kind: o.Kind, CreatedBy: o.CreatedBy})
			}
		}
		slices.SortFunc(t.Objects, func(a, b InventoryRef) int {
			if c := strings.Compare(a.Tenant, b.Tenant); c != 0 {
				return c
			}
			return strings.Compare(a.Name, b.Name)
		})
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b InventoryRefType) int { return strings.Compare(a.Type, b.Type) })
	return out
}

func holder(h inventory.Holder) InventoryHolder {
	return InventoryHolder{CreatedBy: h.CreatedBy, Tenant: h.Tenant, ClusterID: h.ClusterID, Owner: h.Owner}
}

// WriteInventory writes the snapshot as indented JSON with a final newline.
func WriteInventory(w io.Writer, s *inventory.Snapshot, controller, tenant string) error {
	b, err := json.MarshalIndent(EncodeInventory(s, controller, tenant), "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadInventory parses an inventory file strictly (unknown fields, bad
// addresses and another kind or version are errors: a hand-edited or foreign
// file must not silently count as an empty controller) and returns the
// snapshot the rule book reads, with Subnet.Free recomputed from VIPsInUse.
func ReadInventory(r io.Reader) (*inventory.Snapshot, *InventoryFile, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f InventoryFile
	if err := dec.Decode(&f); err != nil {
		return nil, nil, fmt.Errorf("not a vipgate inventory file: %w", err)
	}
	if f.Kind != InventoryKind {
		return nil, nil, fmt.Errorf("not a vipgate inventory file: kind is %q, want %q (write one with vipgate inventory export)", f.Kind, InventoryKind)
	}
	if f.Version != InventoryVersion {
		return nil, nil, fmt.Errorf("inventory file version %d is not supported (this vipgate reads version %d); export it again with this vipgate", f.Version, InventoryVersion)
	}
	if f.FetchedAt.IsZero() {
		return nil, nil, fmt.Errorf("inventory file has no fetchedAt")
	}
	s, err := f.Snapshot()
	if err != nil {
		return nil, nil, err
	}
	return s, &f, nil
}

// Snapshot converts the file form back to an inventory snapshot.
func (f *InventoryFile) Snapshot() (*inventory.Snapshot, error) {
	s := &inventory.Snapshot{
		FetchedAt: f.FetchedAt,
		Cloud: inventory.Cloud{Name: f.Cloud.Name, UUID: f.Cloud.UUID, Type: f.Cloud.Type, IPAMNetworks: slices.Clone(f.Cloud.IPAMNetworks),
			IPAMType: f.Cloud.IPAMType, GCPNetworkVIPs: f.Cloud.GCPNetworkVIPs, DNSDomains: slices.Clone(f.Cloud.DNSDomains)},
		LicenseTier: f.LicenseTier,
		Networks:    map[string]*inventory.Network{},
		SEGroups:    map[string]inventory.SEGroup{},
		InUse:       map[netip.Addr]inventory.Holder{},
		VsVips:      map[string][]inventory.Holder{},
	}
	for i, n := range f.Networks {
		if n.Name == "" {
			return nil, fmt.Errorf("networks[%d]: name is missing", i)
		}
		if _, dup := s.Networks[n.Name]; dup {
			return nil, fmt.Errorf("networks[%d]: network %q is listed twice", i, n.Name)
		}
		net := &inventory.Network{Name: n.Name, UUID: n.UUID, AvailabilityZone: n.AvailabilityZone}
		for j, sub := range n.Subnets {
			pfx, err := netip.ParsePrefix(sub.Prefix)
			if err != nil {
				return nil, fmt.Errorf("networks[%d].subnets[%d].prefix: %w", i, j, err)
			}
			out := inventory.Subnet{Prefix: pfx}
			for k, r := range sub.VIPRanges {
				rg, err := parseRange(r)
				if err != nil {
					return nil, fmt.Errorf("networks[%d].subnets[%d].vipRanges[%d]: %w", i, j, k, err)
				}
				out.VIPRanges = append(out.VIPRanges, rg)
			}
			net.Subnets = append(net.Subnets, out)
		}
		s.Networks[n.Name] = net
	}
	for i, g := range f.SEGroups {
		if g.Name == "" {
			return nil, fmt.Errorf("seGroups[%d]: name is missing", i)
		}
		s.SEGroups[g.Name] = inventory.SEGroup{Name: g.Name, UUID: g.UUID, Labels: g.Labels}
	}
	for i, v := range f.VIPsInUse {
		a, err := netip.ParseAddr(v.IP)
		if err != nil {
			return nil, fmt.Errorf("vipsInUse[%d].ip: %w", i, err)
		}
		s.InUse[a] = inventory.Holder{VsVip: v.VsVip, CreatedBy: v.CreatedBy, Tenant: v.Tenant, ClusterID: v.ClusterID, Owner: v.Owner}
	}
	for i, v := range f.VsVips {
		if v.Name == "" {
			return nil, fmt.Errorf("vsVips[%d]: name is missing", i)
		}
		s.VsVips[v.Name] = append(s.VsVips[v.Name], inventory.Holder{VsVip: v.Name, CreatedBy: v.CreatedBy, Tenant: v.Tenant, ClusterID: v.ClusterID, Owner: v.Owner})
	}
	for i, t := range f.References {
		if t.Type == "" {
			return nil, fmt.Errorf("references[%d]: type is missing", i)
		}
		if s.Refs == nil {
			s.Refs = map[string]inventory.RefTable{}
		}
		table := inventory.RefTable{}
		for j, o := range t.Objects {
			if o.Name == "" || o.Tenant == "" {
				return nil, fmt.Errorf("references[%d].objects[%d]: tenant and name are required", i, j)
			}
			table.Add(o.Tenant, o.Name, inventory.RefObject{Kind: o.Kind, CreatedBy: o.CreatedBy})
		}
		s.Refs[t.Type] = table
	}
	s.ComputeFree()
	return s, nil
}

// parseRange reads "begin-end" (IPv6 addresses contain no "-").
func parseRange(s string) (inventory.Range, error) {
	b, e, ok := strings.Cut(s, "-")
	if !ok {
		return inventory.Range{}, fmt.Errorf("%q is not a range begin-end", s)
	}
	begin, err1 := netip.ParseAddr(b)
	end, err2 := netip.ParseAddr(e)
	if err1 != nil || err2 != nil || begin.Is4() != end.Is4() || end.Less(begin) {
		return inventory.Range{}, fmt.Errorf("%q is not a range begin-end of one address family", s)
	}
	return inventory.Range{Begin: begin, End: end}, nil
}

// MatchSettings refuses an inventory read from another cloud than the
// settings name: its networks and VIPs would judge the wrong controller.
func (f *InventoryFile) MatchSettings(s *config.Settings) error {
	if want := s.ControllerSettings.CloudName; f.Cloud.Name != want {
		return fmt.Errorf("the inventory was exported from cloud %q, but ControllerSettings.cloudName is %q; export it again with these settings", f.Cloud.Name, want)
	}
	return nil
}
