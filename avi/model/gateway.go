package model

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/objects"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// GatewayListener is one listener of a Gateway that vipgate programs: a
// port of the Gateway's virtual service.
type GatewayListener struct {
	Name string
	Port int32
	// Protocol is "HTTP" or "HTTPS".
	Protocol string
	// Hostname is the listener's hostname, "" for any. An HTTPS listener
	// with one is an SNI child of the Gateway's virtual service.
	Hostname string
	// Certs are an HTTPS listener's certificates (its certificateRefs,
	// usable ones only; Avi takes one RSA and one EC).
	Certs []*Cert
}

// GatewayHTTPMatch is one match of an HTTPRoute rule.
type GatewayHTTPMatch struct {
	// Path is the matched path ("/" when the route leaves it out) and
	// PathMatch MatchEquals (Exact) or MatchBeginsWith (PathPrefix).
	Path, PathMatch string
	// Headers must all be present with exactly these values (names
	// compare case-insensitively, values case-sensitively).
	Headers []GatewayHeader
	// Method is the request method required, "" for any.
	Method string
}

// GatewayHeader is an Exact header match.
type GatewayHeader struct{ Name, Value string }

// GatewayRedirect is a RequestRedirect filter (rules.ParseHTTPRouteRule's).
type GatewayRedirect = rules.RouteRedirect

// GatewayBackend is one backendRef of a rule: a Service port and its weight.
type GatewayBackend struct {
	Namespace, Name string
	Port            int32
	Weight          int32
	// Protocol of the Service port ("" matches any; TCP and UDP routes set it).
	Protocol string
}

// GatewayAttachment is where a route serves: the ports of the listeners it
// attached to and the hostnames it answers for there (route hostnames
// intersected with the listener's; none means any host). A hostname
// "*.example.com" matches every name ending in ".example.com".
type GatewayAttachment struct {
	// Listener names the listener; its port is in Ports.
	Listener string
	Ports    []int32
	Hosts    []string
}

// GatewayRouteRule is one rule of an HTTPRoute.
type GatewayRouteRule struct {
	Matches  []GatewayHTTPMatch
	Backends []GatewayBackend
	// Redirect answers the rule's requests with a redirect instead.
	Redirect *GatewayRedirect
	// RequestHeaders and ResponseHeaders modify the headers the backend
	// and the client see; Rewrite changes the Host header and path the
	// backend sees. Ignored with Redirect.
	RequestHeaders, ResponseHeaders *rules.HeaderModifier
	Rewrite                         *rules.URLRewrite
}

// GatewayHTTPRoute is one HTTPRoute attached to the Gateway.
type GatewayHTTPRoute struct {
	Namespace, Name string
	Attachments     []GatewayAttachment
	Rules           []GatewayRouteRule
}

// GatewayL4Listener is a TCP or UDP listener and the backend of the
// TCPRoute or UDPRoute attached to it (nil: none yet, the port is not opened).
type GatewayL4Listener struct {
	Name     string
	Port     int32
	Protocol string // "TCP" or "UDP"
	Backend  *GatewayBackend
	// Route is "<ns>/<name>" of the route, for the pool's name.
	Route string
}

// GatewayL4Name is the L4 virtual service of a Gateway's TCP and UDP
// listeners, on the Gateway's VsVip.
func GatewayL4Name(gatewayVS string) string { return gatewayVS + "-L4" }

// GatewayInput is everything BuildGateway reads.
type GatewayInput struct {
	Settings *config.Settings
	Snapshot *inventory.Snapshot
	// Infra is the AviInfraSetting of the Gateway's class, or nil.
	Infra           *v1beta1.AviInfraSetting
	Namespace, Name string
	// RequestedIP is the spec.addresses IPAddress, "" for an allocated VIP.
	RequestedIP string
	Listeners   []GatewayListener
	// Routes in precedence order for ties (oldest first, then namespace/name).
	Routes []GatewayHTTPRoute
	// L4Listeners are the TCP and UDP listeners.
	L4Listeners []GatewayL4Listener
	// Backends are the Services routes point at, keyed "<ns>/<name>".
	Backends      map[string]Member
	NodeAddresses []string
	// Shown are the addresses the Gateway's status shows: its VsVip,
	// created again after it was lost on the controller, asks for them
	// (Set.KeepVIP).
	Shown []string
}

