package rules

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
)

// AnnL4Rule on a Service names its L4Rule: "name" or "namespace/name".
const AnnL4Rule = v1alpha2.AnnL4Rule

// CloudNSXT is the cloud type on which an L4Rule may revoke VIP routes.
const CloudNSXT = "CLOUD_NSXT"

// L4RuleKey returns "<ns>/<name>" of the L4Rule a Service's annotation
// names (the Service's namespace when the value has none), "" without one.
func L4RuleKey(svc *corev1.Service) string {
	v := strings.TrimSpace(svc.Annotations[AnnL4Rule])
	if v == "" {
		return ""
	}
	if !strings.Contains(v, "/") {
		return svc.Namespace + "/" + v
	}
	return v
}

// l4Users are the Services naming an L4Rule, and the VsVips that serve them.
type l4Users struct {
	svcs   []*corev1.Service
	vsvips []string
}

// ValidateL4Rule checks an L4Rule: every controller object it names (in the
// tenant of its namespace, or admin) exists and fits an L4 virtual service
// or its pools, the SSL settings agree (an L4 SSL application profile and
// TCP proxy with an SSL listener, SSL profile and certificates only then),
// the algorithm/hash pairs are AKO's, a requested IP passes the checks of a
// Service's loadBalancerIP, and the ports fit the Services that use it.
// old is nil on create and for the reconciler; on update, problems the
// previous version already had only warn.
func ValidateL4Rule(r, old *v1alpha2.L4Rule, env Env) Result {
	res := validateL4Rule(r, env)
	if old != nil {
		ratchet(&res, validateL4Rule(old, env))
	}
	return res
}

func validateL4Rule(r *v1alpha2.L4Rule, env Env) Result {
	var res Result
	spec := r.Spec
	sp := field.NewPath("spec")
	users, known := l4RuleUsers(&res, r, env)
	if known && len(users.svcs) == 0 {
		res.Warn(fmt.Sprintf("no Service names this L4Rule yet (annotation %s: %s/%s); it applies once one does", AnnL4Rule, r.Namespace, r.Name))
	}
	ssl := checkL4Listeners(&res, sp.Child("listenerProperties"), spec.ListenerProperties, users)
	if !ssl {
		if spec.SSLProfileRef != "" {
			res.Errors = append(res.Errors, field.Invalid(sp.Child("sslProfileRef"), spec.SSLProfileRef,
				"applies only to SSL listeners; set enableSsl: true on a listenerProperties entry (with an L4 SSL application profile), or remove it"))
		}
		if len(spec.SSLKeyAndCertificateRefs) > 0 {
			res.Errors = append(res.Errors, field.Invalid(sp.Child("sslKeyAndCertificateRefs"), spec.SSLKeyAndCertificateRefs,
				"apply only to SSL listeners; set enableSsl: true on a listenerProperties entry (with an L4 SSL application profile), or remove them"))
		}
	}
	if spec.LoadBalancerIP != "" && known {
		checkL4RuleIP(&res, sp.Child("loadBalancerIP"), spec.LoadBalancerIP, users, env)
	}
	refs := l4RuleRefs(sp, spec, ssl)
	for i, b := range spec.BackendProperties {
		bp := sp.Child("backendProperties").Index(i)
		if slices.ContainsFunc(spec.BackendProperties[:i], func(o v1alpha2.BackendProperties) bool { return o.Port == b.Port && o.Protocol == b.Protocol }) {
			res.Errors = append(res.Errors, field.Duplicate(bp, fmt.Sprintf("%d/%s", b.Port, b.Protocol)))
		}
		checkL4LB(&res, bp, b)
		if len(b.HealthMonitorCrdRefs) > 0 {
			res.Warn(fmt.Sprintf("%s: vipgate does not implement AKO's HealthMonitor CRD; use healthMonitorRefs to name health monitors on the controller", bp.Child("healthMonitorCrdRefs")))
		}
		if known && len(users.svcs) > 0 && !usersHavePort(users, b.Port, b.Protocol) {
			res.Warn(fmt.Sprintf("%s: no Service using this rule has port %d/%s; it applies to none of their pools", bp, b.Port, b.Protocol))
		}
		refs = append(refs, backendRefs(bp, b)...)
	}
	tenant := l4RuleTenant(&res, r.Namespace, env)
	checkRefs(&res, tenant, refs, env)
	if inv, _ := env.liveInventory(); inv != nil {
		checkL4Profiles(&res, sp, r, tenant, ssl, users, inv)
		if spec.RevokeVipRoute != nil && *spec.RevokeVipRoute && inv.Cloud.Type != CloudNSXT {
			res.Errors = append(res.Errors, field.Invalid(sp.Child("revokeVipRoute"), true,
				fmt.Sprintf("is supported on NSX-T clouds only, and cloud %q is %s; remove it", inv.Cloud.Name, inv.Cloud.Type)))
		}
	}
	return res
}

