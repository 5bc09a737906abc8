package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
)

var (
	pathLoadBalancerIP = field.NewPath("spec", "loadBalancerIP")
	pathAnnotationIP   = annotationPath(AnnLoadBalancerIP)
)

// RequestedIP returns the VIP the Service asks for and the field it came
// from: spec.loadBalancerIP (deprecated upstream but still AKO's main knob),
// else the ako.vmware.com/load-balancer-ip annotation. ("", nil) when neither.
func RequestedIP(svc *corev1.Service) (string, *field.Path) {
	if svc.Spec.LoadBalancerIP != "" {
		return svc.Spec.LoadBalancerIP, pathLoadBalancerIP
	}
	if v := svc.Annotations[AnnLoadBalancerIP]; v != "" {
		return v, pathAnnotationIP
	}
	return "", nil
}

// CanonicalIP returns the canonical text of an IP address (lower-case,
// shortest IPv6 form), so the mutating webhook can store one spelling and the
// by-VIP index matches "2001:DB8::1" with "2001:db8::1". ok is false when s is
// not an address; callers then leave it for validation to reject.
func CanonicalIP(s string) (canonical string, ok bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s, false
	}
	return a.String(), true
}

// InfraSettingName is the AviInfraSetting that applies to svc: the
// aviinfrasetting.ako.vmware.com/name annotation on the Service, else on its
// Namespace (ns may be nil), else "".
func InfraSettingName(svc *corev1.Service, ns *corev1.Namespace) string {
	if v := svc.Annotations[AnnInfraSetting]; v != "" {
		return v
	}
	if ns != nil {
		return ns.Annotations[AnnInfraSetting]
	}
	return ""
}

// VsVipName is the VsVip vipgate creates for a Service (AKO's naming,
// <cluster>--<namespace>-<name>); for a shared VIP pass the shared-VIP key as name.
func VsVipName(cluster, namespace, name string) string {
	return cluster + "--" + namespace + "-" + name
}

// PoolBaseName is the stem of a Service's port pools,
// "<cluster>--<ns>-<svc>", or "<cluster>--<ns>-<svc>-<key>" for a member of
// a shared-VIP group (AKO's naming); the pools append "-<PROTO>-<port>".
func PoolBaseName(cluster, namespace, name, sharedKey string) string {
	base := VsVipName(cluster, namespace, name)
	if sharedKey != "" {
		base += "-" + sharedKey
	}
	return base
}

// Claim is an Avi object name an object will hold, and the owner identity
// (see ownership.ServiceOwner) that will hold it.
type Claim struct {
	Name, Owner string
}

// ServiceClaims lists the Avi names a Service vipgate owns will hold: its
// virtual service and VsVip (its shared-VIP group's, for a member) and the
// stem of its port pools. Plain concatenation can give two owners one name
// ("team/a-web" and "team-a/web" are both "<c>--team-a-web"): such a
// collision is refused, never resolved by overwriting.
func ServiceClaims(cluster string, svc *corev1.Service) []Claim {
	owner := ownership.OwnerOfService(svc)
	key := svc.Annotations[AnnSharedVIP]
	name := svc.Name
	if key != "" {
		name = key
	}
	claims := []Claim{{VsVipName(cluster, svc.Namespace, name), owner}}
	if pools := PoolBaseName(cluster, svc.Namespace, svc.Name, key); pools != claims[0].Name {
		claims = append(claims, Claim{pools, owner})
	}
	return claims
}