// BuildGateway returns the desired objects of a Gateway: its VsVip, one
// virtual service with a port per listener port, and for its HTTPRoutes a
// pool per backend, a pool group per rule (members weighted by the
// backends' weights) and an HTTPPolicySet whose rules match port, host and
// path in Gateway API precedence order. With HTTPS listeners the virtual
// service is a VH parent (SSL on their ports) and each HTTPS listener with
// a hostname is an SNI child carrying that listener's certificates and the
// routes attached to it, since an Avi virtual service presents one RSA and
// one EC certificate at most; an HTTPS listener without a hostname puts
// its certificates on the parent. The set is L7-style: the applier finds
// its objects through the virtual services' references.
func BuildGateway(in GatewayInput) (*Set, error) {
	s := in.Settings
	cluster := s.AKOSettings.ClusterName
	name := rules.GatewayName(cluster, in.Namespace, in.Name)
	set := &Set{Owner: name, CreatedBy: s.CreatedBy(), OwnedBy: ownership.GatewayOwner(in.Namespace, in.Name), ClusterID: s.ClusterID,
		Tenant: s.ControllerSettings.TenantName, L7: true}
	vips, err := buildVips(L4Input{Settings: s, Infra: in.Infra, Snapshot: in.Snapshot}, in.RequestedIP)
	if err != nil {
		return nil, err
	}
	vsvip := &objects.VsVip{Name: ptr.To(name), CloudRef: ptr.To(Ref("cloud", s.ControllerSettings.CloudName)),
		VrfContextRef: ptr.To(Ref("vrfcontext", s.VRF())), Vip: vips}
	if rhi, peerLabels := rhiSettings(s, in.Infra); rhi && len(peerLabels) > 0 {
		vsvip.BgpPeerLabels = peerLabels
	}
	set.VsVips = []*objects.VsVip{vsvip}
	if kept := KeptVIP(in.Shown, vsvip, in.Snapshot); kept != nil {
		set.KeepVIP = map[string]map[string]string{name: kept}
	}
	cloudRef, vrfRef, segRef := Ref("cloud", s.ControllerSettings.CloudName), Ref("vrfcontext", s.VRF()), Ref("serviceenginegroup", seGroup(s, in.Infra))
	vs := &objects.VirtualService{
		Name: ptr.To(name), Type: ptr.To(VSTypeNormal), CloudRef: ptr.To(cloudRef), VrfContextRef: ptr.To(vrfRef), SeGroupRef: ptr.To(segRef),
		VsvipRef: ptr.To(Ref(TypeVsVip, name)), CreatedBy: ptr.To(s.CreatedBy()),
		ApplicationProfileRef: ptr.To(Ref("applicationprofile", AppProfileHTTP)),
	}
	ssl := map[int32]bool{}
	var ports []int32
	// vsOf maps each listener to the virtual service serving its routes.
	vsOf := map[string]string{}
	var children []*objects.VirtualService
	parentCerts := []string(nil)
	for _, l := range in.Listeners {
		if !slices.Contains(ports, l.Port) {
			ports = append(ports, l.Port)
		}
		vsOf[l.Name] = name
		if l.Protocol != "HTTPS" {
			continue
		}
		ssl[l.Port] = true
		var refs []string
		for i, c := range l.Certs {
			cn := limitName(cluster, name+"_"+l.Name+"-"+strconv.Itoa(i))
			set.SSLKeyAndCertificates = append(set.SSLKeyAndCertificates, &objects.SSLKeyAndCertificate{
				Name: ptr.To(cn), Type: ptr.To("SSL_CERTIFICATE_TYPE_VIRTUALSERVICE"),
				Certificate: &objects.SSLCertificate{Certificate: ptr.To(string(c.Certificate))}, Key: ptr.To(string(c.Key)), CreatedBy: ptr.To(s.CreatedBy()),
			})
			refs = append(refs, Ref(TypeSSLKeyAndCertificate, cn))
		}
		if l.Hostname == "" {
			if parentCerts == nil {
				parentCerts = refs
			}
			continue
		}
		child := limitName(cluster, name+"_"+l.Name)
		vsOf[l.Name] = child
		children = append(children, &objects.VirtualService{
			Name: ptr.To(child), Type: ptr.To(VSTypeVHChild), CloudRef: ptr.To(cloudRef), VrfContextRef: ptr.To(vrfRef), SeGroupRef: ptr.To(segRef),
			CreatedBy: ptr.To(s.CreatedBy()), VhParentVsRef: ptr.To(Ref(TypeVirtualService, name)), VhDomainName: []string{l.Hostname},
			ApplicationProfileRef: ptr.To(Ref("applicationprofile", AppProfileSecureHTTP)), SslProfileRef: ptr.To(Ref("sslprofile", SSLProfileStandard)),
			SslKeyAndCertificateRefs: refs,
		})
	}
	slices.Sort(ports)
	for _, p := range ports {
		svc := &objects.Service{Port: ptr.To(uint32(p))}
		if ssl[p] {
			svc.EnableSsl = ptr.To(true)
		}
		vs.Services = append(vs.Services, svc)
	}
	if len(ssl) > 0 {
		vs.Type = ptr.To(VSTypeVHParent)
		vs.SslProfileRef = ptr.To(Ref("sslprofile", SSLProfileStandard))
		// The controller refuses an SSL port without a certificate; names
		// no listener claims get the controller's default one.
		vs.SslKeyAndCertificateRefs = parentCerts
		if len(parentCerts) == 0 {
			vs.SslKeyAndCertificateRefs = []string{Ref(TypeSSLKeyAndCertificate, DefaultCertificate)}
		}
	}
	if rhi, peerLabels := rhiSettings(s, in.Infra); rhi {
		vs.EnableRhi = ptr.To(true)
		if len(peerLabels) > 0 {
			vs.BgpPeerLabels = peerLabels
		}
	}
	set.VirtualServices = append([]*objects.VirtualService{vs}, children...)
	attachRoutePolicies(set, gatewayRoutes(in, set, vsOf), s.CreatedBy())
	if l4 := gatewayL4(in, set, name); l4 != nil {
		set.VirtualServices = append(set.VirtualServices, l4)
	}
	set.stamp(Markers(s, set.OwnedBy))
	return set, nil
}

