package model

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/objects"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/rules"
)

// Rule CRDs decorate a Set BuildL4 or BuildL7 has built: HostRules the
// virtual service of their FQDN, HTTPRules the pools of their host and path,
// an L4Rule the virtual service and pools of its Services. A rule is either
// applied (the status reconciler accepted it at its generation) or held
// (rejected, or not judged yet): a held rule's fields are listed in
// Set.Held and the applier keeps them as the controller has them, so a
// virtual service keeps its last good configuration (its WAF policy, say)
// instead of losing a rule half-way when a referenced object goes missing.
// Without rules, the fields rules set are put back to vipgate's defaults:
// removing a rule restores them.

// Defaults of the fields rule CRDs change, written explicitly so that
// removing a rule puts them back (the controller keeps a field a PUT
// leaves out only for fields it defaults; these it does).
const (
	AnalyticsProfileDefault = "System-Analytics-Profile"
	AppProfileL4SSL         = "System-SSL-Application"
	LBAlgorithmDefault      = v1beta1.LBAlgorithmLeastConnections
)

// Fields a held rule freezes, per object it decorates.
var (
	// HeldHostVS are the virtual service fields of a HostRule.
	HeldHostVS = []string{"waf_policy_ref", "application_profile_ref", "analytics_profile_ref", "analytics_policy", "error_page_profile_ref",
		"vs_datascripts", "icap_request_profile_refs", "network_security_policy_ref", "ssl_profile_ref", "ssl_key_and_certificate_refs",
		"enabled", "http_policies", "vh_domain_name"}
	// HeldParentVS adds the listeners of tcpSettings on a parent or dedicated virtual service.
	HeldParentVS = append(slices.Clone(HeldHostVS), "services")
	// HeldPool are the pool fields of an HTTPRule path or L4Rule backend.
	HeldPool = []string{"lb_algorithm", "lb_algorithm_hash", "lb_algorithm_consistent_hash_hdr", "health_monitor_refs",
		"application_persistence_profile_ref", "ssl_profile_ref", "pki_profile_ref", "ssl_key_and_certificate_ref", "enabled",
		"min_servers_up", "enable_http2", "analytics_policy"}
	// HeldL4VS are the virtual service fields of an L4Rule; HeldSSLPorts
	// is the per-port SSL flag, kept by port (services[].enable_ssl).
	HeldL4VS = []string{"application_profile_ref", "network_profile_ref", "analytics_profile_ref", "analytics_policy", "vs_datascripts",
		"network_security_policy_ref", "security_policy_ref", "performance_limits", "ssl_profile_ref", "ssl_key_and_certificate_refs", HeldSSLPorts}
	HeldSSLPorts = "services[].enable_ssl"
)

// HostRuleInput is a HostRule that may apply to a shard, and whether it is
// applied or held.
type HostRuleInput struct {
	Rule *v1beta1.HostRule
	Hold bool
}

// HTTPRuleInput is an HTTPRule of a host the shard serves.
type HTTPRuleInput struct {
	Rule *v1beta1.HTTPRule
	Hold bool
}

// L7Rules are the rules ApplyL7Rules considers for one shard.
type L7Rules struct {
	HostRules []HostRuleInput
	HTTPRules []HTTPRuleInput
	// Certs are the TLS Secrets HostRules name (type secret), by "<ns>/<name>";
	// a missing one leaves the host's own certificate in place.
	Certs map[string]*Cert
}

// RuleEffect says which objects a rule decorated (for logs and tests).
type RuleEffect struct {
	// Rule is "<Kind> <ns>/<name>".
	Rule string
	Held bool
	// Objects are "type/name", sorted.
	Objects []string
}

