package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

// ValidateHostRule checks a HostRule: its FQDN and aliases, that no other
// HostRule holds them, its TCP settings, its certificate Secrets (the same
// rules as Ingress TLS) and every controller object it names (existence in
// the L7 tenant or admin, usable kind, not one of vipgate's own). old is nil
// on create, and for the reconciler; on update, problems the previous
// version already had only warn (ratchet), so an edit that does not touch
// them is never blocked.
func ValidateHostRule(hr, old *v1beta1.HostRule, env Env) Result {
	res := validateHostRule(hr, env)
	if old != nil {
		ratchet(&res, validateHostRule(old, env))
	}
	return res
}

func validateHostRule(hr *v1beta1.HostRule, env Env) Result {
	var res Result
	vh := hr.Spec.VirtualHost
	p := field.NewPath("spec", "virtualhost")
	res.Errors = append(res.Errors, checkHostRuleFqdn(p, vh)...)
	checkAliases(&res, p, vh)
	checkHostRuleHolders(&res, p, hr, env)
	if vh.FqdnType == "" || vh.FqdnType == v1beta1.FqdnTypeExact {
		if ings := checkHostServed(&res, p.Child("fqdn"), vh.Fqdn, "", env); len(ings) > 0 && !servedOverTLS(ings, vh.Fqdn) {
			insecureHostWarning(&res, p, vh, env)
		}
	}
	if vh.TCPSettings != nil {
		checkTCPSettings(&res, p.Child("tcpSettings"), vh.TCPSettings, env)
	}
	if len(vh.ICAPProfile) > 1 {
		res.Errors = append(res.Errors, field.TooMany(p.Child("icapProfile"), len(vh.ICAPProfile), 1))
	}
	if t := vh.TLS; t != nil {
		tp := p.Child("tls", "sslKeyCertificate")
		if t.SSLKeyCertificate.Type == v1beta1.CertTypeSecret {
			checkRuleSecret(&res, tp.Child("name"), hr.Namespace, t.SSLKeyCertificate.Name, "HostRule", env)
		}
		if a := t.SSLKeyCertificate.AlternateCertificate; a != nil && a.Type == v1beta1.CertTypeSecret {
			checkRuleSecret(&res, tp.Child("alternateCertificate", "name"), hr.Namespace, a.Name, "HostRule", env)
		}
	}
	hostRuleNoEffect(&res, p, vh)
	checkRefs(&res, env.settings().ControllerSettings.TenantName, hostRuleRefs(p, vh), env)
	return res
}

// checkHostRuleFqdn checks the FQDN for its fqdnType: a DNS name (Exact), a
// "*." suffix pattern (Wildcard) or any text (Contains, matched against
// hosts and shard names).
func checkHostRuleFqdn(p *field.Path, vh v1beta1.HostRuleVirtualHost) field.ErrorList {
	fp := p.Child("fqdn")
	switch {
	case vh.Fqdn == "":
		return field.ErrorList{field.Required(fp, "name the host (or, with fqdnType Contains, part of the shard or host names) the rule applies to")}
	case vh.FqdnType == v1beta1.FqdnTypeWildcard:
		if !strings.HasPrefix(vh.Fqdn, "*.") {
			return field.ErrorList{field.Invalid(fp, vh.Fqdn, `a Wildcard fqdn starts with "*." (e.g. *.example.com) and matches the hosts ending with the rest; use fqdnType Exact for one host`)}
		}
		return checkHost(fp, vh.Fqdn)
	case vh.FqdnType == v1beta1.FqdnTypeContains:
		return nil
	}
	return checkHost(fp, vh.Fqdn)
}

// checkAliases applies AKO's alias rules: Exact FQDNs only, DNS names,
// unique, neither the FQDN nor the GSLB FQDN.
func checkAliases(res *Result, p *field.Path, vh v1beta1.HostRuleVirtualHost) {
	ap := p.Child("aliases")
	if len(vh.Aliases) > 0 && vh.FqdnType != "" && vh.FqdnType != v1beta1.FqdnTypeExact {
		res.Errors = append(res.Errors, field.Invalid(ap, vh.Aliases, fmt.Sprintf("aliases need fqdnType Exact (this rule's is %s), since they name hosts the FQDN's virtual service also answers; set fqdnType: Exact, or remove the aliases", vh.FqdnType)))
		return
	}
	seen := map[string]bool{}
	for i, a := range vh.Aliases {
		ip := ap.Index(i)
		switch {
		case a == vh.Fqdn:
			res.Errors = append(res.Errors, field.Invalid(ip, a, "is the rule's own fqdn; aliases name other hosts, so remove it"))
		case seen[a]:
			res.Errors = append(res.Errors, field.Duplicate(ip, a))
		case vh.GSLB != nil && a == vh.GSLB.Fqdn:
			res.Errors = append(res.Errors, field.Invalid(ip, a, "is the GSLB FQDN; AKO forbids it as an alias, so remove it (or use gslb.includeAliases)"))
		default:
			res.Errors = append(res.Errors, checkHost(ip, a)...)
		}
		seen[a] = true
	}
	if g := vh.GSLB; g != nil && g.Fqdn != "" && g.Fqdn == vh.Fqdn {
		res.Errors = append(res.Errors, field.Invalid(p.Child("gslb", "fqdn"), g.Fqdn, "is the same as spec.virtualhost.fqdn; a GSLB FQDN is the global name of the host, so it must differ"))
	}
}