// attachRoutePolicies gives each virtual service of set that routes
// requests its HTTPPolicySet (named after it), with the response rules when
// a route modifies responses.
func attachRoutePolicies(set *Set, byVS map[string]*vsPolicies, createdBy string) {
	for _, v := range set.VirtualServices {
		p := byVS[*v.Name]
		if p == nil || len(p.requests) == 0 {
			continue
		}
		ps := policySet(*v.Name, createdBy, p.requests, nil)
		if p.anyResponse {
			for i, r := range p.responses {
				r.Index = ptr.To(int32(i + 1))
			}
			ps.HTTPResponsePolicy = &objects.HTTPResponsePolicy{Rules: p.responses}
		}
		set.HTTPPolicySets = append(set.HTTPPolicySets, ps)
		v.HTTPPolicies = []*objects.HTTPPolicies{{Index: ptr.To(int32(11)), HTTPPolicySetRef: ptr.To(Ref(TypeHTTPPolicySet, *v.Name))}}
	}
}

// gatewayL4 adds a pool per TCP or UDP listener with a backend and returns
// the L4 virtual service serving them on the Gateway's VsVip (an HTTP
// virtual service does not carry L4 ports: Avi sets the application profile
// per virtual service, as AKO builds L4 Gateways), or nil when there is none.
func gatewayL4(in GatewayInput, set *Set, gwName string) *objects.VirtualService {
	s := in.Settings
	var ports []svcPort
	for _, l := range in.L4Listeners {
		if l.Backend == nil {
			continue
		}
		pool := limitName(s.AKOSettings.ClusterName, gwName+"_"+l.Name+"-"+l.Protocol+"-"+strconv.Itoa(int(l.Port)))
		hm := HealthMonitorTCP
		if l.Protocol == "UDP" {
			hm = HealthMonitorUDP
		}
		set.Pools = append(set.Pools, &objects.Pool{
			Name: ptr.To(pool), CloudRef: ptr.To(Ref("cloud", s.ControllerSettings.CloudName)), VrfRef: ptr.To(Ref("vrfcontext", s.VRF())),
			CreatedBy: ptr.To(s.CreatedBy()), Servers: backendServers(in, GatewayBackend{Namespace: l.Backend.Namespace, Name: l.Backend.Name, Port: l.Backend.Port, Protocol: l.Protocol}), HealthMonitorRefs: []string{Ref("healthmonitor", hm)},
		})
		ports = append(ports, svcPort{port: l.Port, proto: l.Protocol, pool: pool})
	}
	if len(ports) == 0 {
		return nil
	}
	slices.SortFunc(set.Pools, func(a, b *objects.Pool) int { return strings.Compare(*a.Name, *b.Name) })
	slices.SortFunc(ports, func(a, b svcPort) int { return cmp.Or(cmp.Compare(a.port, b.port), strings.Compare(a.proto, b.proto)) })
	vs := l4VirtualService(L4Input{Settings: s, Infra: in.Infra}, gwName, ports)
	vs.Name = ptr.To(GatewayL4Name(gwName))
	vs.Markers = AKOMarkers{Namespace: in.Namespace, GatewayName: in.Name}.labels()
	return vs
}