// ApplyL7Rules decorates an L7 shard's set with its HostRules and HTTPRules
// and returns what each did. sp is the shard plan the set was built from.
func ApplyL7Rules(set *Set, sp *ShardPlan, s *config.Settings, rs L7Rules) []RuleEffect {
	setDefaults(set)
	var out []RuleEffect
	effects := map[string]*RuleEffect{}
	note := func(kind string, ns, name string, held bool, obj string) {
		key := kind + " " + ns + "/" + name
		e := effects[key]
		if e == nil {
			e = &RuleEffect{Rule: key, Held: held}
			effects[key] = e
		}
		e.Objects = append(e.Objects, obj)
	}
	cluster := s.AKOSettings.ClusterName
	for _, vs := range set.VirtualServices {
		host, parent := vsHost(vs, sp)
		var hr *HostRuleInput
		if host != "" {
			hr = pickHostRule(rs.HostRules, host, false)
		}
		if hr == nil && parent && !sp.Dedicated {
			hr = pickHostRule(rs.HostRules, sp.Name, true)
		}
		if hr == nil {
			continue
		}
		obj := TypeVirtualService + "/" + *vs.Name
		note("HostRule", hr.Rule.Namespace, hr.Rule.Name, hr.Hold, obj)
		if hr.Hold {
			holdHostRule(set, vs, parent)
			continue
		}
		applyHostRule(set, vs, hr.Rule, parent, cluster, rs.Certs)
	}
	for _, r := range sp.Routes {
		path, held := pickHTTPRulePath(rs.HTTPRules, r)
		if path == nil {
			continue
		}
		pool := findPool(set, r.Pool)
		if pool == nil {
			continue
		}
		note("HTTPRule", path.rule.Namespace, path.rule.Name, held, TypePool+"/"+r.Pool)
		if held {
			set.hold(TypePool, r.Pool, HeldPool)
			continue
		}
		applyHTTPRulePath(pool, path.path)
	}
	for _, e := range effects {
		slices.Sort(e.Objects)
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b RuleEffect) int { return strings.Compare(a.Rule, b.Rule) })
	return out
}

// setDefaults writes vipgate's values of the fields rules change, so that a
// removed rule's values are replaced on the controller.
func setDefaults(set *Set) {
	for _, p := range set.Pools {
		p.Enabled = ptr.To(true)
		p.LbAlgorithm = ptr.To(LBAlgorithmDefault)
	}
	for _, vs := range set.VirtualServices {
		vs.Enabled = ptr.To(true)
		vs.AnalyticsProfileRef = ptr.To(Ref("analyticsprofile", AnalyticsProfileDefault))
		vs.AnalyticsPolicy = &objects.AnalyticsPolicy{FullClientLogs: &objects.FullClientLogs{Enabled: ptr.To(false)}, AllHeaders: ptr.To(false)}
	}
}

// hold records fields of one object for the applier to keep as they are.
func (set *Set) hold(typ, name string, fields []string) {
	if set.Held == nil {
		set.Held = map[string][]string{}
	}
	k := typ + "/" + name
	set.Held[k] = append(set.Held[k], fields...)
	slices.Sort(set.Held[k])
	set.Held[k] = slices.Compact(set.Held[k])
}

// vsHost is the host a virtual service of an L7 set serves on its own (an
// SNI child's domain, a dedicated virtual service's host), "" for a shared
// parent; parent reports a parent or dedicated virtual service.
func vsHost(vs *objects.VirtualService, sp *ShardPlan) (host string, parent bool) {
	if ptr.Deref(vs.Type, "") == VSTypeVHChild {
		if len(vs.VhDomainName) > 0 {
			return vs.VhDomainName[0], false
		}
		return "", false
	}
	if sp.Dedicated && len(sp.Routes) > 0 {
		return sp.Routes[0].Host, true
	}
	return "", true
}

