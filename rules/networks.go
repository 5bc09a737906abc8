package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

// VIPNetworkRef is one VIP network as users write it, in either of its two
// homes: an AviInfraSetting's spec.network.vipNetworks[] or the global
// NetworkSettings.vipNetworkList. One type lets one function check both.
type VIPNetworkRef struct {
	// Name or UUID of the controller network (exactly one is set).
	Name   string
	UUID   string
	CIDR   string
	V6CIDR string
}

// label is how a message names the network: its name, else its UUID.
func (r VIPNetworkRef) label() string {
	if r.Name != "" {
		return r.Name
	}
	return r.UUID
}

// VIPNetworksFromInfraSetting converts an AviInfraSetting's vipNetworks.
func VIPNetworksFromInfraSetting(ais *v1beta1.AviInfraSetting) []VIPNetworkRef {
	if ais == nil {
		return nil
	}
	out := make([]VIPNetworkRef, 0, len(ais.Spec.Network.VipNetworks))
	for _, n := range ais.Spec.Network.VipNetworks {
		out = append(out, VIPNetworkRef{Name: n.NetworkName, UUID: n.NetworkUUID, CIDR: n.Cidr, V6CIDR: n.V6Cidr})
	}
	return out
}

// VIPNetworksFromSettings converts NetworkSettings.vipNetworkList.
func VIPNetworksFromSettings(s *config.Settings) []VIPNetworkRef {
	if s == nil {
		return nil
	}
	out := make([]VIPNetworkRef, 0, len(s.NetworkSettings.VIPNetworkList))
	for _, n := range s.NetworkSettings.VIPNetworkList {
		out = append(out, VIPNetworkRef{Name: n.NetworkName, UUID: n.NetworkUUID, CIDR: n.CIDR, V6CIDR: n.V6CIDR})
	}
	return out
}

// EffectiveVIPNetworks returns the VIP networks that apply to an object and
// where they come from (for messages): the AviInfraSetting's vipNetworks when
// it names any, else NetworkSettings.vipNetworkList. This is AKO's precedence;
// an AviInfraSetting without networks only changes the SE group.
func EffectiveVIPNetworks(ais *v1beta1.AviInfraSetting, s *config.Settings) (nets []VIPNetworkRef, origin string) {
	if ais != nil && len(ais.Spec.Network.VipNetworks) > 0 {
		return VIPNetworksFromInfraSetting(ais), fmt.Sprintf("AviInfraSetting %q", ais.Name)
	}
	return VIPNetworksFromSettings(s), "NetworkSettings.vipNetworkList"
}

// ValidateNetworkSettings checks the global VIP networks and SE group from the
// settings file with the same rules as an AviInfraSetting, naming the Helm keys.
// It runs at start-up and whenever the inventory refreshes.
func ValidateNetworkSettings(env Env) Result {
	s := env.settings()
	var res Result
	res.Merge(ValidateVIPNetworks(field.NewPath("NetworkSettings", "vipNetworkList"), VIPNetworksFromSettings(s), env))
	res.Merge(ValidateSEGroup(field.NewPath("ControllerSettings", "serviceEngineGroupName"), s.ControllerSettings.ServiceEngineGroupName, env))
	return res
}