// gwMatch is one policy rule to be: a match of a route rule at one attachment.
type gwMatch struct {
	vs                 string
	route, rule, match int
	att                GatewayAttachment
	host               string // the most specific host of the attachment, for ordering
	m                  GatewayHTTPMatch
	group              string
	redirect           *GatewayRedirect
	// spec is the route rule, for its header modifiers and rewrite.
	spec *GatewayRouteRule
	// scheme is the listener's: what a redirect keeps when it sets none.
	scheme string
}

// gatewayRoutes adds the routes' pools and pool groups to set and returns
// the policy rules, most specific first: exact hostnames before wildcards
// before none, Exact paths before prefixes, longer prefixes first, then
// route order, rule order and match order (Gateway API's precedence).
func gatewayRoutes(in GatewayInput, set *Set, vsOf map[string]string) map[string]*vsPolicies {
	s := in.Settings
	gwName := set.Owner
	cloudRef, vrfRef := Ref("cloud", s.ControllerSettings.CloudName), Ref("vrfcontext", s.VRF())
	scheme := map[string]string{}
	for _, l := range in.Listeners {
		scheme[l.Name] = l.Protocol
	}
	var ms []gwMatch
	for ri, r := range in.Routes {
		for ki, rule := range r.Rules {
			group := limitName(s.AKOSettings.ClusterName, gwName+"_"+r.Namespace+"-"+r.Name+"-"+strconv.Itoa(ki))
			pg := &objects.PoolGroup{Name: ptr.To(group), CloudRef: ptr.To(cloudRef), CreatedBy: ptr.To(s.CreatedBy())}
			for bi, b := range rule.Backends {
				if b.Weight <= 0 {
					continue
				}
				pool := limitName(s.AKOSettings.ClusterName, group+"-"+strconv.Itoa(bi))
				set.Pools = append(set.Pools, &objects.Pool{
					Name: ptr.To(pool), CloudRef: ptr.To(cloudRef), VrfRef: ptr.To(vrfRef), CreatedBy: ptr.To(s.CreatedBy()),
					Servers:           backendServers(in, b),
					HealthMonitorRefs: []string{Ref("healthmonitor", HealthMonitorTCP)},
				})
				pg.Members = append(pg.Members, &objects.PoolGroupMember{PoolRef: ptr.To(Ref(TypePool, pool)), Ratio: ptr.To(uint32(b.Weight))})
			}
			set.PoolGroups = append(set.PoolGroups, pg)
			matches := rule.Matches
			if len(matches) == 0 {
				matches = []GatewayHTTPMatch{{Path: "/", PathMatch: MatchBeginsWith}}
			}
			for _, att := range r.Attachments {
				for mi, m := range matches {
					for _, hosts := range splitHosts(att.Hosts) {
						a := GatewayAttachment{Listener: att.Listener, Ports: att.Ports, Hosts: hosts}
						host := ""
						if len(hosts) > 0 {
							host = hosts[0]
						}
						ms = append(ms, gwMatch{vs: vsOf[att.Listener], route: ri, rule: ki, match: mi, att: a, host: host, m: m, group: group, redirect: rule.Redirect, scheme: scheme[att.Listener], spec: &r.Rules[ki]})
					}
				}
			}
		}
	}
	slices.SortFunc(set.Pools, func(a, b *objects.Pool) int { return strings.Compare(*a.Name, *b.Name) })
	slices.SortFunc(set.PoolGroups, func(a, b *objects.PoolGroup) int { return strings.Compare(*a.Name, *b.Name) })
	slices.SortStableFunc(ms, func(a, b gwMatch) int {
		return cmp.Or(cmp.Compare(hostRank(a.host), hostRank(b.host)), cmp.Compare(len(b.host), len(a.host)),
			cmp.Compare(pathRank(a.m.PathMatch), pathRank(b.m.PathMatch)), cmp.Compare(len(b.m.Path), len(a.m.Path)),
			cmp.Compare(methodRank(a.m.Method), methodRank(b.m.Method)), cmp.Compare(len(b.m.Headers), len(a.m.Headers)),
			cmp.Compare(a.route, b.route), cmp.Compare(a.rule, b.rule), cmp.Compare(a.match, b.match))
	})
	out := map[string]*vsPolicies{}
	for _, m := range ms {
		if m.vs == "" {
			continue // a listener that is not programmed
		}
		p := out[m.vs]
		if p == nil {
			p = &vsPolicies{}
			out[m.vs] = p
		}
		for _, pm := range pathMatches(m.m) {
			r := gatewayRule(gwName, len(p.requests), m, pm)
			p.requests = append(p.requests, r)
			rsp := &objects.HTTPResponseRule{Name: r.Name, Enable: ptr.To(true), Match: r.Match}
			if m.redirect == nil && m.spec.ResponseHeaders != nil {
				rsp.HdrAction = hdrActions(m.spec.ResponseHeaders)
				p.anyResponse = p.anyResponse || len(rsp.HdrAction) > 0
			}
			p.responses = append(p.responses, rsp)
		}
	}
	return out
}

