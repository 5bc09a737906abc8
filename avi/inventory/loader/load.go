// Package loader reads the controller inventory (avi/inventory's Snapshot)
// through an avi.Client and keeps it fresh in a Cache. It is the I/O half of
// the inventory: the rule book and the model builder read snapshots only.
package loader

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"time"

	"github.com/go-logr/logr"
	"github.com/vmware/alb-sdk/go/models"

	"github.com/vipgate/vipgate/avi"
	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/objects"
	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/config"
)

// azAttr is the network attribute carrying an AWS availability zone.
const azAttr = "availability_zone"

// vipgate's identity marker keys (avi/model's MarkerClusterID and
// MarkerOwner; the loader does not import the model builder).
const (
	markerClusterID = "vipgate-cluster-id"
	markerOwner     = "vipgate-owner"
	// markerClusterName is AKO's (and vipgate's) clustername marker.
	markerClusterName = "clustername"
)

// Load reads the controller's view vipgate's rules need: the cloud named by
// ControllerSettings.cloudName (type, IPAM type and networks), the cloud's networks with
// subnets and static VIP ranges, its SE groups with labels, and every VsVip's
// addresses, and the objects rule CRDs may name (loadRefs). Collections are
// read in pages, so 10k VsVips are ~50 requests.
func Load(ctx context.Context, c avi.Client, s *config.Settings) (*inventory.Snapshot, error) {
	start := time.Now()
	snap := &inventory.Snapshot{
		Networks: map[string]*inventory.Network{},
		SEGroups: map[string]inventory.SEGroup{},
		InUse:    map[netip.Addr]inventory.Holder{},
		VsVips:   map[string][]inventory.Holder{},
	}
	azByNetUUID, err := loadCloud(ctx, c, s, snap)
	if err != nil {
		return nil, err
	}
	if err := loadNetworks(ctx, c, s, snap, azByNetUUID); err != nil {
		return nil, err
	}
	if err := loadSEGroups(ctx, c, snap); err != nil {
		return nil, err
	}
	if err := loadDNSAndLicense(ctx, c, snap); err != nil {
		return nil, err
	}
	// VIPs in use: all tenants when the user may see them, else our tenant.
	if err := loadVsVips(ctx, c, snap); err != nil {
		return nil, err
	}
	if err := loadRefs(ctx, c, snap); err != nil {
		return nil, err
	}
	snap.FetchedAt = time.Now()
	snap.ComputeFree()
	logr.FromContextOrDiscard(ctx).V(1).Info("inventory loaded", "cloud", snap.Cloud.Name, "networks", len(snap.Networks),
		"seGroups", len(snap.SEGroups), "vipsInUse", len(snap.InUse), "took", time.Since(start).String())
	return snap, nil
}

// cloudFields and ipamFields are what the inventory reads of the cloud and
// its IPAM profile: never the provider credentials both can carry
// (Infoblox's password, custom IPAM parameters).
const (
	cloudFields = "name,uuid,vtype,ipam_provider_ref,dns_provider_ref"
	ipamFields  = "name,uuid,type,internal_profile,aws_profile,azure_profile,gcp_profile"
	// dnsFields is what the DNS profile is read for: its service domains
	// (Infoblox's usable_domains sit next to its password, which the
	// controller returns masked and vipgate never logs).
	dnsFields = "name,uuid,type,internal_profile,aws_profile,azure_profile,infoblox_profile"
)