// ValidateService checks a Service vipgate owns (others pass untouched). old is
// nil on create; the reconciler also passes nil to re-check everything.
//
// On update the address and AviInfraSetting checks run only when the address
// or the selected setting changed (ratcheting, as Kubernetes' own validation
// does), so a later controller change never blocks an unrelated edit such as
// a label; the reconciler still reports it.
func ValidateService(svc, old *corev1.Service, env Env) Result {
	var res Result
	s := env.settings()
	if !ownership.OwnsService(svc, s) {
		return res
	}
	oldOwned := old != nil && ownership.OwnsService(old, s)

	// spec field and annotation agree.
	specIP, annIP := svc.Spec.LoadBalancerIP, svc.Annotations[AnnLoadBalancerIP]
	if specIP != "" && annIP != "" && !sameIP(specIP, annIP) {
		res.Errors = append(res.Errors, field.Invalid(pathAnnotationIP, annIP,
			fmt.Sprintf("does not match spec.loadBalancerIP %q; set only one of them, or both to the same address", specIP)))
	}

	ip, ipPath := RequestedIP(svc)
	ipChanged := true
	if oldOwned {
		oldIP, oldPath := RequestedIP(old)
		ipChanged = !sameIP(oldIP, ip)
		if ipChanged {
			p := ipPath
			if p == nil {
				p = oldPath
			}
			was := "unset"
			if oldIP != "" {
				was = strconv.Quote(oldIP)
			}
			res.Errors = append(res.Errors, field.Invalid(p, ip,
				fmt.Sprintf("the requested VIP cannot change after the Service is created (it was %s); delete and recreate the Service to move it to another address", was)))
			ipChanged = false // the change is refused; checking the new address adds noise
		}
	}

	// Which AviInfraSetting applies, and does it exist and accept?
	ns, nsKnown := namespaceOf(&res, svc, env)
	ais, aisKnown := infraSettingOf(&res, svc, old, oldOwned, ns, nsKnown, env)

	// The Avi names it will hold are free (on create, or when the group changes).
	key := svc.Annotations[AnnSharedVIP]
	if !oldOwned || old.Annotations[AnnSharedVIP] != key {
		checkServiceClaims(&res, svc, ns, env)
	}

	if ip != "" && ipChanged {
		own := []string{VsVipName(s.AKOSettings.ClusterName, svc.Namespace, svc.Name)}
		if key != "" {
			own = append(own, VsVipName(s.AKOSettings.ClusterName, svc.Namespace, key))
		}
		checkRequestedVIP(&res, vipClaim{path: ipPath, ip: ip, families: svc.Spec.IPFamilies, svc: svc, sharedKey: key,
			ownVsVips: own, infra: ais, infraKnown: aisKnown}, env)
	}

	if key != "" {
		checkSharedVIP(&res, svc, key, ip, ipPath, env)
	}
	if !oldOwned || L4RuleKey(old) != L4RuleKey(svc) {
		res.Merge(ValidateServiceL4Rule(svc, env))
	}
	return res
}

// namespaceOf reads the Service's Namespace (AviInfraSetting and tenant
// annotations); known is false when the read failed (a warning says so).
func namespaceOf(res *Result, svc *corev1.Service, env Env) (ns *corev1.Namespace, known bool) {
	ns, err := env.lookups().Namespace(env.ctx(), svc.Namespace)
	if err != nil {
		res.Warn(couldNotCheck(fmt.Sprintf("Namespace %s (its AviInfraSetting and tenant annotations)", svc.Namespace), err))
		return nil, false
	}
	return ns, true
}

// infraSettingOf finds the AviInfraSetting that applies to svc and, on create
// or when the selection changed, checks that it exists and accepts. known is
// false when a lookup failed: placement checks then cannot tell which
// networks apply and are skipped with the warning already added.
func infraSettingOf(res *Result, svc, old *corev1.Service, oldOwned bool, ns *corev1.Namespace, nsKnown bool, env Env) (ais *v1beta1.AviInfraSetting, known bool) {
	if !nsKnown && svc.Annotations[AnnInfraSetting] == "" {
		return nil, false
	}
	name := InfraSettingName(svc, ns)
	if name == "" {
		return nil, true
	}
	ais, err := env.lookups().AviInfraSetting(env.ctx(), name)
	if err != nil {
		res.Warn(couldNotCheck(fmt.Sprintf("AviInfraSetting %q", name), err))
		return nil, false
	}
	if !oldOwned || InfraSettingName(old, ns) != name {
		checkInfraSettingRef(res, svc, name, ais)
	}
	return ais, true
}