// vsPolicies are the policy rules of one virtual service. Response rules
// mirror the request rules one for one, in the same order, so the first
// one matching a request (the controller matches them against the request
// as the client sent it) is the rule that routed it: a route's
// ResponseHeaderModifier never reaches the answers of a more specific rule
// routed elsewhere. They are sent only when some rule modifies responses.
type vsPolicies struct {
	requests    []*objects.HTTPRequestRule
	responses   []*objects.HTTPResponseRule
	anyResponse bool
}

// hdrActions expresses a header modifier: Set as HTTP_REPLACE_HDR, Add as
// HTTP_ADD_HDR, Remove as HTTP_REMOVE_HDR, in that order (Gateway API's).
func hdrActions(m *rules.HeaderModifier) []*objects.HTTPHdrAction {
	var out []*objects.HTTPHdrAction
	add := func(action, name string, value *string) {
		a := &objects.HTTPHdrAction{Action: ptr.To(action), Hdr: &objects.HTTPHdrData{Name: ptr.To(name)}, HdrIndex: ptr.To(uint32(len(out)))}
		if value != nil {
			a.Hdr.Value = &objects.HTTPHdrValue{Val: value}
		}
		out = append(out, a)
	}
	for _, h := range m.Set {
		add("HTTP_REPLACE_HDR", h.Name, ptr.To(h.Value))
	}
	for _, h := range m.Add {
		add("HTTP_ADD_HDR", h.Name, ptr.To(h.Value))
	}
	for _, n := range m.Remove {
		add("HTTP_REMOVE_HDR", n, nil)
	}
	return out
}