// checkHostRuleHolders refuses an FQDN or alias that an older HostRule
// already holds, as its FQDN or one of its aliases: a host gets one HostRule.
// A rule being deleted holds nothing (the reconciler no longer applies it).
func checkHostRuleHolders(res *Result, p *field.Path, hr *v1beta1.HostRule, env Env) {
	vh := hr.Spec.VirtualHost
	check := func(fp *field.Path, host string) {
		if host == "" {
			return
		}
		others, err := env.lookups().HostRulesByHost(env.ctx(), host)
		if err != nil {
			res.Warn(fmt.Sprintf("%s: %s", fp, couldNotCheck("which HostRules hold "+host, err)))
			return
		}
		slices.SortFunc(others, func(a, b *v1beta1.HostRule) int {
			if olderRule(a, b) {
				return -1
			}
			return 1
		})
		for _, o := range others {
			if sameObject(o, hr) || !olderRule(o, hr) || o.DeletionTimestamp != nil {
				continue
			}
			as := "its fqdn"
			if o.Spec.VirtualHost.Fqdn != host {
				as = "an alias"
			}
			res.Errors = append(res.Errors, field.Invalid(fp, host, fmt.Sprintf("HostRule %s/%s already holds this host (as %s); a host takes one HostRule, so edit that one, or delete it first", o.Namespace, o.Name, as)))
			return
		}
	}
	check(p.Child("fqdn"), vh.Fqdn)
	for i, a := range vh.Aliases {
		if a != vh.Fqdn {
			check(p.Child("aliases").Index(i), a)
		}
	}
}

// checkHostServed warns when no Ingress of vipgate (in namespace, when not
// "") routes host yet: the rule is kept and applies once one does, which
// is how rules and Ingresses applied together arrive. It returns the
// Ingresses that serve it (nil when the lookup failed).
func checkHostServed(res *Result, p *field.Path, host, namespace string, env Env) []*networkingv1.Ingress {
	if host == "" {
		return nil
	}
	ings, err := env.lookups().IngressesByHost(env.ctx(), host)
	if err != nil {
		res.Warn(fmt.Sprintf("%s: %s", p, couldNotCheck("which Ingresses serve "+host, err)))
		return nil
	}
	var out []*networkingv1.Ingress
	for _, i := range ings {
		if namespace == "" || i.Namespace == namespace {
			out = append(out, i)
		}
	}
	if len(out) == 0 {
		where := ""
		if namespace != "" {
			where = " in namespace " + namespace
		}
		res.Warn(fmt.Sprintf("%s: no Ingress of vipgate%s serves host %s yet; the rule applies once one does", p, where, host))
	}
	return out
}

// servedOverTLS reports whether one of ings lists host under tls.
func servedOverTLS(ings []*networkingv1.Ingress, host string) bool {
	for _, i := range ings {
		for _, t := range i.Spec.TLS {
			if slices.Contains(t.Hosts, host) {
				return true
			}
		}
	}
	return false
}

// insecureHostWarning says what a HostRule does for a host its Ingresses
// serve without TLS: on a shared virtual service nothing (as with AKO, a
// HostRule applies to a secure host's SNI virtual service, a dedicated
// virtual service, or a shard it names), and vipgate does not turn a host
// secure from a HostRule's tls.
func insecureHostWarning(res *Result, p *field.Path, vh v1beta1.HostRuleVirtualHost, env Env) {
	if env.settings().L7Settings.ShardVSSize != "DEDICATED" {
		res.Warn(fmt.Sprintf("%s: host %s is served without TLS on a shared virtual service, where a HostRule has no effect; list it under the Ingress's tls (its SNI virtual service takes the rule), or name the shard (fqdnType: Contains) to change the shared virtual service",
			p.Child("fqdn"), vh.Fqdn))
		return
	}
	if vh.TLS != nil {
		res.Warn(fmt.Sprintf("%s: host %s is served without TLS; vipgate applies a HostRule's certificate to hosts an Ingress lists under tls, so list it there", p.Child("tls"), vh.Fqdn))
	}
}