// vipClaim is a requested VIP and who asks for it: a Service
// (loadBalancerIP) or a Gateway (spec.addresses), so both get the same checks.
type vipClaim struct {
	path *field.Path
	ip   string
	// families are the requester's own IP families (a Service's
	// spec.ipFamilies); none for a Gateway.
	families []corev1.IPFamily
	// svc is the Service asking (never judged to hold its own VIP), nil for a Gateway.
	svc       *corev1.Service
	sharedKey string
	// ownVsVips are the VsVip names that are the requester's own: the
	// controller holding the VIP there is no conflict.
	ownVsVips []string
	// infra is the AviInfraSetting in effect; infraKnown is false when it
	// could not be read (placement is then skipped, with a warning already given).
	infra      *v1beta1.AviInfraSetting
	infraKnown bool
}

// checkRequestedVIP checks a requested VIP: a usable unicast address of an
// allowed family, not requested or held by another Service of ours, inside
// a static VIP range of the networks that apply, and not allocated on the
// controller to a VsVip other than the requester's own.
func checkRequestedVIP(res *Result, c vipClaim, env Env) {
	s := env.settings()
	addr, msg := parseVIP(c.ip)
	if msg != "" {
		res.Errors = append(res.Errors, field.Invalid(c.path, c.ip, msg))
		return
	}
	if errs := checkFamily(c.path, c.ip, addr, c.families, s); len(errs) > 0 {
		res.Errors = append(res.Errors, errs...)
		return
	}
	heldBySvc := checkHeldByServices(res, c.path, c.ip, addr, c.svc, c.sharedKey, env)
	inv, skip := env.liveInventory()
	if inv == nil {
		res.Warn(skip)
		return
	}
	if !c.infraKnown {
		return
	}
	nets, origin := EffectiveVIPNetworks(c.infra, s)
	if e, warn := checkPlacement(c.path, c.ip, addr, nets, origin, inv); e != nil {
		res.Errors = append(res.Errors, e)
	} else if warn != "" {
		res.Warn(warn)
	}
	if e := checkHeldOnController(c.path, c.ip, addr, c.ownVsVips, s, inv, heldBySvc); e != nil {
		res.Errors = append(res.Errors, e)
	}
}

// parseVIP parses a requested VIP and says what is wrong with it, if anything.
func parseVIP(ip string) (netip.Addr, string) {
	addr, err := netip.ParseAddr(ip)
	switch {
	case err != nil:
		return addr, "must be a valid IP address, such as 10.50.0.20"
	case addr.Zone() != "":
		return addr, fmt.Sprintf("must not carry an IPv6 zone; use %q", addr.WithZone("").String())
	case addr.Is4In6():
		return addr, fmt.Sprintf("must be a plain IPv4 address, not IPv4-mapped IPv6; use %q", addr.Unmap().String())
	case !addr.IsGlobalUnicast():
		return addr, "is not a unicast address usable as a VIP (unspecified, loopback, link-local, multicast and broadcast addresses are not)"
	}
	return addr, ""
}