// pickHostRule returns the HostRule for a host (or, shard, for the shared
// parent's name): Exact before Wildcard before Contains, the oldest first
// within one type; nil when none matches. A Wildcard fqdn "*.example.com"
// matches the hosts ending in ".example.com"; a Contains fqdn any host (or
// shard name) containing it.
func pickHostRule(hrs []HostRuleInput, host string, shard bool) *HostRuleInput {
	rank := func(vh v1beta1.HostRuleVirtualHost) int {
		switch vh.FqdnType {
		case v1beta1.FqdnTypeWildcard:
			if !shard && strings.HasPrefix(vh.Fqdn, "*.") && strings.HasSuffix(host, vh.Fqdn[1:]) {
				return 2
			}
		case v1beta1.FqdnTypeContains:
			if vh.Fqdn != "" && strings.Contains(host, vh.Fqdn) {
				return 3
			}
		default:
			if vh.Fqdn == host {
				return 1
			}
		}
		return 0
	}
	var best *HostRuleInput
	bestRank := 0
	for i := range hrs {
		r := rank(hrs[i].Rule.Spec.VirtualHost)
		if r == 0 {
			continue
		}
		if best == nil || r < bestRank || (r == bestRank && olderRule(hrs[i].Rule, best.Rule)) {
			best, bestRank = &hrs[i], r
		}
	}
	return best
}

// holdHostRule freezes what a HostRule sets on vs. The routing rules of a
// host's own virtual service (an SNI child, a dedicated one) stop matching
// the host header: it gets only the requests for its held domains, aliases
// included, which the rebuilt rules would otherwise not know.
func holdHostRule(set *Set, vs *objects.VirtualService, parent bool) {
	fields := HeldHostVS
	if parent {
		fields = HeldParentVS
	}
	set.hold(TypeVirtualService, *vs.Name, fields)
	if !parent || len(vs.VhDomainName) == 0 && ptr.Deref(vs.Type, "") == VSTypeNormal {
		own := policySetsOf(vs)
		for _, ps := range set.HTTPPolicySets {
			if own[*ps.Name] && ps.HTTPRequestPolicy != nil {
				for _, r := range ps.HTTPRequestPolicy.Rules {
					if r.Match != nil {
						r.Match.HostHdr = nil
					}
				}
			}
		}
	}
}

// policySetsOf names the policy sets vs refers to: an SNI child has one per
// namespace routing its host (AKO's graph), a parent its shard's.
func policySetsOf(vs *objects.VirtualService) map[string]bool {
	out := map[string]bool{}
	for _, p := range vs.HTTPPolicies {
		if p != nil && p.HTTPPolicySetRef != nil {
			name, _ := strings.CutPrefix(*p.HTTPPolicySetRef, "/api/"+TypeHTTPPolicySet+"/?name=")
			out[name] = true
		}
	}
	return out
}

// applyHostRule sets a HostRule's fields on vs: profiles, WAF policy,
// DataScripts, policy sets (after vipgate's own, or instead of them with
// overwrite), certificates, aliases and, on a parent, listeners and VIP.
func applyHostRule(set *Set, vs *objects.VirtualService, hr *v1beta1.HostRule, parent bool, cluster string, certs map[string]*Cert) {
	v := hr.Spec.VirtualHost
	refIf := func(typ, name string) *string {
		if name == "" {
			return nil
		}
		return ptr.To(Ref(typ, name))
	}
	vs.WafPolicyRef = refIf("wafpolicy", v.WAFPolicy)
	if v.ApplicationProfile != "" {
		vs.ApplicationProfileRef = refIf("applicationprofile", v.ApplicationProfile)
	}
	if v.AnalyticsProfile != "" {
		vs.AnalyticsProfileRef = refIf("analyticsprofile", v.AnalyticsProfile)
	}
	vs.ErrorPageProfileRef = refIf("errorpageprofile", v.ErrorPageProfile)
	for i, ds := range v.Datascripts {
		vs.VsDatascripts = append(vs.VsDatascripts, &objects.VSDataScripts{Index: ptr.To(int32(i + 1)), VsDatascriptSetRef: ptr.To(Ref("vsdatascriptset", ds))})
	}
	for _, ic := range v.ICAPProfile {
		vs.IcapRequestProfileRefs = append(vs.IcapRequestProfileRefs, Ref("icapprofile", ic))
	}
	if parent {
		vs.NetworkSecurityPolicyRef = refIf("networksecuritypolicy", v.NetworkSecurityPolicy)
	}
	if v.EnableVirtualHost != nil {
		vs.Enabled = ptr.To(*v.EnableVirtualHost)
	}
	if ap := v.AnalyticsPolicy; ap != nil {
		vs.AnalyticsPolicy = hostAnalytics(ap)
	}
	if h := v.HTTPPolicy; h != nil && (h.Overwrite || len(h.PolicySets) > 0) {
		if h.Overwrite {
			vs.HTTPPolicies = nil
		}
		next := int32(11)
		for _, p := range vs.HTTPPolicies {
			next = max(next, ptr.Deref(p.Index, 0)+1)
		}
		for i, ps := range h.PolicySets {
			vs.HTTPPolicies = append(vs.HTTPPolicies, &objects.HTTPPolicies{Index: ptr.To(next + int32(i)), HTTPPolicySetRef: ptr.To(Ref(TypeHTTPPolicySet, ps))})
		}
	}
	if t := v.TLS; t != nil {
		applyHostRuleTLS(set, vs, hr, cluster, certs)
	}
	if len(v.Aliases) > 0 && (!parent || len(vs.VhDomainName) == 0) {
		addAliases(set, vs, v.Aliases, !parent)
	}
	if ts := v.TCPSettings; ts != nil && parent {
		applyTCPSettings(set, vs, ts)
	}
}