// l4RuleUsers finds the Services annotated with the rule; known is false
// when the cache could not tell (a warning says so).
func l4RuleUsers(res *Result, r *v1alpha2.L4Rule, env Env) (l4Users, bool) {
	var u l4Users
	svcs, err := env.lookups().ServicesByL4Rule(env.ctx(), r.Namespace+"/"+r.Name)
	if err != nil {
		res.Warn(couldNotCheck("which Services use this L4Rule", err))
		return u, false
	}
	s := env.settings()
	for _, svc := range svcs {
		if !ownership.OwnsService(svc, s) {
			continue
		}
		u.svcs = append(u.svcs, svc)
		name := svc.Name
		if k := svc.Annotations[AnnSharedVIP]; k != "" {
			name = k
		}
		u.vsvips = append(u.vsvips, VsVipName(s.AKOSettings.ClusterName, svc.Namespace, name))
	}
	slices.SortFunc(u.svcs, func(a, b *corev1.Service) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	slices.Sort(u.vsvips)
	u.vsvips = slices.Compact(u.vsvips)
	return u, true
}

func usersHavePort(u l4Users, port int32, proto string) bool {
	for _, svc := range u.svcs {
		for _, p := range svc.Spec.Ports {
			if p.Port == port && string(protocol(p)) == proto {
				return true
			}
		}
	}
	return false
}

// checkL4Listeners checks listenerProperties and reports whether one turns
// SSL on: at most one may (an L4 SSL virtual service has one pool), and then
// each Service using the rule must have exactly one port, TCP.
func checkL4Listeners(res *Result, p *field.Path, ls []v1alpha2.ListenerProperties, users l4Users) bool {
	ssl, at := 0, 0
	for i, l := range ls {
		lp := p.Index(i)
		if slices.ContainsFunc(ls[:i], func(o v1alpha2.ListenerProperties) bool { return o.Port == l.Port && o.Protocol == l.Protocol }) {
			res.Errors = append(res.Errors, field.Duplicate(lp, fmt.Sprintf("%d/%s", l.Port, l.Protocol)))
		}
		if l.EnableSSL != nil && *l.EnableSSL {
			ssl++
			if ssl == 1 {
				at = i
			}
			if ssl > 1 {
				res.Errors = append(res.Errors, field.Invalid(lp.Child("enableSsl"), true,
					"SSL can be on for one listener only: an L4 SSL virtual service has a single TCP port and pool"))
			}
		}
		if len(users.svcs) > 0 && !usersHavePort(users, l.Port, l.Protocol) {
			res.Warn(fmt.Sprintf("%s: no Service using this rule has port %d/%s; it applies to none of their listeners", lp, l.Port, l.Protocol))
		}
	}
	if ssl == 0 {
		return false
	}
	for _, svc := range users.svcs {
		if len(svc.Spec.Ports) != 1 || protocol(svc.Spec.Ports[0]) != corev1.ProtocolTCP {
			res.Errors = append(res.Errors, field.Invalid(p.Index(at).Child("enableSsl"), true,
				fmt.Sprintf("SSL needs a Service with exactly one TCP port, and Service %s/%s, which uses this rule, has %d; give it one TCP port, or turn SSL off", svc.Namespace, svc.Name, len(svc.Spec.Ports))))
			break
		}
	}
	return true
}

// checkL4RuleIP checks a requested IP as a Service's loadBalancerIP: it
// serves one virtual service, so the Services using the rule must be one
// Service or one shared-VIP group, must not request another address, and no
// other Service or VsVip may hold it.
func checkL4RuleIP(res *Result, p *field.Path, ip string, users l4Users, env Env) {
	if len(users.vsvips) > 1 {
		var names []string
		for _, svc := range users.svcs {
			names = append(names, svc.Namespace+"/"+svc.Name)
		}
		res.Errors = append(res.Errors, field.Invalid(p, ip, fmt.Sprintf("is requested for Services %s, which do not share one VIP; an address serves one virtual service, so use this rule for one Service, or put them in one shared-VIP group (%s)",
			listNames(names), AnnSharedVIP)))
		return
	}
	for _, svc := range users.svcs {
		if own, _ := RequestedIP(svc); own != "" && !sameIP(own, ip) {
			res.Errors = append(res.Errors, field.Invalid(p, ip, fmt.Sprintf("differs from %q requested by Service %s/%s, which uses this rule; request the address in one place only", own, svc.Namespace, svc.Name)))
			return
		}
	}
	if c, ok := CanonicalIP(ip); ok {
		others, err := env.lookups().ServicesByVIP(env.ctx(), c)
		if err != nil {
			res.Warn(couldNotCheck(fmt.Sprintf("whether a Service requests or holds %s", ip), err))
		}
		for _, o := range others {
			if slices.ContainsFunc(users.svcs, func(u *corev1.Service) bool { return sameObject(u, o) }) {
				continue
			}
			if !servedOrWarn(res, o, "requests or holds "+ip, env) {
				continue
			}
			if len(users.svcs) > 0 && o.Namespace == users.svcs[0].Namespace && o.Annotations[AnnSharedVIP] != "" && o.Annotations[AnnSharedVIP] == users.svcs[0].Annotations[AnnSharedVIP] {
				continue
			}
			res.Errors = append(res.Errors, field.Invalid(p, ip, fmt.Sprintf("is already requested or held by Service %s/%s; a VIP belongs to one Service (or one shared-VIP group)", o.Namespace, o.Name)))
			return
		}
	}
	var ais *v1beta1.AviInfraSetting
	if len(users.svcs) > 0 {
		svc := users.svcs[0]
		ns, err := env.lookups().Namespace(env.ctx(), svc.Namespace)
		if err == nil {
			if name := InfraSettingName(svc, ns); name != "" {
				ais, _ = env.lookups().AviInfraSetting(env.ctx(), name)
			}
		}
	}
	checkRuleVIP(res, p, ip, users.vsvips, ais, env)
}

// checkL4LB applies AKO's algorithm/hash rules for L4 pools: a consistent
// hash needs its key (and the custom header hash its header), other
// algorithms take neither; the GSLB-only algorithms are refused.
func checkL4LB(res *Result, p *field.Path, b v1alpha2.BackendProperties) {
	algo := b.LBAlgorithm
	switch algo {
	case "":
		if b.LBAlgorithmHash != "" || b.LBAlgorithmConsistentHashHdr != "" {
			res.Errors = append(res.Errors, field.Required(p.Child("lbAlgorithm"),
				fmt.Sprintf("a hash applies to %s only; set lbAlgorithm: %s", v1beta1.LBAlgorithmConsistentHash, v1beta1.LBAlgorithmConsistentHash)))
		}
	case "LB_ALGORITHM_NEAREST_SERVER", "LB_ALGORITHM_TOPOLOGY":
		res.Errors = append(res.Errors, field.Invalid(p.Child("lbAlgorithm"), algo, "is for GSLB pools only; pick another algorithm such as "+v1beta1.LBAlgorithmLeastConnections))
	case v1beta1.LBAlgorithmConsistentHash:
		switch {
		case b.LBAlgorithmHash == "":
			res.Errors = append(res.Errors, field.Required(p.Child("lbAlgorithmHash"),
				fmt.Sprintf("must be specified when lbAlgorithm is %q, e.g. %s", algo, v1beta1.LBHashSourceIP)))
		case b.LBAlgorithmHash == v1beta1.LBHashCustomHeader && b.LBAlgorithmConsistentHashHdr == "":
			res.Errors = append(res.Errors, field.Required(p.Child("lbAlgorithmConsistentHashHdr"),
				fmt.Sprintf("must be specified when lbAlgorithmHash is %q: name the header to hash on", b.LBAlgorithmHash)))
		}
	default:
		if b.LBAlgorithmHash != "" {
			res.Errors = append(res.Errors, field.Invalid(p.Child("lbAlgorithmHash"), b.LBAlgorithmHash,
				fmt.Sprintf("must not be specified when lbAlgorithm is %q; remove it, or set lbAlgorithm: %s", algo, v1beta1.LBAlgorithmConsistentHash)))
		}
		if b.LBAlgorithmConsistentHashHdr != "" {
			res.Errors = append(res.Errors, field.Invalid(p.Child("lbAlgorithmConsistentHashHdr"), b.LBAlgorithmConsistentHashHdr,
				fmt.Sprintf("must not be specified when lbAlgorithm is %q; remove it", algo)))
		}
	}
}

// l4RuleTenant is the tenant of the rule's namespace (its
// ako.vmware.com/tenant-name annotation, else the settings').
func l4RuleTenant(res *Result, namespace string, env Env) string {
	ns, err := env.lookups().Namespace(env.ctx(), namespace)
	if err != nil {
		res.Warn(couldNotCheck(fmt.Sprintf("Namespace %s (its tenant annotation); checked in tenant %q", namespace, env.settings().ControllerSettings.TenantName), err))
	}
	return ownership.TenantFor(ns, env.settings())
}

// l4PersistenceKinds are the persistence types an L4 pool can use (the
// HTTP ones need an HTTP virtual service).
var l4PersistenceKinds = []string{"PERSISTENCE_TYPE_CLIENT_IP_ADDRESS", "PERSISTENCE_TYPE_CLIENT_IPV6_ADDRESS", "PERSISTENCE_TYPE_TLS"}

// l4RuleRefs lists the virtual-service level objects an L4Rule names. The
// application and network profiles are judged by checkL4Profiles, which
// knows the SSL listener and the Services' protocols.
func l4RuleRefs(sp *field.Path, spec v1alpha2.L4RuleSpec, ssl bool) []objRef {
	refs := []objRef{
		{path: sp.Child("analyticsProfileRef"), typ: inventory.TypeAnalyticsProfile, name: spec.AnalyticsProfileRef},
		{path: sp.Child("applicationProfileRef"), typ: inventory.TypeApplicationProfile, name: spec.ApplicationProfileRef},
		{path: sp.Child("networkProfileRef"), typ: inventory.TypeNetworkProfile, name: spec.NetworkProfileRef},
		{path: sp.Child("networkSecurityPolicyRef"), typ: inventory.TypeNetworkSecurityPolicy, name: spec.NetworkSecurityPolicyRef},
		{path: sp.Child("securityPolicyRef"), typ: inventory.TypeSecurityPolicy, name: spec.SecurityPolicyRef},
	}
	for i, d := range spec.VSDatascriptRefs {
		refs = append(refs, objRef{path: sp.Child("vsDatascriptRefs").Index(i), typ: inventory.TypeVSDataScriptSet, name: d})
	}
	if ssl {
		refs = append(refs, objRef{path: sp.Child("sslProfileRef"), typ: inventory.TypeSSLProfile, name: spec.SSLProfileRef,
			kinds: []string{sslProfileApplication}, use: "TLS to clients"})
		for i, c := range spec.SSLKeyAndCertificateRefs {
			refs = append(refs, certRef(sp.Child("sslKeyAndCertificateRefs").Index(i), c))
		}
	}
	return refs
}

// backendRefs lists the objects one backendProperties entry names.
func backendRefs(bp *field.Path, b v1alpha2.BackendProperties) []objRef {
	refs := []objRef{
		{path: bp.Child("applicationPersistenceProfileRef"), typ: inventory.TypePersistenceProfile, name: b.ApplicationPersistenceProfileRef,
			kinds: l4PersistenceKinds, use: "an L4 pool"},
		{path: bp.Child("pkiProfileRef"), typ: inventory.TypePKIProfile, name: b.PKIProfileRef},
		{path: bp.Child("sslProfileRef"), typ: inventory.TypeSSLProfile, name: b.SSLProfileRef,
			kinds: []string{sslProfileApplication}, use: "TLS to the pool's servers"},
		{path: bp.Child("sslKeyAndCertificateRef"), typ: inventory.TypeSSLKeyAndCertificate, name: b.SSLKeyAndCertificateRef,
			kinds: []string{inventory.CertTypeVirtualService}, use: "a client certificate presented to the pool's servers"},
	}
	for j, hm := range b.HealthMonitorRefs {
		refs = append(refs, objRef{path: bp.Child("healthMonitorRefs").Index(j), typ: inventory.TypeHealthMonitor, name: hm,
			kinds: monitorKinds[b.Protocol], use: "a " + b.Protocol + " pool"})
	}
	return refs
}

// netProfileFamily maps network profile types to the protocol they carry.
var netProfileFamily = map[string]string{
	inventory.NetProfileTypeTCPProxy: "TCP", inventory.NetProfileTypeTCPFastPath: "TCP",
	inventory.NetProfileTypeUDPFastPath: "UDP", inventory.NetProfileTypeUDPProxy: "UDP",
	inventory.NetProfileTypeSCTPProxy: "SCTP", inventory.NetProfileTypeSCTPFastPath: "SCTP",
}

// checkL4Profiles judges the application and network profiles once they
// exist: an L4 (or, with an SSL listener, L4 SSL) application profile; with
// SSL a TCP proxy network profile; otherwise a network profile for the
// protocol each using Service's virtual service is built on. The schema's
// default network profile (System-TCP-Proxy) is not held against a UDP or
// SCTP Service: AKO's CRD puts it on every L4Rule, so vipgate keeps the
// protocol's own profile there.
func checkL4Profiles(res *Result, sp *field.Path, r *v1alpha2.L4Rule, tenant string, ssl bool, users l4Users, inv *inventory.Snapshot) {
	spec := r.Spec
	if app := spec.ApplicationProfileRef; app != "" && !(ssl && app == v1alpha2.DefaultApplicationProfile) {
		if o, found, _ := inv.Ref(inventory.TypeApplicationProfile, tenant, app); found {
			switch {
			case ssl && o.Kind != inventory.AppProfileTypeSSL:
				res.Errors = append(res.Errors, field.Invalid(sp.Child("applicationProfileRef"), app,
					fmt.Sprintf("is an application profile of type %s; an SSL listener needs type %s (such as System-SSL-Application), or turn SSL off", o.Kind, inventory.AppProfileTypeSSL)))
			case !ssl && o.Kind == inventory.AppProfileTypeSSL:
				res.Errors = append(res.Errors, field.Invalid(sp.Child("applicationProfileRef"), app,
					fmt.Sprintf("is an application profile of type %s, but no listener has enableSsl: true; turn SSL on for the Service's port in listenerProperties, or name an L4 profile (type %s)", o.Kind, inventory.AppProfileTypeL4)))
			case !ssl && o.Kind != inventory.AppProfileTypeL4:
				res.Errors = append(res.Errors, field.Invalid(sp.Child("applicationProfileRef"), app,
					fmt.Sprintf("is an application profile of type %s; a Service of type LoadBalancer needs type %s, such as %s", o.Kind, inventory.AppProfileTypeL4, v1alpha2.DefaultApplicationProfile)))
			}
		}
	}
	np := spec.NetworkProfileRef
	if np == "" {
		return
	}
	o, found, _ := inv.Ref(inventory.TypeNetworkProfile, tenant, np)
	if !found {
		return
	}
	if ssl {
		if o.Kind != inventory.NetProfileTypeTCPProxy {
			res.Errors = append(res.Errors, field.Invalid(sp.Child("networkProfileRef"), np,
				fmt.Sprintf("is a network profile of type %s; an SSL listener needs type %s, such as %s", o.Kind, inventory.NetProfileTypeTCPProxy, v1alpha2.DefaultNetworkProfile)))
		}
		return
	}
	for _, svc := range users.svcs {
		want := vsProtocol(svc)
		if fam := netProfileFamily[o.Kind]; fam != want && !(np == v1alpha2.DefaultNetworkProfile && want != "TCP") {
			res.Errors = append(res.Errors, field.Invalid(sp.Child("networkProfileRef"), np,
				fmt.Sprintf("is a network profile of type %s, but the virtual service of Service %s/%s, which uses this rule, carries %s; name a %s network profile", o.Kind, svc.Namespace, svc.Name, want, want)))
			return
		}
	}
}

// vsProtocol is the protocol a Service's virtual service profile is chosen
// for: its first of TCP, UDP, SCTP (other ports get per-port overrides).
func vsProtocol(svc *corev1.Service) string {
	for _, want := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP} {
		for _, p := range svc.Spec.Ports {
			if protocol(p) == want {
				return string(want)
			}
		}
	}
	return "TCP"
}