// checkFamily checks the address family against AKOSettings.ipFamily (V4 allows
// IPv4 only; V6 enables IPv6 VIPs) and the requester's own families (a
// Service's spec.ipFamilies).
func checkFamily(p *field.Path, ip string, addr netip.Addr, families []corev1.IPFamily, s *config.Settings) field.ErrorList {
	fam, other := corev1.IPv4Protocol, corev1.IPv6Protocol
	if addr.Is6() {
		fam, other = corev1.IPv6Protocol, corev1.IPv4Protocol
	}
	if addr.Is6() && s.AKOSettings.IPFamily != "V6" {
		return field.ErrorList{field.Invalid(p, ip,
			fmt.Sprintf("is an IPv6 address, but AKOSettings.ipFamily is %s; use an IPv4 address, or set AKOSettings.ipFamily to V6", familySetting(s)))}
	}
	if len(families) > 0 && !slices.Contains(families, fam) {
		fams := make([]string, len(families))
		for i, f := range families {
			fams[i] = string(f)
		}
		return field.ErrorList{field.Invalid(p, ip,
			fmt.Sprintf("is an %s address, but spec.ipFamilies is [%s]; use an %s address, or add %s to spec.ipFamilies",
				fam, strings.Join(fams, ", "), other, fam))}
	}
	return nil
}

// checkHeldByServices rejects an address another Service of ours requests or
// holds, except Services sharing the VIP on purpose (same namespace, same key).
// It reports whether it found such a Service, so the controller check does not
// say the same thing twice.
func checkHeldByServices(res *Result, p *field.Path, ip string, addr netip.Addr, svc *corev1.Service, key string, env Env) bool {
	others, err := env.lookups().ServicesByVIP(env.ctx(), addr.String())
	if err != nil {
		res.Warn(couldNotCheck(fmt.Sprintf("whether another Service requests or holds %s", ip), err))
		return false
	}
	var holders []string
	for _, o := range others {
		if svc != nil && o.Namespace == svc.Namespace && o.Name == svc.Name {
			continue
		}
		if !servedOrWarn(res, o, "requests or holds "+ip, env) {
			continue
		}
		if svc != nil && key != "" && o.Namespace == svc.Namespace && o.Annotations[AnnSharedVIP] == key {
			continue
		}
		holders = append(holders, o.Namespace+"/"+o.Name)
	}
	if len(holders) == 0 {
		return false
	}
	slices.Sort(holders)
	noun := "Service"
	if len(holders) > 1 {
		noun = "Services"
	}
	res.Errors = append(res.Errors, field.Invalid(p, ip,
		fmt.Sprintf("is already requested or held by %s %s; a VIP belongs to one Service unless Services in the same namespace share it with the same %s key",
			noun, listNames(holders), AnnSharedVIP)))
	return true
}

// servedService reports whether vipgate serves o now: it owns o and o's
// namespace is selected. Another Service's name or VIP counts against a
// Service only then: one in a namespace vipgate does not select holds
// nothing on the controller, and it is the one refused if its namespace is
// selected later. err: o's Namespace could not be read.
func servedService(o *corev1.Service, env Env) (bool, error) {
	if !ownership.OwnsService(o, env.settings()) {
		return false, nil
	}
	return namespaceServed(o.Namespace, env)
}

// namespaceServed reports whether vipgate serves objects of namespace (the
// namespaceSelector and blocked list); err: the Namespace could not be read.
func namespaceServed(namespace string, env Env) (bool, error) {
	s := env.settings()
	if !ownership.SelectsNamespaces(s) {
		return true, nil
	}
	ns, err := env.lookups().Namespace(env.ctx(), namespace)
	if err != nil {
		return false, err
	}
	return ownership.NamespaceSelected(ns, s), nil
}

// servedOrWarn is servedService for a check that goes on without o when
// its Namespace cannot be read, saying so in a warning.
func servedOrWarn(res *Result, o *corev1.Service, what string, env Env) bool {
	served, err := servedService(o, env)
	if err != nil {
		res.Warn(couldNotCheck(fmt.Sprintf("whether Service %s/%s, which %s, is served (its Namespace)", o.Namespace, o.Name, what), err))
	}
	return served
}