// hostAnalytics is a HostRule's analytics policy: throttle levels as AKO
// maps them (DISABLED 0, LOW 50, MEDIUM 30, HIGH 10); duration 0 (infinite)
// unless given.
func hostAnalytics(ap *v1beta1.HostRuleAnalyticsPolicy) *objects.AnalyticsPolicy {
	out := &objects.AnalyticsPolicy{FullClientLogs: &objects.FullClientLogs{Enabled: ptr.To(false), Duration: ptr.To(uint32(0))},
		AllHeaders: ptr.To(ptr.Deref(ap.LogAllHeaders, false))}
	if f := ap.FullClientLogs; f != nil {
		out.FullClientLogs.Enabled = ptr.To(ptr.Deref(f.Enabled, false))
		if f.Duration != nil {
			out.FullClientLogs.Duration = ptr.To(*f.Duration)
		}
		throttle := map[string]uint32{"DISABLED": 0, "LOW": 50, "MEDIUM": 30, "HIGH": 10}
		if n, ok := throttle[f.Throttle]; ok {
			out.FullClientLogs.Throttle = ptr.To(n)
		}
	}
	return out
}

// applyHostRuleTLS replaces the host's certificates and SSL profile. A
// certificate by ref names the controller's; by secret, vipgate builds an
// SSLKeyAndCertificate "<cluster>--<host>-hostrule" from the Secret (left
// as the host's own certificate while the Secret cannot be read).
func applyHostRuleTLS(set *Set, vs *objects.VirtualService, hr *v1beta1.HostRule, cluster string, certs map[string]*Cert) {
	t := hr.Spec.VirtualHost.TLS
	if t.SSLProfile != "" {
		vs.SslProfileRef = ptr.To(Ref("sslprofile", t.SSLProfile))
	}
	var refs []string
	add := func(typ, name, suffix string) bool {
		switch typ {
		case v1beta1.CertTypeRef:
			refs = append(refs, Ref(TypeSSLKeyAndCertificate, name))
		case v1beta1.CertTypeSecret:
			c := certs[hr.Namespace+"/"+name]
			if c == nil {
				return false
			}
			certName := limitName(cluster, *vs.Name+suffix)
			set.SSLKeyAndCertificates = append(set.SSLKeyAndCertificates, &objects.SSLKeyAndCertificate{
				Name: ptr.To(certName), Type: ptr.To("SSL_CERTIFICATE_TYPE_VIRTUALSERVICE"),
				Certificate: &objects.SSLCertificate{Certificate: ptr.To(string(c.Certificate))}, Key: ptr.To(string(c.Key)),
				CreatedBy: ptr.To(set.CreatedBy), Markers: markersOf(set),
			})
			refs = append(refs, Ref(TypeSSLKeyAndCertificate, certName))
		}
		return true
	}
	k := t.SSLKeyCertificate
	if !add(k.Type, k.Name, "-hostrule") {
		return
	}
	if a := k.AlternateCertificate; a != nil {
		add(a.Type, a.Name, "-hostrule-alt")
	}
	vs.SslKeyAndCertificateRefs = refs
}