// rewriteAction expresses a URLRewrite for one Avi path match pm of the
// rule's match m. The controller builds the path as "/" followed by the
// tokens: constant strings and ranges of the request's path segments
// (numbered from 0). A ReplacePrefixMatch of prefix P by R is, on the
// EQUALS P rule, the constant R, and on the BEGINS_WITH P/ rule R/
// followed by the segments after P's; the query is kept, as Gateway API
// requires.
func rewriteAction(rw *rules.URLRewrite, m GatewayHTTPMatch, pm *objects.PathMatch) *objects.HTTPRewriteURLAction {
	str := func(v string) *objects.URIParamToken {
		return &objects.URIParamToken{Type: ptr.To("URI_TOKEN_TYPE_STRING"), StrValue: ptr.To(v)}
	}
	tokenized := func(ts ...*objects.URIParamToken) *objects.URIParam {
		return &objects.URIParam{Type: ptr.To("URI_PARAM_TYPE_TOKENIZED"), Tokens: ts}
	}
	// path is a constant path as a token: without its leading "/", which
	// the controller puts in front; "/" alone stays (a constant must not be empty).
	path := func(p string) *objects.URIParamToken {
		if t := strings.TrimPrefix(p, "/"); t != "" {
			return str(t)
		}
		return str("/")
	}
	a := &objects.HTTPRewriteURLAction{}
	if rw.Hostname != "" {
		a.HostHdr = tokenized(str(rw.Hostname))
	}
	switch {
	case rw.FullPath != nil:
		a.Path = tokenized(path(*rw.FullPath))
	case rw.Prefix != nil:
		repl := strings.Trim(*rw.Prefix, "/")
		if ptr.Deref(pm.MatchCriteria, "") == MatchEquals {
			a.Path = tokenized(path(repl))
			break
		}
		prefix := strings.Trim(m.Path, "/")
		skip := uint32(0)
		if prefix != "" {
			skip = uint32(strings.Count(prefix, "/") + 1)
		}
		rest := &objects.URIParamToken{Type: ptr.To("URI_TOKEN_TYPE_PATH"), StartIndex: ptr.To(skip), EndIndex: ptr.To(uint32(65535))}
		if repl == "" {
			a.Path = tokenized(rest)
		} else {
			a.Path = tokenized(str(repl+"/"), rest)
		}
	}
	if a.Path != nil {
		a.Query = &objects.URIParamQuery{KeepQuery: ptr.To(true)}
	}
	if a.HostHdr == nil && a.Path == nil {
		return nil
	}
	return a
}

// pathMatches expresses a Gateway API path match in Avi path matches. A
// PathPrefix matches whole path elements ("/api" matches "/api" and
// "/api/v1", not "/apix"), which BEGINS_WITH alone does not: it becomes
// EQUALS "/api" and BEGINS_WITH "/api/".
func pathMatches(m GatewayHTTPMatch) []*objects.PathMatch {
	pm := func(crit, v string) *objects.PathMatch {
		return &objects.PathMatch{MatchCriteria: ptr.To(crit), MatchCase: ptr.To("SENSITIVE"), MatchStr: []string{v}}
	}
	if m.PathMatch == MatchEquals {
		return []*objects.PathMatch{pm(MatchEquals, m.Path)}
	}
	p := strings.TrimRight(m.Path, "/")
	if p == "" {
		return []*objects.PathMatch{pm(MatchBeginsWith, "/")}
	}
	return []*objects.PathMatch{pm(MatchEquals, p), pm(MatchBeginsWith, p+"/")}
}

// gatewayRule is the policy rule number i: m's port and host match with
// path match pm, switching to the rule's pool group.
func gatewayRule(gwName string, i int, m gwMatch, pm *objects.PathMatch) *objects.HTTPRequestRule {
	mt := &objects.MatchTarget{
		Path:   pm,
		VsPort: &objects.PortMatch{MatchCriteria: ptr.To("IS_IN")},
	}
	for _, p := range m.att.Ports {
		mt.VsPort.Ports = append(mt.VsPort.Ports, int64(p))
	}
	if len(m.att.Hosts) > 0 {
		if strings.HasPrefix(m.att.Hosts[0], "*.") {
			var suffixes []string
			for _, h := range m.att.Hosts {
				suffixes = append(suffixes, strings.TrimPrefix(h, "*"))
			}
			mt.HostHdr = &objects.HostHdrMatch{MatchCriteria: ptr.To("HDR_ENDS_WITH"), MatchCase: ptr.To("INSENSITIVE"), Value: suffixes}
		} else {
			mt.HostHdr = &objects.HostHdrMatch{MatchCriteria: ptr.To("HDR_EQUALS"), MatchCase: ptr.To("INSENSITIVE"), Value: m.att.Hosts}
		}
	}
	for _, h := range m.m.Headers {
		mt.Hdrs = append(mt.Hdrs, &objects.HdrMatch{Hdr: ptr.To(h.Name), MatchCriteria: ptr.To("HDR_EQUALS"), MatchCase: ptr.To("SENSITIVE"), Value: []string{h.Value}})
	}
	if m.m.Method != "" {
		mt.Method = &objects.MethodMatch{MatchCriteria: ptr.To("IS_IN"), Methods: []string{"HTTP_METHOD_" + m.m.Method}}
	}
	r := &objects.HTTPRequestRule{
		Name: ptr.To(fmt.Sprintf("%s-%d", strings.TrimPrefix(m.group, gwName+"_"), i)), Enable: ptr.To(true), Match: mt,
	}
	if rd := m.redirect; rd != nil {
		r.RedirectAction = redirectAction(rd, m.scheme, m.att.Ports)
		return r
	}
	r.SwitchingAction = &objects.HTTPSwitchingAction{Action: ptr.To("HTTP_SWITCHING_SELECT_POOLGROUP"), PoolGroupRef: ptr.To(Ref(TypePoolGroup, m.group))}
	// The rule that routes the request also changes it: whether the
	// controller goes on to apply later matching rules is not known.
	if m.spec.RequestHeaders != nil {
		r.HdrAction = hdrActions(m.spec.RequestHeaders)
	}
	if m.spec.Rewrite != nil {
		r.RewriteURLAction = rewriteAction(m.spec.Rewrite, m.m, pm)
	}
	return r
}