// ValidateVIPNetworks checks a list of VIP networks ("multi-VIP"), shared by
// AviInfraSetting and the global vipNetworkList. Static checks (one of name or
// UUID, CIDR syntax, duplicates, v6cidr only with IPv6) always run; the
// controller-dependent ones (network exists, cidr is a configured subnet, a
// static VIP range with a free address, multi-VIP cloud, one network per
// zone) run only on a live inventory, else one warning says they were skipped.
//
// It returns a Result rather than a bare ErrorList so that the skip warning
// reaches the caller of the global list too.
func ValidateVIPNetworks(path *field.Path, nets []VIPNetworkRef, env Env) Result {
	var res Result
	s := env.settings()
	v6 := s.AKOSettings.IPFamily == "V6"

	// Static checks.
	for i, n := range nets {
		p := path.Index(i)
		switch {
		case n.Name == "" && n.UUID == "":
			res.Errors = append(res.Errors, field.Required(p.Child("networkName"), "set networkName (or networkUUID) to a VIP network of the cloud"))
		case n.Name != "" && n.UUID != "":
			res.Errors = append(res.Errors, field.Invalid(p.Child("networkUUID"), n.UUID, "set either networkName or networkUUID, not both"))
		}
		if n.CIDR != "" {
			if pfx, err := netip.ParsePrefix(n.CIDR); err != nil || !pfx.Addr().Is4() {
				res.Errors = append(res.Errors, field.Invalid(p.Child("cidr"), n.CIDR, "must be an IPv4 CIDR such as 10.50.0.0/24"))
			}
		}
		if n.V6CIDR != "" {
			if pfx, err := netip.ParsePrefix(n.V6CIDR); err != nil || !pfx.Addr().Is6() || pfx.Addr().Is4In6() {
				res.Errors = append(res.Errors, field.Invalid(p.Child("v6cidr"), n.V6CIDR, "must be an IPv6 CIDR such as 2001:db8::/64"))
			} else if !v6 {
				res.Errors = append(res.Errors, field.Invalid(p.Child("v6cidr"), n.V6CIDR,
					fmt.Sprintf("IPv6 VIPs need AKOSettings.ipFamily V6 (it is %s); remove v6cidr or enable IPv6", familySetting(s))))
			}
		}
		for j := range i {
			if (n.Name != "" && nets[j].Name == n.Name) || (n.UUID != "" && nets[j].UUID == n.UUID) {
				res.Errors = append(res.Errors, field.Invalid(p, n.label(),
					fmt.Sprintf("names the same network as %s; list each network once", path.Index(j))))
				break
			}
		}
	}

	inv, skip := env.liveInventory()
	if len(nets) == 0 {
		return res
	}
	if inv == nil {
		res.Warn(skip)
		return res
	}

	// Controller-dependent checks.
	resolved := make([]*inventory.Network, len(nets))
	for i, n := range nets {
		p := path.Index(i)
		net := resolveNetwork(inv, n)
		if net == nil {
			if n.Name == "" && n.UUID == "" {
				continue
			}
			what, fp := "name", p.Child("networkName")
			if n.Name == "" {
				what, fp = "UUID", p.Child("networkUUID")
			}
			res.Errors = append(res.Errors, field.Invalid(fp, n.label(),
				fmt.Sprintf("no network with this %s in cloud %q; known VIP networks: %s", what, inv.Cloud.Name, knownNetworks(inv))))
			continue
		}
		dup := false
		for j := range i {
			if resolved[j] == net {
				dup = true
			}
		}
		if !dup {
			resolved[i] = net // duplicates stay nil: one error per entry is enough
		} else {
			// Reported above when spelled the same way; here only when one entry
			// uses the name and another the UUID of the same network.
			if !staticDuplicate(nets, i) {
				res.Errors = append(res.Errors, field.Invalid(p, n.label(),
					fmt.Sprintf("is network %s (%s), already listed; list each network once", net.Name, net.UUID)))
			}
			continue
		}
		if inv.Cloud.ProviderIPAM() {
			res.Merge(checkProviderSubnets(p, n, net, v6, inv.Cloud))
			continue
		}
		res.Errors = append(res.Errors, checkNetworkSubnets(p, n, net, v6, len(nets) > 1)...)
	}

	multi := inv.Cloud.MultiVIP()
	first := true
	for i, n := range nets {
		if resolved[i] == nil {
			continue
		}
		if first {
			first = false // the first known network is always fine
			continue
		}
		if !multi {
			res.Errors = append(res.Errors, field.Invalid(path.Index(i), n.label(),
				fmt.Sprintf("cloud %q is of type %s, which places one VIP per virtual service; list a single VIP network (several are supported only on %s clouds)",
					inv.Cloud.Name, inv.Cloud.Type, inventory.CloudAWS)))
			continue
		}
		for j := range i {
			if resolved[j] == nil || resolved[i].AvailabilityZone == "" {
				continue
			}
			if resolved[j].AvailabilityZone == resolved[i].AvailabilityZone {
				res.Errors = append(res.Errors, field.Invalid(path.Index(i), n.label(),
					fmt.Sprintf("is in availability zone %s, like %s (%s); use one VIP network per availability zone",
						resolved[i].AvailabilityZone, path.Index(j), resolved[j].Name)))
				break
			}
		}
	}
	return res
}