// markersOf copies the markers the set's objects carry (stamped by the builder).
func markersOf(set *Set) []*objects.RoleFilterMatchLabel {
	for _, v := range set.VirtualServices {
		if len(v.Markers) > 0 {
			return v.Markers
		}
	}
	return nil
}

// addAliases makes a host's virtual service (an SNI child, or a dedicated
// one) answer its HostRule's aliases: they join a child's domains, its
// routing rules match them, and the parent redirects them from HTTP to
// HTTPS as it does the host.
func addAliases(set *Set, vs *objects.VirtualService, aliases []string, child bool) {
	host := ""
	own := policySetsOf(vs)
	for _, ps := range set.HTTPPolicySets {
		if own[*ps.Name] && ps.HTTPRequestPolicy != nil {
			for _, r := range ps.HTTPRequestPolicy.Rules {
				if r.Match != nil && r.Match.HostHdr != nil && len(r.Match.HostHdr.Value) > 0 {
					host = r.Match.HostHdr.Value[0]
				}
			}
		}
	}
	if child {
		host = vs.VhDomainName[0]
		for _, a := range aliases {
			if !slices.Contains(vs.VhDomainName, a) {
				vs.VhDomainName = append(vs.VhDomainName, a)
			}
		}
	}
	if host == "" {
		return
	}
	for _, ps := range set.HTTPPolicySets {
		if ps.HTTPRequestPolicy == nil {
			continue
		}
		var extra []*objects.HTTPRequestRule
		for _, r := range ps.HTTPRequestPolicy.Rules {
			if r.Match == nil || r.Match.HostHdr == nil || !slices.Contains(r.Match.HostHdr.Value, host) {
				continue
			}
			if own[*ps.Name] {
				for _, a := range aliases {
					if !slices.Contains(r.Match.HostHdr.Value, a) {
						r.Match.HostHdr.Value = append(r.Match.HostHdr.Value, a)
					}
				}
			} else if r.RedirectAction != nil {
				for _, a := range aliases {
					cp := *r
					m := *r.Match
					m.HostHdr = hostMatch(a)
					cp.Match, cp.Name = &m, ptr.To(a+"-redirect-https")
					extra = append(extra, &cp)
				}
			}
		}
		if len(extra) > 0 {
			rules := append(extra, ps.HTTPRequestPolicy.Rules...)
			for i, r := range rules {
				r.Index = ptr.To(int32(i + 1))
			}
			ps.HTTPRequestPolicy.Rules = rules
		}
	}
}

// applyTCPSettings sets a parent's listening ports and requested VIP.
func applyTCPSettings(set *Set, vs *objects.VirtualService, ts *v1beta1.HostRuleTCPSettings) {
	if len(ts.Listeners) > 0 {
		vs.Services = nil
		for _, l := range ts.Listeners {
			svc := &objects.Service{Port: ptr.To(uint32(l.Port))}
			if l.EnableSSL {
				svc.EnableSsl = ptr.To(true)
			}
			vs.Services = append(vs.Services, svc)
		}
		slices.SortFunc(vs.Services, func(a, b *objects.Service) int { return cmp.Compare(*a.Port, *b.Port) })
	}
	if ts.LoadBalancerIP != "" {
		requestVIP(set, ts.LoadBalancerIP)
	}
}

