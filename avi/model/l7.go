package model

import (
	"cmp"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/objects"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
)

// L7 object types and the profiles AKO gives L7 virtual services.
const (
	TypePoolGroup            = "poolgroup"
	TypeHTTPPolicySet        = "httppolicyset"
	TypeSSLKeyAndCertificate = "sslkeyandcertificate"

	// AppProfileHTTP is the shard (parent) and insecure dedicated VS profile;
	// AppProfileSecureHTTP the SNI child and secure dedicated VS profile (AKO's).
	AppProfileHTTP       = "System-HTTP"
	AppProfileSecureHTTP = "System-Secure-HTTP"
	SSLProfileStandard   = "System-Standard"
	// DefaultCertificate is the controller's built-in certificate, served by
	// shared L7 parents for names no SNI child claims.
	DefaultCertificate = "System-Default-Cert"

	VSTypeNormal   = "VS_TYPE_NORMAL"
	VSTypeVHParent = "VS_TYPE_VH_PARENT"
	VSTypeVHChild  = "VS_TYPE_VH_CHILD"

	// Match criteria for Ingress pathTypes: Prefix and ImplementationSpecific
	// are BEGINS_WITH (as AKO does), Exact is EQUALS.
	MatchBeginsWith = "BEGINS_WITH"
	MatchEquals     = "EQUALS"

	// maxNameLen is the longest object name vipgate sends; longer names are hashed.
	maxNameLen = 255
)

// ShardName is the parent virtual service serving host: "<cluster>--Shared-L7-<n>"
// with n = fnv32a(host) mod the shard count (AKO's bucketing), or
// "<cluster>--<host>-L7-dedicated" for shard size DEDICATED. An
// AviInfraSetting puts its hosts on shards of their own, "<cluster>--<infra>-Shared-L7-<n>",
// because those carry another SE group or VIP network. The shard size is the
// AviInfraSetting's l7Settings.shardSize when set, else L7Settings.shardVSSize.
func ShardName(s *config.Settings, infra *v1beta1.AviInfraSetting, host string) string {
	prefix := s.AKOSettings.ClusterName + "--"
	if infra != nil {
		prefix += infra.Name + "-"
	}
	n := shardCount(s, infra)
	if n == 0 {
		return limitName(s.AKOSettings.ClusterName, prefix+host+"-L7-dedicated")
	}
	return prefix + "Shared-L7-" + strconv.Itoa(int(ShardIndex(host, n)))
}

// shardCount is the number of shared virtual services for the AviInfraSetting's
// shard size, else L7Settings.shardVSSize; 0 means DEDICATED.
func shardCount(s *config.Settings, infra *v1beta1.AviInfraSetting) int {
	if infra != nil && infra.Spec.L7Settings.ShardSize != "" {
		return config.ShardCount(infra.Spec.L7Settings.ShardSize)
	}
	return config.ShardCount(s.L7Settings.ShardVSSize)
}

// ShardIndex is fnv32a(host) mod n, AKO's bucket for a host.
func ShardIndex(host string, n int) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(host))
	return h.Sum32() % uint32(n)
}

// L7PoolName is the pool (and pool group) of one Ingress path:
// "<cluster>--<host>_<path>-<ns>-<ingress>" with "/" in host+path replaced by
// "_" (AKO's priority label), so "/" gives "<host>_" and "/api/v1" "<host>_api_v1".
// Characters other than letters, digits, '.', '-' and '_' also become '_'.
// Every L7 pool name contains '_', which no L4 pool name does (Kubernetes
// names have none): the applier lists L7 pools by that.
func L7PoolName(cluster, host, path, namespace, ingress string) string {
	label := sanitize(host + path)
	if !strings.Contains(label, "_") {
		label += "_"
	}
	return limitName(cluster, cluster+"--"+label+"-"+namespace+"-"+ingress)
}