// redirectAction expresses a RequestRedirect: Avi's redirect needs the
// protocol, so an unset scheme is the listener's, and an unset port is the
// listener's when the scheme is kept, else the scheme's well-known one, as
// Gateway API specifies.
func redirectAction(rd *GatewayRedirect, listenerScheme string, ports []int32) *objects.HTTPRedirectAction {
	scheme := strings.ToUpper(rd.Scheme)
	if scheme == "" {
		scheme = listenerScheme
	}
	a := &objects.HTTPRedirectAction{Protocol: ptr.To(scheme), KeepQuery: ptr.To(true), StatusCode: ptr.To("HTTP_REDIRECT_STATUS_CODE_302")}
	if rd.StatusCode == 301 {
		a.StatusCode = ptr.To("HTTP_REDIRECT_STATUS_CODE_301")
	}
	switch {
	case rd.Port != 0:
		a.Port = ptr.To(uint32(rd.Port))
	case rd.Scheme == "" && len(ports) == 1:
		a.Port = ptr.To(uint32(ports[0]))
	case scheme == "HTTPS":
		a.Port = ptr.To(uint32(443))
	default:
		a.Port = ptr.To(uint32(80))
	}
	if rd.Hostname != "" {
		a.Host = &objects.URIParam{Type: ptr.To("URI_PARAM_TYPE_TOKENIZED"),
			Tokens: []*objects.URIParamToken{{Type: ptr.To("URI_TOKEN_TYPE_STRING"), StrValue: ptr.To(rd.Hostname)}}}
	}
	return a
}

// splitHosts separates exact names from wildcards (one Avi host match has
// one criterion); no hosts gives one empty group (any host).
func splitHosts(hosts []string) [][]string {
	if len(hosts) == 0 {
		return [][]string{nil}
	}
	var exact, wild []string
	for _, h := range hosts {
		if strings.HasPrefix(h, "*.") {
			wild = append(wild, h)
		} else {
			exact = append(exact, h)
		}
	}
	var out [][]string
	for _, g := range [][]string{exact, wild} {
		if len(g) > 0 {
			slices.Sort(g)
			out = append(out, slices.Compact(g))
		}
	}
	return out
}

func hostRank(h string) int {
	switch {
	case h == "":
		return 2
	case strings.HasPrefix(h, "*."):
		return 1
	}
	return 0
}

func methodRank(m string) int {
	if m != "" {
		return 0
	}
	return 1
}

func pathRank(m string) int {
	if m == MatchEquals {
		return 0
	}
	return 1
}

// backendServers resolves a backend's Service port and returns its servers.
func backendServers(in GatewayInput, b GatewayBackend) []*objects.Server {
	m, ok := in.Backends[b.Namespace+"/"+b.Name]
	if !ok || m.Service == nil {
		return nil
	}
	for _, p := range m.Service.Spec.Ports {
		proto := string(p.Protocol)
		if proto == "" {
			proto = "TCP"
		}
		if p.Port == b.Port && (b.Protocol == "" || proto == b.Protocol) {
			return servers(L4Input{Settings: in.Settings, NodeAddresses: in.NodeAddresses}, m, p)
		}
	}
	return nil
}

// GatewayAddresses returns the VIPs of a Gateway's VsVip as the controller has it.
func GatewayAddresses(v *objects.VsVip) []string {
	var out []string
	for _, a := range AllocatedAddresses(v) {
		out = append(out, a.String())
	}
	return out
}