// requestVIP asks for addr on the set's VsVip: on the vip whose subnet
// holds it, else the first.
func requestVIP(set *Set, ip string) {
	a, err := netip.ParseAddr(ip)
	if err != nil || len(set.VsVips) == 0 || len(set.VsVips[0].Vip) == 0 {
		return
	}
	vips := set.VsVips[0].Vip
	at := vips[0]
	for _, v := range vips {
		if n := v.IPAMNetworkSubnet; n != nil && n.Subnet != nil && n.Subnet.IPAddr != nil && n.Subnet.Mask != nil {
			if p, err := netip.ParsePrefix(ptr.Deref(n.Subnet.IPAddr.Addr, "") + "/" + itoa(int(*n.Subnet.Mask))); err == nil && p.Contains(a) {
				at = v
			}
		}
	}
	if a.Is6() {
		at.Ip6Address = ipAddr(a)
	} else {
		at.IPAddress = ipAddr(a)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// httpRulePath is one path entry of an HTTPRule.
type httpRulePath struct {
	rule *v1beta1.HTTPRule
	path *v1beta1.HTTPRulePath
}

// pickHTTPRulePath returns the HTTPRule path entry for a route: a rule of
// the route's host in the route's namespace (as AKO: a developer's rule
// reaches their own Ingresses only), with the longest target the route's
// path starts with; held tells whether that rule is held.
func pickHTTPRulePath(rs []HTTPRuleInput, r Route) (*httpRulePath, bool) {
	var best *httpRulePath
	held := false
	for i := range rs {
		hr := rs[i].Rule
		if hr.Spec.Fqdn != r.Host || hr.Namespace != r.Namespace {
			continue
		}
		for j := range hr.Spec.Paths {
			p := &hr.Spec.Paths[j]
			if !strings.HasPrefix(r.Path, p.Target) {
				continue
			}
			if best == nil || len(p.Target) > len(best.path.Target) || (len(p.Target) == len(best.path.Target) && olderRule(hr, best.rule)) {
				best, held = &httpRulePath{rule: hr, path: p}, rs[i].Hold
			}
		}
	}
	return best, held
}

func findPool(set *Set, name string) *objects.Pool {
	for _, p := range set.Pools {
		if *p.Name == name {
			return p
		}
	}
	return nil
}

// applyHTTPRulePath sets an HTTPRule path's algorithm, health monitors
// (replacing vipgate's), persistence, re-encryption and HTTP/2 on a pool.
func applyHTTPRulePath(pool *objects.Pool, p *v1beta1.HTTPRulePath) {
	if lb := p.LoadBalancerPolicy; lb != nil && lb.Algorithm != "" {
		pool.LbAlgorithm = ptr.To(lb.Algorithm)
		if lb.Algorithm == v1beta1.LBAlgorithmConsistentHash && lb.Hash != "" {
			pool.LbAlgorithmHash = ptr.To(lb.Hash)
			if lb.Hash == v1beta1.LBHashCustomHeader && lb.HostHeader != "" {
				pool.LbAlgorithmConsistentHashHdr = ptr.To(lb.HostHeader)
			}
		}
	}
	if len(p.HealthMonitors) > 0 {
		pool.HealthMonitorRefs = nil
		for _, hm := range p.HealthMonitors {
			pool.HealthMonitorRefs = append(pool.HealthMonitorRefs, Ref("healthmonitor", hm))
		}
	}
	if p.ApplicationPersistence != "" {
		pool.ApplicationPersistenceProfileRef = ptr.To(Ref("applicationpersistenceprofile", p.ApplicationPersistence))
	}
	if t := p.TLS; t != nil && t.Type == v1beta1.TLSTypeReencrypt {
		prof := t.SSLProfile
		if prof == "" {
			prof = SSLProfileStandard
		}
		pool.SslProfileRef = ptr.To(Ref("sslprofile", prof))
		if t.PKIProfile != "" {
			pool.PkiProfileRef = ptr.To(Ref("pkiprofile", t.PKIProfile))
		}
	}
	if p.EnableHTTP2 != nil {
		pool.EnableHTTP2 = ptr.To(*p.EnableHTTP2)
	}
}

// ApplyL4Rule decorates an L4 set with the L4Rule its Services name (nil:
// none, vipgate's defaults), applied or held.
func ApplyL4Rule(set *Set, r *v1alpha2.L4Rule, hold bool) []RuleEffect {
	setDefaults(set)
	if r == nil || len(set.VirtualServices) == 0 {
		return nil
	}
	vs := set.VirtualServices[0]
	e := RuleEffect{Rule: "L4Rule " + r.Namespace + "/" + r.Name, Held: hold, Objects: []string{TypeVirtualService + "/" + *vs.Name}}
	pools := poolsByPort(vs)
	if hold {
		set.hold(TypeVirtualService, *vs.Name, HeldL4VS)
		for _, b := range r.Spec.BackendProperties {
			if name, ok := pools[portKey(b.Port, b.Protocol)]; ok {
				set.hold(TypePool, name, HeldPool)
				e.Objects = append(e.Objects, TypePool+"/"+name)
			}
		}
		slices.Sort(e.Objects)
		return []RuleEffect{e}
	}
	applyL4VS(set, vs, r.Spec)
	for _, b := range r.Spec.BackendProperties {
		name, ok := pools[portKey(b.Port, b.Protocol)]
		if !ok {
			continue
		}
		if p := findPool(set, name); p != nil {
			applyBackend(p, b)
			e.Objects = append(e.Objects, TypePool+"/"+name)
		}
	}
	slices.Sort(e.Objects)
	return []RuleEffect{e}
}

func portKey(port int32, proto string) string { return proto + "/" + itoa(int(port)) }

// poolsByPort maps "PROTO/port" to the pool the virtual service sends it to.
func poolsByPort(vs *objects.VirtualService) map[string]string {
	out := map[string]string{}
	proto := map[string]string{protocolTCPProxy: "TCP", protocolTCPFast: "TCP", protocolUDPFast: "UDP", protocolSCTPProxy: "SCTP"}
	for _, sel := range vs.ServicePoolSelect {
		if sel == nil || sel.ServicePort == nil || sel.ServicePoolRef == nil {
			continue
		}
		name, _ := strings.CutPrefix(*sel.ServicePoolRef, "/api/"+TypePool+"/?name=")
		out[portKey(int32(*sel.ServicePort), proto[ptr.Deref(sel.ServiceProtocol, protocolTCPProxy)])] = name
	}
	return out
}

// applyL4VS sets an L4Rule's virtual service fields. With an SSL listener
// the schema's default application profile means the L4 SSL one (AKO's
// rule). The schema's default network profile (TCP proxy) is not forced on
// a virtual service whose first protocol is UDP or SCTP.
func applyL4VS(set *Set, vs *objects.VirtualService, spec v1alpha2.L4RuleSpec) {
	ssl := false
	for _, l := range spec.ListenerProperties {
		if l.EnableSSL != nil && *l.EnableSSL {
			ssl = true
			for _, svc := range vs.Services {
				if int32(*svc.Port) == l.Port {
					svc.EnableSsl = ptr.To(true)
				}
			}
		}
	}
	if app := spec.ApplicationProfileRef; app != "" {
		if ssl && app == v1alpha2.DefaultApplicationProfile {
			app = AppProfileL4SSL
		}
		vs.ApplicationProfileRef = ptr.To(Ref("applicationprofile", app))
	}
	if np := spec.NetworkProfileRef; np != "" && !(np == v1alpha2.DefaultNetworkProfile && ptr.Deref(vs.NetworkProfileRef, "") != Ref("networkprofile", NetProfileTCP)) {
		vs.NetworkProfileRef = ptr.To(Ref("networkprofile", np))
	}
	if spec.AnalyticsProfileRef != "" {
		vs.AnalyticsProfileRef = ptr.To(Ref("analyticsprofile", spec.AnalyticsProfileRef))
	}
	if ap := spec.AnalyticsPolicy; ap != nil && ap.FullClientLogs != nil {
		f := ap.FullClientLogs
		vs.AnalyticsPolicy.FullClientLogs = &objects.FullClientLogs{Enabled: ptr.To(f.Enabled), Duration: f.Duration, Throttle: f.Throttle}
	}
	for i, ds := range spec.VSDatascriptRefs {
		vs.VsDatascripts = append(vs.VsDatascripts, &objects.VSDataScripts{Index: ptr.To(int32(i + 1)), VsDatascriptSetRef: ptr.To(Ref("vsdatascriptset", ds))})
	}
	if spec.NetworkSecurityPolicyRef != "" {
		vs.NetworkSecurityPolicyRef = ptr.To(Ref("networksecuritypolicy", spec.NetworkSecurityPolicyRef))
	}
	if spec.SecurityPolicyRef != "" {
		vs.SecurityPolicyRef = ptr.To(Ref("securitypolicy", spec.SecurityPolicyRef))
	}
	if pl := spec.PerformanceLimits; pl != nil {
		vs.PerformanceLimits = &objects.PerformanceLimits{MaxConcurrentConnections: pl.MaxConcurrentConnections, MaxThroughput: pl.MaxThroughput}
	}
	if ssl {
		if spec.SSLProfileRef != "" {
			vs.SslProfileRef = ptr.To(Ref("sslprofile", spec.SSLProfileRef))
		}
		for _, c := range spec.SSLKeyAndCertificateRefs {
			vs.SslKeyAndCertificateRefs = append(vs.SslKeyAndCertificateRefs, Ref(TypeSSLKeyAndCertificate, c))
		}
	}
	if spec.LoadBalancerIP != "" {
		requestVIP(set, spec.LoadBalancerIP)
	}
}

// applyBackend sets one backendProperties entry on its port's pool.
func applyBackend(p *objects.Pool, b v1alpha2.BackendProperties) {
	if b.LBAlgorithm != "" {
		p.LbAlgorithm = ptr.To(b.LBAlgorithm)
		if b.LBAlgorithm == v1beta1.LBAlgorithmConsistentHash && b.LBAlgorithmHash != "" {
			p.LbAlgorithmHash = ptr.To(b.LBAlgorithmHash)
			if b.LBAlgorithmConsistentHashHdr != "" {
				p.LbAlgorithmConsistentHashHdr = ptr.To(b.LBAlgorithmConsistentHashHdr)
			}
		}
	}
	if b.Enabled != nil {
		p.Enabled = ptr.To(*b.Enabled)
	}
	if len(b.HealthMonitorRefs) > 0 {
		p.HealthMonitorRefs = nil
		for _, hm := range b.HealthMonitorRefs {
			p.HealthMonitorRefs = append(p.HealthMonitorRefs, Ref("healthmonitor", hm))
		}
	}
	refIf := func(typ, name string) *string {
		if name == "" {
			return nil
		}
		return ptr.To(Ref(typ, name))
	}
	p.ApplicationPersistenceProfileRef = refIf("applicationpersistenceprofile", b.ApplicationPersistenceProfileRef)
	p.PkiProfileRef = refIf("pkiprofile", b.PKIProfileRef)
	p.SslProfileRef = refIf("sslprofile", b.SSLProfileRef)
	p.SslKeyAndCertificateRef = refIf(TypeSSLKeyAndCertificate, b.SSLKeyAndCertificateRef)
	if b.MinServersUp != nil {
		p.MinServersUp = ptr.To(uint32(*b.MinServersUp))
	}
	if ap := b.AnalyticsPolicy; ap != nil && ap.EnableRealtimeMetrics != nil {
		p.AnalyticsPolicy = &objects.PoolAnalyticsPolicy{EnableRealtimeMetrics: ptr.To(*ap.EnableRealtimeMetrics)}
	}
}

// olderRule is the rule book's order: the first created holds a host or path.
func olderRule(a, b metav1.Object) bool { return rules.OlderRule(a, b) }

// HostRuleCertNames lists "type/name" of the certificates HostRules may have
// vipgate build from Secrets on the plan's virtual services (see
// applyHostRuleTLS), for start-up orphan collection next to L7Names.
func HostRuleCertNames(s *config.Settings, p *L7Plan) map[string]bool {
	out := map[string]bool{}
	cluster := s.AKOSettings.ClusterName
	add := func(vs string) {
		for _, suffix := range []string{"-hostrule", "-hostrule-alt"} {
			out[TypeSSLKeyAndCertificate+"/"+limitName(cluster, vs+suffix)] = true
		}
	}
	for name, sp := range p.Shards {
		add(name)
		if sp.Dedicated {
			continue
		}
		for _, t := range sp.TLS {
			add(SNIChildName(cluster, sp.Infra, t.Host))
		}
	}
	return out
}