// SNIChildName is the SNI child virtual service of a secure host, and the name
// of its SSLKeyAndCertificate and HTTPPolicySet: "<cluster>--<host>".
func SNIChildName(cluster, host string) string { return limitName(cluster, cluster+"--"+host) }

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// limitName keeps names within the controller's limit: a longer one becomes
// "<cluster>--l7_<sha1 of the name>", stable and still containing '_'.
func limitName(cluster, name string) string {
	if len(name) <= maxNameLen {
		return name
	}
	sum := sha1.Sum([]byte(name))
	return cluster + "--l7_" + hex.EncodeToString(sum[:])
}

// L7Ingress is one Ingress vipgate owns, with the AviInfraSetting its
// IngressClass names (nil when none).
type L7Ingress struct {
	Ingress *networkingv1.Ingress
	Infra   *v1beta1.AviInfraSetting
}

// Route is one winning host/path of an Ingress.
type Route struct {
	Host string
	// Path is the matched path ("/" when the Ingress leaves it empty).
	Path string
	// Match is MatchBeginsWith or MatchEquals.
	Match string
	// Namespace and Ingress name the Ingress the route comes from.
	Namespace, Ingress string
	Backend            networkingv1.IngressServiceBackend
	// Pool names the route's pool and pool group.
	Pool string
}

// TLSHost is a secure host and where its certificate comes from.
type TLSHost struct {
	Host string
	// Namespace and SecretName of the Ingress's tls[] entry; SecretName ""
	// means the default certificate (router-certs-default).
	Namespace, SecretName string
	// Ingress is "<ns>/<name>" of the Ingress whose tls[] entry is used.
	Ingress string
}

// ShardPlan is everything one parent virtual service serves.
type ShardPlan struct {
	Name      string
	Infra     *v1beta1.AviInfraSetting
	Dedicated bool
	// Routes sorted by host, then rule order (see sortRoutes).
	Routes []Route
	// TLS lists the secure hosts that have routes, by host.
	TLS []TLSHost
	// Ingresses are "<ns>/<name>" of the Ingresses with a route on the shard, sorted.
	Ingresses []string
}

// Conflict is a host or host/path an Ingress asked for but did not get.
type Conflict struct {
	// Ingress is "<ns>/<name>" of the loser.
	Ingress string
	Host    string
	// Path is "" when the whole host was lost.
	Path string
	// Winner is "<ns>/<name>" of the Ingress that holds it.
	Winner string
	// Reason says why, for the Event.
	Reason string
}

// L7Plan resolves who serves what across every Ingress vipgate owns.
type L7Plan struct {
	Shards map[string]*ShardPlan
	// HostShard maps each served host to its shard.
	HostShard map[string]string
	// IngressHosts maps "<ns>/<name>" to the hosts it has at least one route on, sorted.
	IngressHosts map[string][]string
	Conflicts    []Conflict
	// Skipped lists per Ingress what was ignored and why (no host, resource backends).
	Skipped map[string][]string
}