// checkPlacement requires the address to lie in a VIP subnet of the networks
// that apply, inside its static VIP range (the controller's IPAM allocates
// only from there), and not to be the subnet's network or broadcast address.
// On a cloud whose provider allocates (inventory.Cloud.ProviderIPAM) there
// is no range: the address must lie in one of the subnets and not be one
// the provider reserves; when no subnet is known it is admitted with the
// warning returned.
func checkPlacement(p *field.Path, ip string, addr netip.Addr, nets []VIPNetworkRef, origin string, inv *inventory.Snapshot) (*field.Error, string) {
	type candidate struct {
		net *inventory.Network
		sub *inventory.Subnet
	}
	var cands []candidate
	if len(nets) == 0 {
		// Nothing configured: the cloud's IPAM profile decides.
		origin = fmt.Sprintf("the IPAM profile of cloud %q", inv.Cloud.Name)
		for _, name := range inv.Cloud.IPAMNetworks {
			nets = append(nets, VIPNetworkRef{Name: name})
		}
	}
	for _, ref := range nets {
		net := resolveNetwork(inv, ref)
		if net == nil {
			continue // an AviInfraSetting/settings problem, reported there
		}
		var want []netip.Prefix
		for _, c := range []string{ref.CIDR, ref.V6CIDR} {
			if pfx, err := netip.ParsePrefix(c); err == nil {
				want = append(want, pfx.Masked())
			}
		}
		for i := range net.Subnets {
			sub := &net.Subnets[i]
			if len(want) == 0 || slices.Contains(want, sub.Prefix.Masked()) {
				cands = append(cands, candidate{net, sub})
			}
		}
	}
	provider := inv.Cloud.ProviderIPAM()
	if len(cands) == 0 {
		if provider {
			return nil, fmt.Sprintf("%s %q could not be checked: no subnet of the VIP networks of %s is known on the controller; cloud %q allocates VIPs through %s, which checks it when it allocates",
				p, ip, origin, inv.Cloud.Name, inv.Cloud.IPAMName())
		}
		return nil, "" // nothing known to compare against; the reconciler reports the setting
	}
	for _, c := range cands {
		pfx := c.sub.Prefix.Masked()
		if !pfx.Contains(addr) {
			continue
		}
		if provider {
			return providerReserved(p, ip, addr, pfx, c.net.Name, inv.Cloud), ""
		}
		rng := describeRanges(c.sub)
		if addr == pfx.Addr() && pfx.Bits() < addr.BitLen()-1 {
			return field.Invalid(p, ip, fmt.Sprintf("is the network address of subnet %s (%s); pick an address in %s", pfx, c.net.Name, rng)), ""
		}
		if addr.Is4() && pfx.Bits() < 31 && addr == lastAddr(pfx) {
			return field.Invalid(p, ip, fmt.Sprintf("is the broadcast address of subnet %s (%s); pick an address in %s", pfx, c.net.Name, rng)), ""
		}
		for _, r := range c.sub.VIPRanges {
			if r.Contains(addr) {
				return nil, ""
			}
		}
		if len(c.sub.VIPRanges) == 0 {
			return field.Invalid(p, ip, fmt.Sprintf("is inside subnet %s of %s, which has no static VIP range; the controller allocates VIPs only from static VIP ranges", pfx, c.net.Name)), ""
		}
		return field.Invalid(p, ip, fmt.Sprintf("is inside subnet %s of %s but outside its %s; the controller allocates VIPs only from that range", pfx, c.net.Name, rng)), ""
	}
	parts := make([]string, len(cands))
	for i, c := range cands {
		if provider {
			parts[i] = fmt.Sprintf("%s %s", c.net.Name, c.sub.Prefix)
		} else {
			parts[i] = fmt.Sprintf("%s %s, %s", c.net.Name, c.sub.Prefix, describeRanges(c.sub))
		}
	}
	if provider {
		return field.Invalid(p, ip, fmt.Sprintf("not inside any VIP network of %s (%s); pick an address in one of these subnets, or leave it unset to get one allocated",
			origin, strings.Join(parts, "; "))), ""
	}
	return field.Invalid(p, ip, fmt.Sprintf("not inside any VIP network of %s (%s); pick an address in a static VIP range, or leave it unset to get one allocated",
		origin, strings.Join(parts, "; "))), ""
}