// loadCloud reads the configured cloud and its IPAM profile: its type, the
// usable networks and, on AWS, the availability zone of each (returned by
// network UUID).
func loadCloud(ctx context.Context, c avi.Client, s *config.Settings, snap *inventory.Snapshot) (map[string]string, error) {
	clouds, err := avi.ListAll[models.Cloud](ctx, c, "cloud", url.Values{"name": {s.ControllerSettings.CloudName}, "include_name": {"true"}, "fields": {cloudFields}}, "", avi.PageSize)
	if err != nil {
		return nil, fmt.Errorf("reading cloud %q: %w", s.ControllerSettings.CloudName, err)
	}
	if len(clouds) == 0 {
		return nil, fmt.Errorf("cloud %q not found on the controller (ControllerSettings.cloudName)", s.ControllerSettings.CloudName)
	}
	cl := clouds[0]
	snap.Cloud = inventory.Cloud{Name: deref(cl.Name), UUID: deref(cl.UUID), Type: deref(cl.Vtype)}
	snap.Cloud.DNSProfileRef = deref(cl.DNSProviderRef)
	azByNetUUID := map[string]string{}
	ref := deref(cl.IPAMProviderRef)
	if ref == "" {
		return azByNetUUID, nil
	}
	var prof models.IPAMDNSProviderProfile
	q := url.Values{"include_name": {"true"}, "fields": {ipamFields}}
	if err := c.Get(ctx, "ipamdnsproviderprofile", inventory.RefUUID(ref), q, "", &prof); err != nil {
		return nil, fmt.Errorf("reading IPAM profile of cloud %q: %w", snap.Cloud.Name, err)
	}
	snap.Cloud.IPAMType = deref(prof.Type)
	if ip := prof.InternalProfile; ip != nil {
		for _, un := range ip.UsableNetworks {
			if un != nil {
				snap.Cloud.IPAMNetworks = append(snap.Cloud.IPAMNetworks, deref(un.NwRef))
			}
		}
	}
	if ap := prof.AwsProfile; ap != nil {
		snap.Cloud.IPAMNetworks = append(snap.Cloud.IPAMNetworks, ap.UsableNetworkUuids...)
		for _, z := range ap.Zones {
			if z == nil {
				continue
			}
			for _, u := range z.UsableNetworkUuids {
				azByNetUUID[u] = deref(z.AvailabilityZone)
				snap.Cloud.IPAMNetworks = append(snap.Cloud.IPAMNetworks, u)
			}
		}
	}
	if zp := prof.AzureProfile; zp != nil {
		snap.Cloud.IPAMNetworks = append(snap.Cloud.IPAMNetworks, zp.UsableNetworkUuids...)
	}
	if gp := prof.GcpProfile; gp != nil {
		snap.Cloud.IPAMNetworks = append(snap.Cloud.IPAMNetworks, gp.UsableNetworkRefs...)
		snap.Cloud.GCPNetworkVIPs = deref(gp.UseGcpNetwork)
	}
	return azByNetUUID, nil
}

// loadNetworks reads the cloud's networks in the configured VRF with their
// subnets and static VIP ranges, and names the cloud's IPAM networks.
func loadNetworks(ctx context.Context, c avi.Client, s *config.Settings, snap *inventory.Snapshot, azByNetUUID map[string]string) error {
	nets, err := avi.ListAll[models.Network](ctx, c, "network", url.Values{"include_name": {"true"}}, "", avi.PageSize)
	if err != nil {
		return fmt.Errorf("reading networks: %w", err)
	}
	uuidToName := map[string]string{}
	for _, n := range nets {
		if inventory.RefUUID(deref(n.CloudRef)) != snap.Cloud.UUID {
			continue
		}
		if vrf := inventory.RefName(deref(n.VrfContextRef)); vrf != "" && vrf != s.VRF() {
			continue
		}
		nw := &inventory.Network{Name: deref(n.Name), UUID: deref(n.UUID)}
		uuidToName[nw.UUID] = nw.Name
		for _, a := range n.Attrs {
			if a != nil && deref(a.Key) == azAttr {
				nw.AvailabilityZone = deref(a.Value)
			}
		}
		if nw.AvailabilityZone == "" {
			nw.AvailabilityZone = azByNetUUID[nw.UUID]
		}
		for _, sub := range n.ConfiguredSubnets {
			if out, ok := subnet(sub); ok {
				nw.Subnets = append(nw.Subnets, out)
			}
		}
		snap.Networks[nw.Name] = nw
	}
	// IPAM networks by name (refs carry "#name" with include_name; AWS lists UUIDs).
	for i, ref := range snap.Cloud.IPAMNetworks {
		if n := inventory.RefName(ref); n != "" {
			snap.Cloud.IPAMNetworks[i] = n
		} else if n := uuidToName[inventory.RefUUID(ref)]; n != "" {
			snap.Cloud.IPAMNetworks[i] = n
		}
	}
	snap.Cloud.IPAMNetworks = dedupe(snap.Cloud.IPAMNetworks)
	return nil
}