// ValidateServiceL4Rule checks the L4Rule a Service names (annotation
// ako.vmware.com/l4rule): a well-formed name; one that does not exist (yet)
// or is Rejected only warns, since the Service then gets vipgate's
// defaults; an address the rule requests must agree with the Service's own
// and may serve no other Service.
func ValidateServiceL4Rule(svc *corev1.Service, env Env) Result {
	var res Result
	key := L4RuleKey(svc)
	if key == "" {
		return res
	}
	p := annotationPath(AnnL4Rule)
	ns, name, _ := strings.Cut(key, "/")
	if strings.Contains(name, "/") || len(validation.IsDNS1123Subdomain(name)) > 0 || len(validation.IsDNS1123Label(ns)) > 0 {
		res.Errors = append(res.Errors, field.Invalid(p, svc.Annotations[AnnL4Rule], "must be an L4Rule's name, or namespace/name"))
		return res
	}
	r, err := env.lookups().L4Rule(env.ctx(), ns, name)
	switch {
	case err != nil:
		res.Warn(couldNotCheck("L4Rule "+key, err))
		return res
	case r == nil:
		res.Warn(fmt.Sprintf("%s: L4Rule %s does not exist; the Service gets vipgate's defaults until it does", p, key))
		return res
	case r.Status.Status == v1beta1.StatusRejected:
		res.Warn(fmt.Sprintf("%s: L4Rule %s is Rejected (%s); it is applied once it is fixed", p, key, r.Status.Error))
	}
	if ip := r.Spec.LoadBalancerIP; ip != "" {
		if own, _ := RequestedIP(svc); own != "" && !sameIP(own, ip) {
			res.Errors = append(res.Errors, field.Invalid(p, svc.Annotations[AnnL4Rule],
				fmt.Sprintf("L4Rule %s requests VIP %s, but the Service requests %s; request the address in one place only", key, ip, own)))
			return res
		}
		others, err := env.lookups().ServicesByL4Rule(env.ctx(), key)
		if err != nil {
			res.Warn(couldNotCheck("which Services use L4Rule "+key, err))
			return res
		}
		for _, o := range others {
			if sameObject(o, svc) {
				continue
			}
			if !servedOrWarn(&res, o, "uses L4Rule "+key, env) {
				continue
			}
			if k := svc.Annotations[AnnSharedVIP]; k != "" && o.Namespace == svc.Namespace && o.Annotations[AnnSharedVIP] == k {
				continue
			}
			res.Errors = append(res.Errors, field.Invalid(p, svc.Annotations[AnnL4Rule],
				fmt.Sprintf("L4Rule %s requests VIP %s, which Service %s/%s already gets through it; an address serves one virtual service, so use another L4Rule, or share the VIP (%s)",
					key, ip, o.Namespace, o.Name, AnnSharedVIP)))
			return res
		}
	}
	for _, l := range r.Spec.ListenerProperties {
		if l.EnableSSL != nil && *l.EnableSSL && (len(svc.Spec.Ports) != 1 || protocol(svc.Spec.Ports[0]) != corev1.ProtocolTCP) {
			res.Errors = append(res.Errors, field.Invalid(field.NewPath("spec", "ports"), len(svc.Spec.Ports),
				fmt.Sprintf("L4Rule %s turns SSL on, which needs a Service with exactly one TCP port; give the Service one TCP port, or use another L4Rule", key)))
			break
		}
	}
	return res
}