// providerReserved rejects an address the IPAM keeps for itself in pfx: the
// provider's reserved addresses (AWS and Azure the first four and the last,
// Google Cloud the first two and the last two), else the network and
// broadcast addresses.
func providerReserved(p *field.Path, ip string, addr netip.Addr, pfx netip.Prefix, net string, cloud inventory.Cloud) *field.Error {
	who, low, high := cloud.Reserver()
	first, last := pfx.Addr(), lastAddr(pfx)
	if pfx.Bits() >= addr.BitLen()-1 {
		return nil // /31 and /32 (/127, /128) have no reserved addresses
	}
	reserved := false
	a, z := first, last
	for range low {
		reserved = reserved || addr == a
		a = a.Next()
	}
	for range high {
		reserved = reserved || addr == z
		z = z.Prev()
	}
	if !reserved {
		return nil
	}
	switch who {
	case "":
		if addr == first {
			return field.Invalid(p, ip, fmt.Sprintf("is the network address of subnet %s (%s); pick another address in it", pfx, net))
		}
		return field.Invalid(p, ip, fmt.Sprintf("is the broadcast address of subnet %s (%s); pick another address in it", pfx, net))
	}
	return field.Invalid(p, ip, fmt.Sprintf("is reserved by %s in subnet %s (%s), which keeps the first %s and the last %s of every subnet; pick another address in it",
		who, pfx, net, addresses(low), addresses(high)))
}

// addresses spells a small count of addresses for messages.
func addresses(n int) string {
	switch n {
	case 1:
		return "address"
	case 2:
		return "two addresses"
	case 4:
		return "four addresses"
	}
	return fmt.Sprintf("%d addresses", n)
}

func describeRanges(sub *inventory.Subnet) string {
	switch len(sub.VIPRanges) {
	case 0:
		return "no static VIP range"
	case 1:
		return "static VIP range " + sub.VIPRanges[0].String()
	}
	return "static VIP ranges " + rangesString(sub.VIPRanges)
}