// CandidateShards lists every shard that can exist under the settings: the
// shared shards of the global settings and of each AviInfraSetting, and the
// dedicated ones of hosts (when a shard size is DEDICATED). A change that can
// move hosts anywhere (an IngressClass, an AviInfraSetting, the default
// certificate) requeues them all; there are at most 8 per setting.
func CandidateShards(s *config.Settings, infras []*v1beta1.AviInfraSetting, hosts []string) []string {
	var out []string
	for _, infra := range append([]*v1beta1.AviInfraSetting{nil}, infras...) {
		n := shardCount(s, infra)
		if n == 0 {
			for _, h := range hosts {
				out = append(out, ShardName(s, infra, h))
			}
			continue
		}
		for i := range n {
			prefix := s.AKOSettings.ClusterName + "--"
			if infra != nil {
				prefix += infra.Name + "-"
			}
			out = append(out, prefix+"Shared-L7-"+strconv.Itoa(i))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// IsShardName reports whether a virtual service name is an L7 shard's (a
// shared or dedicated parent); L4 names never are, since Kubernetes names
// have no upper case.
func IsShardName(cluster, name string) bool {
	rest, ok := strings.CutPrefix(name, cluster+"--")
	return ok && (strings.Contains(rest, "Shared-L7-") || strings.HasSuffix(rest, "-L7-dedicated"))
}

// ShardsOf returns the shards an Ingress's hosts map to (whether or not it won them).
func ShardsOf(s *config.Settings, li L7Ingress) []string {
	var out []string
	for _, r := range li.Ingress.Spec.Rules {
		if r.Host != "" {
			out = append(out, ShardName(s, li.Infra, r.Host))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// PlanL7 decides which Ingress serves each host and host/path. Ingresses are
// ranked oldest first (creationTimestamp, then namespace/name); a host belongs
// to the shard of its oldest Ingress, and under fqdnReusePolicy Strict to that
// Ingress's namespace; a host/path (with its match type) belongs to the oldest
// Ingress that routes it. Later claimants lose that host or path and are
// listed in Conflicts. Rules without a host and resource backends are skipped
// (AKO needs a host to place a route on a shard).
func PlanL7(s *config.Settings, ings []L7Ingress) *L7Plan {
	ranked := slices.Clone(ings)
	slices.SortStableFunc(ranked, func(a, b L7Ingress) int {
		x, y := a.Ingress, b.Ingress
		if c := x.CreationTimestamp.Compare(y.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(x.Namespace, y.Namespace), strings.Compare(x.Name, y.Name))
	})
	pl := &planner{s: s, hosts: map[string]hostOwner{}, paths: map[string]string{}, pools: map[string]bool{}, tlsDone: map[string]bool{},
		p: &L7Plan{Shards: map[string]*ShardPlan{}, HostShard: map[string]string{}, IngressHosts: map[string][]string{}, Skipped: map[string][]string{}}}
	for _, li := range ranked {
		pl.add(li)
	}
	for _, sp := range pl.p.Shards {
		sortRoutes(sp.Routes)
		slices.SortFunc(sp.TLS, func(a, b TLSHost) int { return strings.Compare(a.Host, b.Host) })
		slices.Sort(sp.Ingresses)
	}
	return pl.p
}

// hostOwner is the Ingress a host belongs to, and its shard.
type hostOwner struct {
	shard, namespace, ingress string
}

// planner holds what PlanL7 has decided so far, Ingress by Ingress in rank order.
type planner struct {
	s       *config.Settings
	p       *L7Plan
	hosts   map[string]hostOwner
	paths   map[string]string // host|match|path → winner
	pools   map[string]bool
	tlsDone map[string]bool
}

// add plans one Ingress: the hosts and paths it wins, what it loses and
// why, and the certificates of its secure hosts.
func (pl *planner) add(li L7Ingress) {
	ing, p := li.Ingress, pl.p
	key := ing.Namespace + "/" + ing.Name
	if ing.Spec.DefaultBackend != nil {
		p.Skipped[key] = append(p.Skipped[key], "spec.defaultBackend is not supported; route a host instead")
	}
	served := map[string]bool{}
	for ri, r := range ing.Spec.Rules {
		if r.Host == "" {
			p.Skipped[key] = append(p.Skipped[key], fmt.Sprintf("spec.rules[%d] has no host; vipgate places routes on a virtual service by host", ri))
			continue
		}
		if r.HTTP == nil {
			continue
		}
		shard := ShardName(pl.s, li.Infra, r.Host)
		if !pl.claimHost(key, ing.Namespace, r.Host, shard) {
			continue
		}
		for pi, hp := range r.HTTP.Paths {
			if hp.Backend.Service == nil {
				p.Skipped[key] = append(p.Skipped[key], fmt.Sprintf("spec.rules[%d].http.paths[%d] has a resource backend; only Service backends are supported", ri, pi))
				continue
			}
			if pl.addPath(li, key, r.Host, shard, hp) {
				served[r.Host] = true
			}
		}
	}
	for h := range served {
		p.IngressHosts[key] = append(p.IngressHosts[key], h)
	}
	slices.Sort(p.IngressHosts[key])
	// TLS: the oldest Ingress serving the host that lists it in tls[] decides the certificate.
	for _, t := range ing.Spec.TLS {
		for _, h := range t.Hosts {
			if !served[h] || pl.tlsDone[h] {
				continue
			}
			pl.tlsDone[h] = true
			sp := p.Shards[p.HostShard[h]]
			sp.TLS = append(sp.TLS, TLSHost{Host: h, Namespace: ing.Namespace, SecretName: t.SecretName, Ingress: key})
		}
	}
}

// claimHost gives host to the Ingress key unless an older Ingress holds it on
// another shard, or (fqdnReusePolicy Strict) in another namespace.
func (pl *planner) claimHost(key, namespace, host, shard string) bool {
	own, claimed := pl.hosts[host]
	switch {
	case !claimed:
		pl.hosts[host] = hostOwner{shard: shard, namespace: namespace, ingress: key}
		return true
	case own.shard != shard:
		pl.p.Conflicts = appendConflict(pl.p.Conflicts, Conflict{Ingress: key, Host: host, Winner: own.ingress,
			Reason: fmt.Sprintf("host %s is served by virtual service %s for Ingress %s (another IngressClass or AviInfraSetting)", host, own.shard, own.ingress)})
		return false
	case pl.s.L7Settings.FQDNReusePolicy == "Strict" && own.namespace != namespace:
		pl.p.Conflicts = appendConflict(pl.p.Conflicts, Conflict{Ingress: key, Host: host, Winner: own.ingress,
			Reason: fmt.Sprintf("host %s belongs to namespace %s (Ingress %s) and L7Settings.fqdnReusePolicy is Strict", host, own.namespace, own.ingress)})
		return false
	}
	return true
}

// addPath routes host+path to the Ingress key unless an older Ingress routes
// the same path with the same match; it reports whether the route was added.
func (pl *planner) addPath(li L7Ingress, key, host, shard string, hp networkingv1.HTTPIngressPath) bool {
	ing, p := li.Ingress, pl.p
	path := hp.Path
	if path == "" {
		path = "/"
	}
	match := MatchBeginsWith
	if hp.PathType != nil && *hp.PathType == networkingv1.PathTypeExact {
		match = MatchEquals
	}
	pk := host + "|" + match + "|" + path
	if w, taken := pl.paths[pk]; taken {
		if w != key {
			p.Conflicts = appendConflict(p.Conflicts, Conflict{Ingress: key, Host: host, Path: path, Winner: w,
				Reason: fmt.Sprintf("path %s of host %s is served by the older Ingress %s", path, host, w)})
		}
		return false
	}
	pl.paths[pk] = key
	cluster := pl.s.AKOSettings.ClusterName
	pool := L7PoolName(cluster, host, path, ing.Namespace, ing.Name)
	if pl.pools[pool] {
		// Same sanitized name (e.g. Exact and Prefix on one path): keep
		// names unique with a stable suffix.
		pool = limitName(cluster, pool+"-"+strconv.FormatUint(uint64(fnv32(match+path)), 16))
	}
	pl.pools[pool] = true
	sp := p.shard(shard, li.Infra, shardCount(pl.s, li.Infra) == 0)
	sp.Routes = append(sp.Routes, Route{Host: host, Path: path, Match: match, Namespace: ing.Namespace, Ingress: ing.Name,
		Backend: *hp.Backend.Service, Pool: pool})
	p.HostShard[host] = shard
	if !slices.Contains(sp.Ingresses, key) {
		sp.Ingresses = append(sp.Ingresses, key)
	}
	return true
}

func appendConflict(cs []Conflict, c Conflict) []Conflict {
	if slices.Contains(cs, c) {
		return cs
	}
	return append(cs, c)
}

func fnv32(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

func (p *L7Plan) shard(name string, infra *v1beta1.AviInfraSetting, dedicated bool) *ShardPlan {
	sp := p.Shards[name]
	if sp == nil {
		sp = &ShardPlan{Name: name, Infra: infra, Dedicated: dedicated}
		p.Shards[name] = sp
	}
	return sp
}

// sortRoutes orders routes as the policy evaluates them: by host, then
// EQUALS before BEGINS_WITH, then longer paths first, so the most specific
// rule matches first whatever order the Ingresses listed them in.
func sortRoutes(rs []Route) {
	slices.SortFunc(rs, func(a, b Route) int {
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		if a.Match != b.Match {
			if a.Match == MatchEquals {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(len(b.Path), len(a.Path)); c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(a.Path, b.Path), strings.Compare(a.Pool, b.Pool))
	})
}

// Cert is the PEM certificate chain and private key of a secure host.
type Cert struct {
	Certificate, Key []byte
}

// L7Input is everything BuildL7 reads for one shard.
type L7Input struct {
	Settings *config.Settings
	Snapshot *inventory.Snapshot
	Shard    *ShardPlan
	// Backends are the Services routes point at, keyed "<ns>/<name>", with
	// their EndpointSlices (ClusterIP mode). A missing Service gives an empty pool.
	Backends map[string]Member
	// Certs are the usable certificates by host. A TLS host without one is
	// not served over HTTPS (no SNI child); its HTTP requests still redirect
	// to HTTPS, so nothing secure is ever downgraded to plain HTTP.
	Certs map[string]*Cert
	// NodeAddresses are the pool servers in NodePort mode.
	NodeAddresses []string
}

// BuildL7 returns the desired objects of one shard: its VsVip and parent
// virtual service, a pool and pool group per route, an HTTPPolicySet routing
// host+path (plus an HTTP→HTTPS redirect per secure host), and per secure
// host an SNI child with its SSLKeyAndCertificate and HTTPPolicySet. A
// DEDICATED shard is one normal virtual service carrying the host's
// certificate itself. Objects come in creation order: parents before
// children.
func BuildL7(in L7Input) (*Set, error) {
	sp := in.Shard
	if sp == nil || len(sp.Routes) == 0 {
		return nil, fmt.Errorf("shard has no routes")
	}
	s := in.Settings
	set := &Set{Owner: sp.Name, CreatedBy: s.CreatedBy(), OwnedBy: ownership.OwnerL7, ClusterID: s.ClusterID,
		Tenant: s.ControllerSettings.TenantName, L7: true}
	vips, err := buildVips(L4Input{Settings: s, Infra: sp.Infra, Snapshot: in.Snapshot}, "")
	if err != nil {
		return nil, err
	}
	vsvip := &objects.VsVip{
		Name: ptr.To(sp.Name), CloudRef: ptr.To(Ref("cloud", s.ControllerSettings.CloudName)), VrfContextRef: ptr.To(Ref("vrfcontext", s.VRF())), Vip: vips,
	}
	if rhi, peerLabels := rhiSettings(s, sp.Infra); rhi && len(peerLabels) > 0 {
		vsvip.BgpPeerLabels = peerLabels
	}
	set.VsVips = []*objects.VsVip{vsvip}
	b := l7Builder{in: in, set: set, secure: map[string]bool{}}
	for _, t := range sp.TLS {
		b.secure[t.Host] = true
	}
	b.certificates()
	b.pools()
	parentRules, childRules := b.rules()
	set.HTTPPolicySets = append(set.HTTPPolicySets, policySet(sp.Name, s.CreatedBy(), parentRules))
	set.VirtualServices = []*objects.VirtualService{b.parent()}
	if !sp.Dedicated {
		b.children(childRules)
	}
	set.stamp(Markers(s, set.OwnedBy))
	return set, nil
}

// l7Builder builds one shard's objects into set.
type l7Builder struct {
	in  L7Input
	set *Set
	// secure marks the hosts listed in tls[] (served over HTTPS when their
	// certificate is available).
	secure map[string]bool
}

// served reports whether a host's routes are served: insecure hosts always,
// secure ones only with a usable certificate.
func (b *l7Builder) served(host string) bool { return !b.secure[host] || b.in.Certs[host] != nil }

// certificates adds an SSLKeyAndCertificate per secure host that has one.
func (b *l7Builder) certificates() {
	cluster, createdBy := b.in.Settings.AKOSettings.ClusterName, b.in.Settings.CreatedBy()
	for _, t := range b.in.Shard.TLS {
		c := b.in.Certs[t.Host]
		if c == nil {
			continue
		}
		b.set.SSLKeyAndCertificates = append(b.set.SSLKeyAndCertificates, &objects.SSLKeyAndCertificate{
			Name:        ptr.To(SNIChildName(cluster, t.Host)),
			Type:        ptr.To("SSL_CERTIFICATE_TYPE_VIRTUALSERVICE"),
			Certificate: &objects.SSLCertificate{Certificate: ptr.To(string(c.Certificate))},
			Key:         ptr.To(string(c.Key)),
			CreatedBy:   ptr.To(createdBy),
		})
	}
}

// pools adds a pool and a pool group per served route.
func (b *l7Builder) pools() {
	s := b.in.Settings
	cloudRef, vrfRef := Ref("cloud", s.ControllerSettings.CloudName), Ref("vrfcontext", s.VRF())
	for _, r := range b.in.Shard.Routes {
		if !b.served(r.Host) {
			continue
		}
		b.set.Pools = append(b.set.Pools, &objects.Pool{
			Name: ptr.To(r.Pool), CloudRef: ptr.To(cloudRef), VrfRef: ptr.To(vrfRef), CreatedBy: ptr.To(s.CreatedBy()),
			Servers:           routeServers(b.in, r),
			HealthMonitorRefs: []string{Ref("healthmonitor", HealthMonitorTCP)},
		})
		b.set.PoolGroups = append(b.set.PoolGroups, &objects.PoolGroup{
			Name: ptr.To(r.Pool), CloudRef: ptr.To(cloudRef), CreatedBy: ptr.To(s.CreatedBy()),
			Members: []*objects.PoolGroupMember{{PoolRef: ptr.To(Ref(TypePool, r.Pool))}},
		})
	}
	slices.SortFunc(b.set.Pools, func(a, b *objects.Pool) int { return strings.Compare(*a.Name, *b.Name) })
	slices.SortFunc(b.set.PoolGroups, func(a, b *objects.PoolGroup) int { return strings.Compare(*a.Name, *b.Name) })
}

// rules returns the parent's (or dedicated VS's) request rules, redirects
// for secure hosts first, then the routes it serves itself; and the rules of
// each SNI child by host.
func (b *l7Builder) rules() (parent []*objects.HTTPRequestRule, children map[string][]*objects.HTTPRequestRule) {
	sp := b.in.Shard
	for _, t := range sp.TLS {
		parent = append(parent, redirectRule(t.Host))
	}
	children = map[string][]*objects.HTTPRequestRule{}
	for _, r := range sp.Routes {
		switch {
		case !b.served(r.Host):
		case b.secure[r.Host] && !sp.Dedicated:
			children[r.Host] = append(children[r.Host], switchRule(r))
		default:
			parent = append(parent, switchRule(r))
		}
	}
	return parent, children
}

// parent builds the shard's virtual service: a shared VH parent on 80 and
// 443, or a DEDICATED host's normal virtual service carrying its certificate.
func (b *l7Builder) parent() *objects.VirtualService {
	s, sp := b.in.Settings, b.in.Shard
	parent := &objects.VirtualService{
		Name: ptr.To(sp.Name), CloudRef: ptr.To(Ref("cloud", s.ControllerSettings.CloudName)), VrfContextRef: ptr.To(Ref("vrfcontext", s.VRF())),
		SeGroupRef: ptr.To(Ref("serviceenginegroup", seGroup(s, sp.Infra))),
		VsvipRef:   ptr.To(Ref(TypeVsVip, sp.Name)), CreatedBy: ptr.To(s.CreatedBy()),
		HTTPPolicies: []*objects.HTTPPolicies{{Index: ptr.To(int32(11)), HTTPPolicySetRef: ptr.To(Ref(TypeHTTPPolicySet, sp.Name))}},
		Services:     []*objects.Service{{Port: ptr.To(uint32(80))}},
	}
	if sp.Dedicated {
		parent.Type = ptr.To(VSTypeNormal)
		parent.ApplicationProfileRef = ptr.To(Ref("applicationprofile", AppProfileHTTP))
		for _, c := range b.set.SSLKeyAndCertificates {
			parent.Services = append(parent.Services, &objects.Service{Port: ptr.To(uint32(443)), EnableSsl: ptr.To(true)})
			parent.ApplicationProfileRef = ptr.To(Ref("applicationprofile", AppProfileSecureHTTP))
			parent.SslProfileRef = ptr.To(Ref("sslprofile", SSLProfileStandard))
			parent.SslKeyAndCertificateRefs = []string{Ref(TypeSSLKeyAndCertificate, *c.Name)}
		}
	} else {
		parent.Type = ptr.To(VSTypeVHParent)
		parent.ApplicationProfileRef = ptr.To(Ref("applicationprofile", AppProfileHTTP))
		parent.Services = append(parent.Services, &objects.Service{Port: ptr.To(uint32(443)), EnableSsl: ptr.To(true)})
		parent.SslProfileRef = ptr.To(Ref("sslprofile", SSLProfileStandard))
		// The controller refuses an SSL port without a certificate; SNI children
		// carry the hosts' own, and the parent answers unknown names with the
		// controller's default certificate, as AKO's shared parents do.
		parent.SslKeyAndCertificateRefs = []string{Ref(TypeSSLKeyAndCertificate, DefaultCertificate)}
	}
	if rhi, peerLabels := rhiSettings(s, sp.Infra); rhi {
		parent.EnableRhi = ptr.To(true)
		if len(peerLabels) > 0 {
			parent.BgpPeerLabels = peerLabels
		}
	}
	return parent
}

// children adds an SNI child, with its policy set, per secure host that has
// a certificate and routes, in host order.
func (b *l7Builder) children(rulesByHost map[string][]*objects.HTTPRequestRule) {
	s, sp := b.in.Settings, b.in.Shard
	cluster, createdBy := s.AKOSettings.ClusterName, s.CreatedBy()
	for _, t := range sp.TLS {
		rules := rulesByHost[t.Host]
		if b.in.Certs[t.Host] == nil || len(rules) == 0 {
			continue
		}
		name := SNIChildName(cluster, t.Host)
		b.set.HTTPPolicySets = append(b.set.HTTPPolicySets, policySet(name, createdBy, rules))
		b.set.VirtualServices = append(b.set.VirtualServices, &objects.VirtualService{
			Name: ptr.To(name), Type: ptr.To(VSTypeVHChild), CloudRef: ptr.To(Ref("cloud", s.ControllerSettings.CloudName)),
			VrfContextRef: ptr.To(Ref("vrfcontext", s.VRF())),
			SeGroupRef:    ptr.To(Ref("serviceenginegroup", seGroup(s, sp.Infra))), CreatedBy: ptr.To(createdBy),
			VhParentVsRef:            ptr.To(Ref(TypeVirtualService, sp.Name)),
			VhDomainName:             []string{t.Host},
			ApplicationProfileRef:    ptr.To(Ref("applicationprofile", AppProfileSecureHTTP)),
			SslProfileRef:            ptr.To(Ref("sslprofile", SSLProfileStandard)),
			SslKeyAndCertificateRefs: []string{Ref(TypeSSLKeyAndCertificate, name)},
			HTTPPolicies:             []*objects.HTTPPolicies{{Index: ptr.To(int32(11)), HTTPPolicySetRef: ptr.To(Ref(TypeHTTPPolicySet, name))}},
		})
	}
}

func policySet(name, createdBy string, rules []*objects.HTTPRequestRule) *objects.HTTPPolicySet {
	for i, r := range rules {
		r.Index = ptr.To(int32(i + 1))
	}
	return &objects.HTTPPolicySet{
		Name: ptr.To(name), CreatedBy: ptr.To(createdBy),
		HTTPRequestPolicy: &objects.HTTPRequestPolicy{Rules: rules},
	}
}

func hostMatch(host string) *objects.HostHdrMatch {
	return &objects.HostHdrMatch{MatchCriteria: ptr.To("HDR_EQUALS"), MatchCase: ptr.To("INSENSITIVE"), Value: []string{host}}
}

// switchRule sends host+path to the route's pool group. On a shared parent
// the host header selects the host; an SNI child only sees its own host, but
// matching it there too keeps the rule self-describing.
func switchRule(r Route) *objects.HTTPRequestRule {
	return &objects.HTTPRequestRule{
		Name:   ptr.To(r.Pool),
		Enable: ptr.To(true),
		Match: &objects.MatchTarget{
			HostHdr: hostMatch(r.Host),
			Path:    &objects.PathMatch{MatchCriteria: ptr.To(r.Match), MatchCase: ptr.To("SENSITIVE"), MatchStr: []string{r.Path}},
		},
		SwitchingAction: &objects.HTTPSwitchingAction{
			Action:       ptr.To("HTTP_SWITCHING_SELECT_POOLGROUP"),
			PoolGroupRef: ptr.To(Ref(TypePoolGroup, r.Pool)),
		},
	}
}

// redirectRule answers plain HTTP on port 80 for a secure host with a 302 to
// the same URL over HTTPS.
func redirectRule(host string) *objects.HTTPRequestRule {
	return &objects.HTTPRequestRule{
		Name:   ptr.To(host + "-redirect-https"),
		Enable: ptr.To(true),
		Match: &objects.MatchTarget{
			HostHdr: hostMatch(host),
			VsPort:  &objects.PortMatch{MatchCriteria: ptr.To("IS_IN"), Ports: []int64{80}},
		},
		RedirectAction: &objects.HTTPRedirectAction{
			Protocol: ptr.To("HTTPS"), Port: ptr.To(uint32(443)), KeepQuery: ptr.To(true),
			StatusCode: ptr.To("HTTP_REDIRECT_STATUS_CODE_302"),
		},
	}
}

// routeServers resolves a route's backend Service port and returns its servers.
func routeServers(in L7Input, r Route) []*objects.Server {
	m, ok := in.Backends[r.Namespace+"/"+r.Backend.Name]
	if !ok || m.Service == nil {
		return nil
	}
	for _, p := range m.Service.Spec.Ports {
		if (r.Backend.Port.Name != "" && p.Name == r.Backend.Port.Name) || (r.Backend.Port.Name == "" && p.Port == r.Backend.Port.Number) {
			return servers(L4Input{Settings: in.Settings, NodeAddresses: in.NodeAddresses}, m, p)
		}
	}
	return nil
}

// BackendPortFound reports whether the Service has the port an Ingress backend names.
func BackendPortFound(m Member, b networkingv1.IngressServiceBackend) bool {
	if m.Service == nil {
		return false
	}
	for _, p := range m.Service.Spec.Ports {
		if (b.Port.Name != "" && p.Name == b.Port.Name) || (b.Port.Name == "" && p.Port == b.Port.Number) {
			return true
		}
	}
	return false
}

// L7Names lists "type/name" of every object the plan's shards may hold,
// whether or not their certificates are available: start-up orphan
// collection keeps these and deletes our other L7 objects.
func L7Names(s *config.Settings, p *L7Plan) map[string]bool {
	out := map[string]bool{}
	cluster := s.AKOSettings.ClusterName
	for name, sp := range p.Shards {
		for _, t := range []string{TypeVsVip, TypeVirtualService, TypeHTTPPolicySet} {
			out[t+"/"+name] = true
		}
		for _, r := range sp.Routes {
			out[TypePool+"/"+r.Pool] = true
			out[TypePoolGroup+"/"+r.Pool] = true
		}
		for _, t := range sp.TLS {
			child := SNIChildName(cluster, t.Host)
			out[TypeSSLKeyAndCertificate+"/"+child] = true
			if !sp.Dedicated {
				out[TypeVirtualService+"/"+child] = true
				out[TypeHTTPPolicySet+"/"+child] = true
			}
		}
	}
	return out
}