// checkTCPSettings checks the parent virtual service's listeners (one with
// SSL, as AKO requires, and no port twice) and its requested VIP.
func checkTCPSettings(res *Result, p *field.Path, ts *v1beta1.HostRuleTCPSettings, env Env) {
	if len(ts.Listeners) > 0 {
		ssl := false
		ports := map[int]bool{}
		for i, l := range ts.Listeners {
			ssl = ssl || l.EnableSSL
			if ports[l.Port] {
				res.Errors = append(res.Errors, field.Duplicate(p.Child("listeners").Index(i).Child("port"), l.Port))
			}
			ports[l.Port] = true
		}
		if !ssl {
			res.Errors = append(res.Errors, field.Invalid(p.Child("listeners"), len(ts.Listeners),
				"no listener has enableSSL: true; the parent virtual service also serves the HTTPS hosts, so add one such as {port: 443, enableSSL: true}"))
		}
	}
	if ts.LoadBalancerIP != "" {
		checkRuleVIP(res, p.Child("loadBalancerIP"), ts.LoadBalancerIP, nil, nil, env)
	}
}

// checkRuleVIP checks an address a rule requests for a virtual service as a
// Service's loadBalancerIP is checked: syntax and family, inside a static
// VIP range of the VIP networks in effect (ais's, else the settings'), and
// not held by a VsVip other than users (the VsVip names that may hold it
// already: the rule's own Services').
func checkRuleVIP(res *Result, p *field.Path, ip string, users []string, ais *v1beta1.AviInfraSetting, env Env) {
	s := env.settings()
	addr, msg := parseVIP(ip)
	if msg != "" {
		res.Errors = append(res.Errors, field.Invalid(p, ip, msg))
		return
	}
	if addr.Is6() && s.AKOSettings.IPFamily != "V6" {
		res.Errors = append(res.Errors, field.Invalid(p, ip,
			fmt.Sprintf("is an IPv6 address, but AKOSettings.ipFamily is %s; use an IPv4 address, or set AKOSettings.ipFamily to V6", familySetting(s))))
		return
	}
	inv, skip := env.liveInventory()
	if inv == nil {
		res.Warn(skip)
		return
	}
	nets, origin := EffectiveVIPNetworks(ais, s)
	if e, warn := checkPlacement(p, ip, addr, nets, origin, inv); e != nil {
		res.Errors = append(res.Errors, e)
		return
	} else if warn != "" {
		res.Warn(warn)
	}
	if e := vipHeldElsewhere(p, ip, addr, users, inv, s.CreatedBy()); e != nil {
		res.Errors = append(res.Errors, e)
	}
}

// vipHeldElsewhere refuses an address the controller has given to a VsVip
// that is not one of users (the VsVips allowed to hold it).
func vipHeldElsewhere(p *field.Path, ip string, addr netip.Addr, users []string, inv *inventory.Snapshot, ours string) *field.Error {
	h, ok := inv.InUse[addr]
	if !ok || slices.Contains(users, h.VsVip) {
		return nil
	}
	by := "no created_by"
	if h.CreatedBy == ours {
		by = "this cluster's"
	} else if h.CreatedBy != "" {
		by = fmt.Sprintf("created_by %q", h.CreatedBy)
	}
	return field.Invalid(p, ip, fmt.Sprintf("is already allocated on the controller to VsVip %q (%s); pick another address, or leave it unset to get one allocated", h.VsVip, by))
}

// checkRuleSecret checks a TLS Secret a rule names by the Ingress TLS rules:
// it exists in the rule's namespace, is of type kubernetes.io/tls, and its
// key matches an unexpired certificate. A Secret cert-manager will issue
// (a Certificate names it) only warns.
func checkRuleSecret(res *Result, p *field.Path, ns, name, kind string, env Env) {
	if name == "" {
		res.Errors = append(res.Errors, field.Required(p, "name a TLS Secret in the "+kind+"'s namespace"))
		return
	}
	ref := ns + "/" + name
	sum, ok, err := env.lookups().TLSSecret(env.ctx(), ns, name)
	if err != nil {
		res.Warn(fmt.Sprintf("%s: %s", p, couldNotCheck("Secret "+ref, err)))
		return
	}
	managed := func() bool {
		m, err := env.lookups().CertManagerCertificateForSecret(env.ctx(), ns, name)
		if err != nil {
			res.Warn(couldNotCheck(fmt.Sprintf("whether a cert-manager Certificate issues Secret %s", ref), err))
			return true
		}
		return m
	}
	if !ok {
		if managed() {
			res.Warn(fmt.Sprintf("%s: Secret %s does not exist yet; cert-manager is expected to issue it, and the certificate is used once it does", p, ref))
			return
		}
		res.Errors = append(res.Errors, field.Invalid(p, name, fmt.Sprintf("Secret %s does not exist; create it in the %s's namespace (kubectl create secret tls %s -n %s --cert=<file> --key=<file>), or use type ref to name a certificate on the controller",
			ref, kind, name, ns)))
		return
	}
	problem, warning := JudgeTLSSecret(ref, sum, env.Now)
	if warning != "" {
		res.Warn(fmt.Sprintf("%s: %s", p, warning))
	}
	if problem == "" {
		return
	}
	if managed() {
		res.Warn(fmt.Sprintf("%s: %s (cert-manager is expected to reissue it)", p, problem))
		return
	}
	res.Errors = append(res.Errors, field.Invalid(p, name, problem))
}