// lastAddr is the highest address of pfx (the IPv4 broadcast address).
func lastAddr(pfx netip.Prefix) netip.Addr {
	b := pfx.Masked().Addr().AsSlice()
	for i := pfx.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// checkHeldOnController rejects an address the controller has already given
// to a VsVip other than the requester's own (a Service's, its shared-VIP
// group's, a Gateway's): a VsVip another cluster, another tool or a human
// created is never ours to take.
func checkHeldOnController(p *field.Path, ip string, addr netip.Addr, own []string, s *config.Settings, inv *inventory.Snapshot, heldBySvc bool) *field.Error {
	h, ok := inv.InUse[addr]
	if !ok {
		return nil
	}
	ours := s.CreatedBy()
	if h.CreatedBy == ours || adoptedFromAKO(h, s) {
		if slices.Contains(own, h.VsVip) {
			return nil
		}
		if heldBySvc {
			return nil // the Service holding it was already named
		}
		return field.Invalid(p, ip, fmt.Sprintf("is already allocated on the controller to VsVip %q of this cluster; pick another address, or wait until that VsVip is deleted", h.VsVip))
	}
	by := "no created_by), which this cluster does not manage"
	switch {
	case h.FromAKO(s.AKOSettings.ClusterName):
		by = akoNotAdopted + ")"
	case h.CreatedBy != "":
		by = fmt.Sprintf("created_by %q), which this cluster does not manage", h.CreatedBy)
	}
	return field.Invalid(p, ip, fmt.Sprintf("is already allocated on the controller to VsVip %q (%s; pick another address, or leave it unset to get one allocated", h.VsVip, by))
}

// checkInfraSettingRef requires the selected AviInfraSetting to exist and not
// be Rejected. One not yet processed only warns: Services and the setting are
// often applied together, and the reconciler waits for it.
func checkInfraSettingRef(res *Result, svc *corev1.Service, name string, ais *v1beta1.AviInfraSetting) {
	onService := svc.Annotations[AnnInfraSetting] != ""
	var p *field.Path
	var value, subject, fix string
	if onService {
		p, value, subject, fix = annotationPath(AnnInfraSetting), name, "no AviInfraSetting with this name exists", "create it first, or remove the annotation"
	} else {
		p, value = field.NewPath("metadata", "namespace"), svc.Namespace
		subject = fmt.Sprintf("the Namespace selects AviInfraSetting %q (annotation %s), which does not exist", name, AnnInfraSetting)
		fix = "create it first, or fix the Namespace annotation"
	}
	switch {
	case ais == nil:
		res.Errors = append(res.Errors, field.Invalid(p, value, subject+"; "+fix))
	case ais.Status.Status == v1beta1.StatusRejected:
		why := ""
		if ais.Status.Error != "" {
			why = ": " + ais.Status.Error
		}
		msg := fmt.Sprintf("AviInfraSetting %q is Rejected%s; fix it first, or select another one", name, why)
		if !onService {
			msg = fmt.Sprintf("the Namespace selects AviInfraSetting %q (annotation %s), which is Rejected%s; fix it first, or select another one", name, AnnInfraSetting, why)
		}
		res.Errors = append(res.Errors, field.Invalid(p, value, msg))
	case ais.Status.Status != v1beta1.StatusAccepted:
		res.Warn(fmt.Sprintf("AviInfraSetting %q has not been accepted yet; the Service gets its VIP once it is", name))
	}
}

// checkSharedVIP checks the members of a shared-VIP group (same namespace,
// same key): one virtual service serves them all, so they must ask for the
// same address and must not listen on the same port and protocol.
func checkSharedVIP(res *Result, svc *corev1.Service, key, ip string, ipPath *field.Path, env Env) {
	s := env.settings()
	group, err := env.lookups().ServicesBySharedVIPKey(env.ctx(), svc.Namespace, key)
	if err != nil {
		res.Warn(couldNotCheck(fmt.Sprintf("the other Services sharing VIP key %q", key), err))
		return
	}
	var members []*corev1.Service
	for _, m := range group {
		if m.Name == svc.Name || m.Namespace != svc.Namespace || !ownership.OwnsService(m, s) {
			continue
		}
		members = append(members, m)
	}
	slices.SortFunc(members, func(a, b *corev1.Service) int { return strings.Compare(a.Name, b.Name) })
	if ip != "" {
		for _, m := range members {
			if mip, _ := RequestedIP(m); mip != "" && !sameIP(mip, ip) {
				res.Errors = append(res.Errors, field.Invalid(ipPath, ip,
					fmt.Sprintf("differs from %q requested by Service %s/%s, which shares VIP key %q; Services sharing a VIP must request the same address, or only one of them requests it",
						mip, m.Namespace, m.Name, key)))
				break
			}
		}
	}
	for i, port := range svc.Spec.Ports {
	members:
		for _, m := range members {
			for _, mp := range m.Spec.Ports {
				if mp.Port == port.Port && protocol(mp) == protocol(port) {
					res.Errors = append(res.Errors, field.Invalid(field.NewPath("spec", "ports").Index(i).Child("port"), port.Port,
						fmt.Sprintf("collides with port %d/%s of Service %s/%s, which shares VIP key %q; Services sharing a VIP need distinct port/protocol pairs",
							mp.Port, protocol(mp), m.Namespace, m.Name, key)))
					break members
				}
			}
		}
	}
}

func protocol(p corev1.ServicePort) corev1.Protocol {
	if p.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return p.Protocol
}

// sameIP compares two requested addresses by value when both parse, so
// "2001:DB8::1" and "2001:db8::1" are the same request.
func sameIP(a, b string) bool {
	if a == b {
		return true
	}
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	return err1 == nil && err2 == nil && x == y
}