// staticDuplicate reports whether nets[i] repeats an earlier entry verbatim.
func staticDuplicate(nets []VIPNetworkRef, i int) bool {
	n := nets[i]
	for j := range i {
		if (n.Name != "" && nets[j].Name == n.Name) || (n.UUID != "" && nets[j].UUID == n.UUID) {
			return true
		}
	}
	return false
}

// checkNetworkSubnets checks that the subnets an entry will allocate from are
// configured on the network, have a static VIP range, and have a free address:
// without one, the controller fails every allocation (and with several VIP
// networks, one exhausted subnet fails them all).
func checkNetworkSubnets(p *field.Path, n VIPNetworkRef, net *inventory.Network, v6, multi bool) field.ErrorList {
	var errs field.ErrorList
	named := namedCIDRs(n, v6)
	for _, c := range named {
		sub := net.Subnet(c.pfx)
		if sub == nil {
			errs = append(errs, field.Invalid(p.Child(c.key), c.value,
				fmt.Sprintf("not a configured subnet of network %s; configured: %s", net.Name, configuredSubnets(net, c.is6))))
			continue
		}
		if msg := subnetProblem(net, sub, multi); msg != "" {
			errs = append(errs, field.Invalid(p.Child(c.key), c.value, msg))
		}
	}
	if len(named) > 0 {
		return errs
	}
	// No subnet named: the controller picks one with a static VIP range and a
	// free address, so the entry is fine when any IPv4 subnet qualifies.
	var withRange []*inventory.Subnet
	for i := range net.Subnets {
		if sub := &net.Subnets[i]; sub.Prefix.Addr().Is4() && len(sub.VIPRanges) > 0 {
			if sub.Free > 0 {
				return nil
			}
			withRange = append(withRange, sub)
		}
	}
	fp := p.Child("networkName")
	if n.Name == "" {
		fp = p.Child("networkUUID")
	}
	switch len(withRange) {
	case 0:
		return field.ErrorList{field.Invalid(fp, n.label(),
			fmt.Sprintf("network %s has no IPv4 subnet with a static VIP range; add a static range for VIPs on the controller, or pick another network", net.Name))}
	case 1:
		return field.ErrorList{field.Invalid(fp, n.label(), subnetProblem(net, withRange[0], multi))}
	}
	parts := make([]string, 0, len(withRange))
	for _, sub := range withRange {
		parts = append(parts, fmt.Sprintf("%s in %s", rangesString(sub.VIPRanges), sub.Prefix))
	}
	return field.ErrorList{field.Invalid(fp, n.label(),
		fmt.Sprintf("every static VIP range of network %s is exhausted (%s); free addresses on the controller, widen a range, or pick another network",
			net.Name, strings.Join(parts, "; ")))}
}

// checkProviderSubnets checks an entry on a cloud whose VIP addresses come
// from the provider's (or Infoblox's) IPAM: there are no static ranges to
// find and no free count to trust, so only a named cidr is checked, against
// the network's configured subnets. A network that lists none gets a
// warning: its subnets live with the provider, which judges at allocation.
func checkProviderSubnets(p *field.Path, n VIPNetworkRef, net *inventory.Network, v6 bool, cloud inventory.Cloud) Result {
	var res Result
	for _, c := range namedCIDRs(n, v6) {
		if configuredSubnets(net, c.is6) == "none" {
			res.Warn(fmt.Sprintf("%s %q could not be checked: network %s lists no IPv%s subnet on the controller; cloud %q allocates VIPs through %s, which checks it when it allocates",
				p.Child(c.key), c.value, net.Name, family(c.is6), cloud.Name, cloud.IPAMName()))
			continue
		}
		if net.Subnet(c.pfx) == nil {
			res.Errors = append(res.Errors, field.Invalid(p.Child(c.key), c.value,
				fmt.Sprintf("not a configured subnet of network %s; configured: %s", net.Name, configuredSubnets(net, c.is6))))
		}
	}
	return res
}