// hostRuleNoEffect warns about the fields vipgate accepts (AKO's schema)
// but does not act on, so nobody relies on them silently.
func hostRuleNoEffect(res *Result, p *field.Path, vh v1beta1.HostRuleVirtualHost) {
	if vh.L7Rule != "" {
		res.Warn(fmt.Sprintf("%s: vipgate does not implement AKO's L7Rule; %q has no effect", p.Child("l7Rule"), vh.L7Rule))
	}
	if vh.GSLB != nil && vh.GSLB.Fqdn != "" {
		res.Warn(fmt.Sprintf("%s: GSLB FQDNs are for AMKO (multi-cluster); vipgate does not act on them", p.Child("gslb", "fqdn")))
	}
	if vh.UseRegex {
		res.Warn(fmt.Sprintf("%s: vipgate matches Ingress paths as prefixes or exactly; useRegex has no effect", p.Child("useRegex")))
	}
	if vh.ApplicationRootPath != "" {
		res.Warn(fmt.Sprintf("%s: vipgate does not redirect the application root; %q has no effect", p.Child("applicationRootPath"), vh.ApplicationRootPath))
	}
}

// hostRuleRefs lists the controller objects a HostRule names.
func hostRuleRefs(p *field.Path, vh v1beta1.HostRuleVirtualHost) []objRef {
	refs := []objRef{
		{path: p.Child("wafPolicy"), typ: inventory.TypeWAFPolicy, name: vh.WAFPolicy},
		{path: p.Child("applicationProfile"), typ: inventory.TypeApplicationProfile, name: vh.ApplicationProfile,
			kinds: []string{inventory.AppProfileTypeHTTP}, use: "a host served over HTTP and HTTPS"},
		{path: p.Child("analyticsProfile"), typ: inventory.TypeAnalyticsProfile, name: vh.AnalyticsProfile},
		{path: p.Child("errorPageProfile"), typ: inventory.TypeErrorPageProfile, name: vh.ErrorPageProfile},
		{path: p.Child("networkSecurityPolicy"), typ: inventory.TypeNetworkSecurityPolicy, name: vh.NetworkSecurityPolicy},
	}
	if h := vh.HTTPPolicy; h != nil {
		for i, ps := range h.PolicySets {
			refs = append(refs, objRef{path: p.Child("httpPolicy", "policySets").Index(i), typ: inventory.TypeHTTPPolicySet, name: ps})
		}
	}
	for i, ds := range vh.Datascripts {
		refs = append(refs, objRef{path: p.Child("datascripts").Index(i), typ: inventory.TypeVSDataScriptSet, name: ds})
	}
	for i, ic := range vh.ICAPProfile {
		refs = append(refs, objRef{path: p.Child("icapProfile").Index(i), typ: inventory.TypeICAPProfile, name: ic})
	}
	if t := vh.TLS; t != nil {
		tp := p.Child("tls")
		refs = append(refs, objRef{path: tp.Child("sslProfile"), typ: inventory.TypeSSLProfile, name: t.SSLProfile,
			kinds: []string{sslProfileApplication}, use: "TLS to clients"})
		if t.SSLKeyCertificate.Type == v1beta1.CertTypeRef {
			refs = append(refs, certRef(tp.Child("sslKeyCertificate", "name"), t.SSLKeyCertificate.Name))
		}
		if a := t.SSLKeyCertificate.AlternateCertificate; a != nil && a.Type == v1beta1.CertTypeRef {
			refs = append(refs, certRef(tp.Child("sslKeyCertificate", "alternateCertificate", "name"), a.Name))
		}
	}
	return refs
}

// sslProfileApplication is the SSL profile type for virtual services (the
// other, SSL_PROFILE_TYPE_SYSTEM, is the controller's own portal).
const sslProfileApplication = "SSL_PROFILE_TYPE_APPLICATION"

// certRef is a certificate a virtual service presents: a server
// certificate, not a CA (which has no key to present) nor a system one.
func certRef(p *field.Path, name string) objRef {
	return objRef{path: p, typ: inventory.TypeSSLKeyAndCertificate, name: name,
		kinds: []string{inventory.CertTypeVirtualService}, use: "a certificate presented to clients"}
}