// subnet converts a configured subnet with its VIP ranges; ok is false for
// one the controller returned without a usable prefix.
func subnet(sub *models.Subnet) (inventory.Subnet, bool) {
	if sub == nil || sub.Prefix == nil || sub.Prefix.IPAddr == nil || sub.Prefix.Mask == nil {
		return inventory.Subnet{}, false
	}
	a, err := netip.ParseAddr(deref(sub.Prefix.IPAddr.Addr))
	if err != nil {
		return inventory.Subnet{}, false
	}
	pfx, err := a.Prefix(int(*sub.Prefix.Mask))
	if err != nil {
		return inventory.Subnet{}, false
	}
	out := inventory.Subnet{Prefix: pfx}
	for _, r := range sub.StaticIPRanges {
		if r == nil || r.Range == nil || r.Range.Begin == nil || r.Range.End == nil {
			continue
		}
		if t := deref(r.Type); t != "" && t != inventory.RangeVIP && t != inventory.RangeVIPAndSE {
			continue
		}
		b, e1 := netip.ParseAddr(deref(r.Range.Begin.Addr))
		e, e2 := netip.ParseAddr(deref(r.Range.End.Addr))
		if e1 != nil || e2 != nil || b.Is4() != e.Is4() || e.Less(b) {
			continue
		}
		out.VIPRanges = append(out.VIPRanges, inventory.Range{Begin: b, End: e})
	}
	return out, true
}

// loadSEGroups reads the cloud's SE groups with their labels.
func loadSEGroups(ctx context.Context, c avi.Client, snap *inventory.Snapshot) error {
	segs, err := avi.ListAll[models.ServiceEngineGroup](ctx, c, "serviceenginegroup",
		url.Values{"fields": {"name,uuid,cloud_ref,labels"}}, "", avi.PageSize)
	if err != nil {
		return fmt.Errorf("reading SE groups: %w", err)
	}
	for _, g := range segs {
		if cr := deref(g.CloudRef); cr != "" && inventory.RefUUID(cr) != snap.Cloud.UUID {
			continue
		}
		sg := inventory.SEGroup{Name: deref(g.Name), UUID: deref(g.UUID)}
		for _, l := range g.Labels {
			if l == nil {
				continue
			}
			if sg.Labels == nil {
				sg.Labels = map[string]string{}
			}
			sg.Labels[deref(l.Key)] = deref(l.Value)
		}
		snap.SEGroups[sg.Name] = sg
	}
	return nil
}

// vsvipLite is the part of a VsVip the inventory needs (requested with fields=).
type vsvipLite struct {
	Name      string                          `json:"name"`
	TenantRef string                          `json:"tenant_ref"`
	Markers   []*objects.RoleFilterMatchLabel `json:"markers"`
	Vip       []*objects.Vip                  `json:"vip"`
}

// loadVsVips records every allocated VIP address with its holder, across
// tenants when the account may read them all, else in its own tenant.
func loadVsVips(ctx context.Context, c avi.Client, snap *inventory.Snapshot) error {
	q := url.Values{"include_name": {"true"}, "fields": {"name,tenant_ref,markers,vip"}}
	collect := func(tenant string) error {
		return c.List(ctx, "vsvip", q, tenant, avi.PageSize, func(raw json.RawMessage) error {
			var v vsvipLite
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("decoding vsvip: %w", err)
			}
			// The values every VsVip of a cluster repeats are held once.
			h := inventory.Holder{VsVip: v.Name, Tenant: inventory.Intern(inventory.RefName(v.TenantRef)),
				CreatedBy: inventory.Intern(inventory.MarkerValue(v.Markers, "created_by")),
				ClusterID: inventory.Intern(inventory.MarkerValue(v.Markers, markerClusterID)), Owner: inventory.MarkerValue(v.Markers, markerOwner),
				ClusterName: inventory.Intern(inventory.MarkerValue(v.Markers, markerClusterName))}
			if h.Tenant == "" {
				h.Tenant = tenant
				if tenant == "*" || tenant == "" {
					h.Tenant = c.Tenant()
				}
			}
			snap.VsVips[h.VsVip] = append(snap.VsVips[h.VsVip], h)
			for _, vip := range v.Vip {
				if vip == nil {
					continue
				}
				for _, ip := range []*objects.IPAddr{vip.IPAddress, vip.Ip6Address} {
					if ip == nil {
						continue
					}
					if a, err := netip.ParseAddr(deref(ip.Addr)); err == nil && !a.IsUnspecified() {
						snap.InUse[a] = h
					}
				}
			}
			return nil
		})
	}
	err := collect("*")
	if err == nil {
		return nil
	}
	if session.IsRetryable(err) {
		return fmt.Errorf("reading VsVips: %w", err)
	}
	// Not allowed to read every tenant: our own tenant is what we can see.
	clear(snap.InUse)
	clear(snap.VsVips)
	if err := collect(""); err != nil {
		return fmt.Errorf("reading VsVips: %w", err)
	}
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := in[:0]
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