// namedCIDR is a cidr or v6cidr an entry names, parsed.
type namedCIDR struct {
	key, value string
	is6        bool
	pfx        netip.Prefix
}

// namedCIDRs are the entry's well-formed cidr and v6cidr (v6cidr only under
// IPv6); malformed ones are the static checks' to report.
func namedCIDRs(n VIPNetworkRef, v6 bool) []namedCIDR {
	var out []namedCIDR
	for _, c := range []namedCIDR{{key: "cidr", value: n.CIDR}, {key: "v6cidr", value: n.V6CIDR, is6: true}} {
		if c.value == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(c.value)
		if err != nil || pfx.Addr().Is6() != c.is6 || (c.is6 && !v6) {
			continue
		}
		c.pfx = pfx
		out = append(out, c)
	}
	return out
}

func family(is6 bool) string {
	if is6 {
		return "6"
	}
	return "4"
}

// subnetProblem says why sub cannot give out a VIP, or "" when it can.
func subnetProblem(net *inventory.Network, sub *inventory.Subnet, multi bool) string {
	if len(sub.VIPRanges) == 0 {
		return fmt.Sprintf("subnet %s of network %s has no static VIP range; add a static range for VIPs to it on the controller, or pick another subnet", sub.Prefix, net.Name)
	}
	if sub.Free > 0 {
		return ""
	}
	noun, verb := "range", "is"
	if len(sub.VIPRanges) > 1 {
		noun, verb = "ranges", "are"
	}
	msg := fmt.Sprintf("static VIP %s %s of network %s (%s) %s exhausted; free addresses on the controller, widen the range, or pick another subnet",
		noun, rangesString(sub.VIPRanges), net.Name, sub.Prefix, verb)
	if multi {
		msg += " (with several VIP networks every VIP needs a free address in each)"
	}
	return msg
}

// ValidateSEGroup checks that the SE group exists in the cloud and is not
// labelled for another cluster (AKO's clustername label marks ownership, and
// two clusters writing one SE group's routes break each other).
func ValidateSEGroup(path *field.Path, name string, env Env) Result {
	var res Result
	if name == "" {
		return res
	}
	inv, skip := env.liveInventory()
	if inv == nil {
		res.Warn(skip)
		return res
	}
	seg, ok := inv.SEGroups[name]
	if !ok {
		known := make([]string, 0, len(inv.SEGroups))
		for k := range inv.SEGroups {
			known = append(known, k)
		}
		slices.Sort(known)
		res.Errors = append(res.Errors, field.Invalid(path, name,
			fmt.Sprintf("no such SE group in cloud %q; known SE groups: %s", inv.Cloud.Name, listNames(known))))
		return res
	}
	cluster := env.settings().AKOSettings.ClusterName
	if owner, ok := seg.Labels[SEGroupClusterLabel]; ok && owner != cluster {
		res.Errors = append(res.Errors, field.Invalid(path, name,
			fmt.Sprintf("SE group is labelled %s=%s, so it belongs to another cluster; use an SE group labelled %s=%s or one without that label",
				SEGroupClusterLabel, owner, SEGroupClusterLabel, cluster)))
	}
	return res
}

// resolveNetwork finds the inventory network an entry names.
func resolveNetwork(inv *inventory.Snapshot, n VIPNetworkRef) *inventory.Network {
	if n.Name != "" {
		return inv.Network(n.Name)
	}
	if n.UUID != "" {
		return inv.NetworkByUUID(n.UUID)
	}
	return nil
}

func knownNetworks(inv *inventory.Snapshot) string {
	names := make([]string, 0, len(inv.Networks))
	for k := range inv.Networks {
		names = append(names, k)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "none"
	}
	return listNames(names)
}

func configuredSubnets(net *inventory.Network, is6 bool) string {
	var out []string
	for _, s := range net.Subnets {
		if s.Prefix.Addr().Is6() == is6 {
			out = append(out, s.Prefix.String())
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

func rangesString(rs []inventory.Range) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// familySetting renders AKOSettings.ipFamily with its default made explicit.
func familySetting(s *config.Settings) string {
	if s.AKOSettings.IPFamily == "" {
		return "V4"
	}
	return s.AKOSettings.IPFamily
}
