package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/vmware/alb-sdk/go/models"

	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/config"
)

// PageSize is the collection page size used by Load and the applier; 200 is
// the controller's maximum. A variable so tests can exercise paging.
var PageSize = 200

// Static range types usable for VIPs. A range without a type defaults to
// STATIC_IPS_FOR_VIP_AND_SE on the controller.
const (
	RangeVIP      = "STATIC_IPS_FOR_VIP"
	RangeVIPAndSE = "STATIC_IPS_FOR_VIP_AND_SE"
)

// azAttr is the network attribute carrying an AWS availability zone.
const azAttr = "availability_zone"

// Load reads the controller's view vipgate's rules need: the cloud named by
// ControllerSettings.cloudName (type, IPAM networks), the cloud's networks with
// subnets and static VIP ranges, its SE groups with labels, and every VsVip's
// addresses. Collections are read in pages, so 10k VsVips are ~50 requests.
func Load(ctx context.Context, c *session.Client, s *config.Settings) (*Snapshot, error) {
	log := logr.FromContextOrDiscard(ctx)
	start := time.Now()
	snap := &Snapshot{
		Networks: map[string]*Network{},
		SEGroups: map[string]SEGroup{},
		InUse:    map[netip.Addr]Holder{},
	}
	inc := url.Values{"include_name": {"true"}}

	// Cloud.
	clouds, err := session.ListAll[models.Cloud](ctx, c, "cloud", url.Values{"name": {s.ControllerSettings.CloudName}, "include_name": {"true"}}, "", PageSize)
	if err != nil {
		return nil, fmt.Errorf("reading cloud %q: %w", s.ControllerSettings.CloudName, err)
	}
	if len(clouds) == 0 {
		return nil, fmt.Errorf("cloud %q not found on the controller (ControllerSettings.cloudName)", s.ControllerSettings.CloudName)
	}
	cl := clouds[0]
	snap.Cloud = Cloud{Name: deref(cl.Name), UUID: deref(cl.UUID), Type: deref(cl.Vtype)}

	// IPAM profile: usable networks and (AWS) zones.
	azByNetUUID := map[string]string{}
	if ref := deref(cl.IPAMProviderRef); ref != "" {
		var prof models.IPAMDNSProviderProfile
		if err := c.Get(ctx, "ipamdnsproviderprofile", RefUUID(ref), inc, "", &prof); err != nil {
			return nil, fmt.Errorf("reading IPAM profile of cloud %q: %w", snap.Cloud.Name, err)
		}
		if ip := prof.InternalProfile; ip != nil {
			for _, un := range ip.UsableNetworks {
				if un != nil {
					snap.Cloud.IPAMNetworks = append(snap.Cloud.IPAMNetworks, deref(un.NwRef))
				}
			}
		}
		if ap := prof.AwsProfile; ap != nil {
			for _, u := range ap.UsableNetworkUuids {
				snap.Cloud.IPAMNetworks = append(snap.Cloud.IPAMNetworks, u)
			}
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
	}

	// Networks of the cloud.
	nets, err := session.ListAll[models.Network](ctx, c, "network", inc, "", PageSize)
	if err != nil {
		return nil, fmt.Errorf("reading networks: %w", err)
	}
	uuidToName := map[string]string{}
	for _, n := range nets {
		if RefUUID(deref(n.CloudRef)) != snap.Cloud.UUID {
			continue
		}
		if vrf := RefName(deref(n.VrfContextRef)); vrf != "" && vrf != s.VRF() {
			continue
		}
		nw := &Network{Name: deref(n.Name), UUID: deref(n.UUID)}
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
			if sub == nil || sub.Prefix == nil || sub.Prefix.IPAddr == nil {
				continue
			}
			a, err := netip.ParseAddr(deref(sub.Prefix.IPAddr.Addr))
			if err != nil || sub.Prefix.Mask == nil {
				continue
			}
			pfx, err := a.Prefix(int(*sub.Prefix.Mask))
			if err != nil {
				continue
			}
			out := Subnet{Prefix: pfx}
			for _, r := range sub.StaticIPRanges {
				if r == nil || r.Range == nil || r.Range.Begin == nil || r.Range.End == nil {
					continue
				}
				if t := deref(r.Type); t != "" && t != RangeVIP && t != RangeVIPAndSE {
					continue
				}
				b, e1 := netip.ParseAddr(deref(r.Range.Begin.Addr))
				e, e2 := netip.ParseAddr(deref(r.Range.End.Addr))
				if e1 != nil || e2 != nil || b.Is4() != e.Is4() || e.Less(b) {
					continue
				}
				out.VIPRanges = append(out.VIPRanges, Range{Begin: b, End: e})
			}
			nw.Subnets = append(nw.Subnets, out)
		}
		snap.Networks[nw.Name] = nw
	}
	// IPAM networks by name (refs carry "#name" with include_name; AWS lists UUIDs).
	for i, ref := range snap.Cloud.IPAMNetworks {
		if n := RefName(ref); n != "" {
			snap.Cloud.IPAMNetworks[i] = n
		} else if n := uuidToName[RefUUID(ref)]; n != "" {
			snap.Cloud.IPAMNetworks[i] = n
		}
	}
	snap.Cloud.IPAMNetworks = dedupe(snap.Cloud.IPAMNetworks)

	// SE groups of the cloud.
	segs, err := session.ListAll[models.ServiceEngineGroup](ctx, c, "serviceenginegroup",
		url.Values{"fields": {"name,uuid,cloud_ref,labels"}}, "", PageSize)
	if err != nil {
		return nil, fmt.Errorf("reading SE groups: %w", err)
	}
	for _, g := range segs {
		if cr := deref(g.CloudRef); cr != "" && RefUUID(cr) != snap.Cloud.UUID {
			continue
		}
		sg := SEGroup{Name: deref(g.Name), UUID: deref(g.UUID)}
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

	// VIPs in use: all tenants when the user may see them, else our tenant.
	if err := loadVsVips(ctx, c, snap); err != nil {
		return nil, err
	}
	snap.FetchedAt = time.Now()
	snap.ComputeFree()
	log.V(1).Info("inventory loaded", "cloud", snap.Cloud.Name, "networks", len(snap.Networks),
		"seGroups", len(snap.SEGroups), "vipsInUse", len(snap.InUse), "took", time.Since(start).String())
	return snap, nil
}

// vsvipLite is the part of a VsVip the inventory needs (requested with fields=).
type vsvipLite struct {
	Name      string                         `json:"name"`
	TenantRef string                         `json:"tenant_ref"`
	Markers   []*models.RoleFilterMatchLabel `json:"markers"`
	Vip       []*models.Vip                  `json:"vip"`
}

func loadVsVips(ctx context.Context, c *session.Client, snap *Snapshot) error {
	q := url.Values{"include_name": {"true"}, "fields": {"name,tenant_ref,markers,vip"}}
	collect := func(tenant string) error {
		return c.List(ctx, "vsvip", q, tenant, PageSize, func(raw json.RawMessage) error {
			var v vsvipLite
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("decoding vsvip: %w", err)
			}
			h := Holder{VsVip: v.Name, Tenant: RefName(v.TenantRef), CreatedBy: MarkerValue(v.Markers, "created_by")}
			if h.Tenant == "" {
				h.Tenant = tenant
				if tenant == "*" || tenant == "" {
					h.Tenant = c.Tenant()
				}
			}
			for _, vip := range v.Vip {
				if vip == nil {
					continue
				}
				for _, ip := range []*models.IPAddr{vip.IPAddress, vip.Ip6Address} {
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
	if err := collect(""); err != nil {
		return fmt.Errorf("reading VsVips: %w", err)
	}
	return nil
}

// MarkerValue returns the first value of the marker with key, or "".
func MarkerValue(ms []*models.RoleFilterMatchLabel, key string) string {
	for _, m := range ms {
		if m != nil && deref(m.Key) == key && len(m.Values) > 0 {
			return m.Values[0]
		}
	}
	return ""
}

// RefUUID extracts the UUID from a controller reference
// ("https://host/api/network/network-1234#name" → "network-1234"); a bare UUID is returned as is.
func RefUUID(ref string) string {
	ref, _, _ = strings.Cut(ref, "#")
	ref, _, _ = strings.Cut(ref, "?")
	ref = strings.TrimSuffix(ref, "/")
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

// RefName extracts the name from a reference: the "#name" suffix the controller
// adds with include_name, or "?name=" of a by-name reference; "" when absent.
func RefName(ref string) string {
	if _, n, ok := strings.Cut(ref, "#"); ok {
		return n
	}
	if _, q, ok := strings.Cut(ref, "?"); ok {
		if v, err := url.ParseQuery(q); err == nil {
			return v.Get("name")
		}
	}
	return ""
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
