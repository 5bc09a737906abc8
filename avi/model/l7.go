package model

import (
	"cmp"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"maps"
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

// ShardName is the parent virtual service serving host, as AKO names it:
// "<cluster>--Shared-L7-<n>" with n = fnv32a(host) mod the shard count, or
// "<cluster>--<host>-L7-dedicated" for shard size DEDICATED. An
// AviInfraSetting puts its hosts on shards of their own,
// "<cluster>--Shared-L7-<infra>-<n>" and "<cluster>--<infra>-<host>-L7-dedicated",
// because those carry another SE group or VIP network. The shard size is the
// AviInfraSetting's l7Settings.shardSize when set, else L7Settings.shardVSSize.
func ShardName(s *config.Settings, infra *v1beta1.AviInfraSetting, host string) string {
	cluster := s.AKOSettings.ClusterName
	n := shardCount(s, infra)
	if n == 0 {
		return limitName(cluster, cluster+"--"+infraPart(infra)+host+DedicatedSuffix)
	}
	return sharedShardName(cluster, infra, int(ShardIndex(host, n)))
}

// DedicatedSuffix ends the names of a dedicated virtual service and of its pools.
const DedicatedSuffix = "-L7-dedicated"

func sharedShardName(cluster string, infra *v1beta1.AviInfraSetting, i int) string {
	return cluster + "--Shared-L7-" + infraPart(infra) + strconv.Itoa(i)
}

// infraPart is the "<infra>-" AKO puts in the names of an AviInfraSetting's objects.
func infraPart(infra *v1beta1.AviInfraSetting) string {
	if infra == nil {
		return ""
	}
	return infra.Name + "-"
}

// infraName is the AviInfraSetting's name, "" for none (AKO's InfrasettingName marker).
func infraName(infra *v1beta1.AviInfraSetting) string {
	if infra == nil {
		return ""
	}
	return infra.Name
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

// L7PoolName is the pool (and pool group) of one Ingress path, named as AKO
// names it. path is the Ingress's path as written, with "/" replaced by "_":
//   - an insecure host on a shared shard: "<cluster>--[<infra>-]<host><path>-<ns>-<ingress>"
//     ("/" gives "<host>_", no path "<host>");
//   - a secure host (SNI child): "<cluster>--[<infra>-]<ns>-<host><path>-<ingress>";
//   - any host of a dedicated shard: the secure form + "-L7-dedicated".
//
// Characters other than letters, digits, '.', '-' and '_' also become '_'.
func L7PoolName(cluster string, infra *v1beta1.AviInfraSetting, host, path, namespace, ingress string, secure, dedicated bool) string {
	label := sanitize(host + path)
	var name string
	if secure || dedicated {
		name = cluster + "--" + infraPart(infra) + namespace + "-" + label + "-" + ingress
		if dedicated {
			name += DedicatedSuffix
		}
	} else {
		name = cluster + "--" + infraPart(infra) + label + "-" + namespace + "-" + ingress
	}
	return limitName(cluster, name)
}

// SNIChildName is the SNI child virtual service of a secure host:
// "<cluster>--[<infra>-]<host>".
func SNIChildName(cluster string, infra *v1beta1.AviInfraSetting, host string) string {
	return limitName(cluster, cluster+"--"+infraPart(infra)+host)
}

// SNIPolicySetName is the HTTPPolicySet routing one namespace's paths of a
// secure (or dedicated) host: "<cluster>--[<infra>-]<ns>-<host>".
func SNIPolicySetName(cluster string, infra *v1beta1.AviInfraSetting, namespace, host string) string {
	return limitName(cluster, cluster+"--"+infraPart(infra)+namespace+"-"+host)
}

// DefaultCertName is the SSLKeyAndCertificate of the default certificate
// (Secret router-certs-default), shared by every host that uses it.
func DefaultCertName(cluster string) string { return cluster + "--" + DefaultSecretName }

// CertName is the SSLKeyAndCertificate of a secure host: "<cluster>--[<infra>-]<host>",
// or DefaultCertName for the default certificate (secretName "").
func CertName(cluster string, infra *v1beta1.AviInfraSetting, host, secretName string) string {
	if secretName == "" || secretName == DefaultSecretName {
		return DefaultCertName(cluster)
	}
	return limitName(cluster, cluster+"--"+infraPart(infra)+host)
}

// DefaultSecretName is the TLS Secret in vipgate's namespace that secures
// the hosts of an Ingress annotated AnnEnableTLS, and tls[] entries without
// a secretName (AKO's router-certs-default).
const DefaultSecretName = "router-certs-default"

// AnnEnableTLS on an Ingress secures every host of it with the default
// certificate, as AKO reads it.
const AnnEnableTLS = "ako.vmware.com/enable-tls"

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
	// Subdomain is what rules without a host are served under, as
	// "<ingress>.<namespace>.<subdomain>" (HostlessSubdomain); "" skips them.
	Subdomain string
}

// HostlessSubdomain is the subdomain AKO serves Ingress rules without a host
// under: the first service domain (sorted) of the cloud's DNS profile, "" without one.
func HostlessSubdomain(snap *inventory.Snapshot) string {
	if doms := snap.DNSSubdomains(); len(doms) > 0 {
		return doms[0]
	}
	return ""
}

// ruleHost is the host a rule is served as: its host, or for a rule
// without one "<ingress>.<namespace>.<subdomain>" ("" when there is no subdomain).
func ruleHost(li L7Ingress, r networkingv1.IngressRule) string {
	if r.Host != "" {
		return r.Host
	}
	if li.Subdomain == "" {
		return ""
	}
	return li.Ingress.Name + "." + li.Ingress.Namespace + "." + li.Subdomain
}

// Route is one winning host/path of an Ingress.
type Route struct {
	Host string
	// Path is the matched path ("/" when the Ingress leaves it empty);
	// RawPath is the path as the Ingress wrote it (names use it, as AKO's do).
	Path, RawPath string
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
			out = append(out, sharedShardName(s.AKOSettings.ClusterName, infra, i))
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
	return ok && (strings.HasPrefix(rest, "Shared-L7-") || strings.HasSuffix(rest, DedicatedSuffix))
}

// ShardsOf returns the shards an Ingress's hosts map to (whether or not it won them).
func ShardsOf(s *config.Settings, li L7Ingress) []string {
	var out []string
	for _, r := range li.Ingress.Spec.Rules {
		if h := ruleHost(li, r); h != "" {
			out = append(out, ShardName(s, li.Infra, h))
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
	pl := &planner{s: s, hosts: map[string]hostOwner{}, paths: map[string]string{}, tlsDone: map[string]bool{}, listed: map[[2]string]bool{},
		p: &L7Plan{Shards: map[string]*ShardPlan{}, HostShard: map[string]string{}, IngressHosts: map[string][]string{}, Skipped: map[string][]string{}}}
	for _, li := range ranked {
		pl.add(li)
	}
	pl.namePools()
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
	tlsDone map[string]bool
	// listed is every (shard, Ingress) pair in a shard's Ingresses: a
	// lookup per path, where a scan of the shard's list made a plan cost
	// paths × Ingresses per shard.
	listed map[[2]string]bool
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
		host := ruleHost(li, r)
		if host == "" {
			p.Skipped[key] = append(p.Skipped[key], fmt.Sprintf("spec.rules[%d] has no host and the cloud's DNS profile has no service domain to serve it under (as <ingress>.<namespace>.<domain>)", ri))
			continue
		}
		if r.HTTP == nil {
			continue
		}
		shard := ShardName(pl.s, li.Infra, host)
		if !pl.claimHost(key, ing.Namespace, host, shard) {
			continue
		}
		for pi, hp := range r.HTTP.Paths {
			if hp.Backend.Service == nil {
				p.Skipped[key] = append(p.Skipped[key], fmt.Sprintf("spec.rules[%d].http.paths[%d] has a resource backend; only Service backends are supported", ri, pi))
				continue
			}
			if pl.addPath(li, key, host, shard, hp) {
				served[host] = true
			}
		}
	}
	for h := range served {
		p.IngressHosts[key] = append(p.IngressHosts[key], h)
	}
	slices.Sort(p.IngressHosts[key])
	// TLS: the oldest Ingress serving the host that lists it in tls[] (or
	// secures every host with AnnEnableTLS) decides the certificate.
	secure := func(h, secret string) {
		if !served[h] || pl.tlsDone[h] {
			return
		}
		pl.tlsDone[h] = true
		sp := p.Shards[p.HostShard[h]]
		sp.TLS = append(sp.TLS, TLSHost{Host: h, Namespace: ing.Namespace, SecretName: secret, Ingress: key})
	}
	for _, t := range ing.Spec.TLS {
		for _, h := range t.Hosts {
			secure(h, t.SecretName)
		}
	}
	if strings.EqualFold(ing.Annotations[AnnEnableTLS], "true") {
		for _, h := range p.IngressHosts[key] {
			secure(h, "")
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
	sp := p.shard(shard, li.Infra, shardCount(pl.s, li.Infra) == 0)
	sp.Routes = append(sp.Routes, Route{Host: host, Path: path, RawPath: hp.Path, Match: match, Namespace: ing.Namespace, Ingress: ing.Name,
		Backend: *hp.Backend.Service})
	p.HostShard[host] = shard
	if lk := [2]string{shard, key}; !pl.listed[lk] {
		pl.listed[lk] = true
		sp.Ingresses = append(sp.Ingresses, key)
	}
	return true
}

// namePools names every route's pool once all hosts are known secure or
// not. Two routes whose names meet (Exact and Prefix on one path) keep
// them unique with a stable suffix.
func (pl *planner) namePools() {
	cluster := pl.s.AKOSettings.ClusterName
	shards := slices.Sorted(maps.Keys(pl.p.Shards))
	used := map[string]bool{}
	for _, name := range shards {
		sp := pl.p.Shards[name]
		secure := map[string]bool{}
		for _, t := range sp.TLS {
			secure[t.Host] = true
		}
		sortRoutes(sp.Routes)
		for i := range sp.Routes {
			r := &sp.Routes[i]
			pool := L7PoolName(cluster, sp.Infra, r.Host, r.RawPath, r.Namespace, r.Ingress, secure[r.Host], sp.Dedicated)
			if used[pool] {
				pool = limitName(cluster, pool+"-"+strconv.FormatUint(uint64(fnv32(r.Match+r.Path)), 16))
			}
			used[pool] = true
			r.Pool = pool
		}
	}
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
	// Shown are the addresses the shard's Ingresses show in status for its
	// hosts: the shard's VsVip, created again after it was lost on the
	// controller, asks for them (Set.KeepVIP).
	Shown []string
}

// BuildL7 returns the desired objects of one shard, with AKO's names and
// markers: its VsVip (with a DNS record for the shard's FQDN and each host)
// and parent virtual service, a pool and pool group per route, an
// HTTPPolicySet routing host+path (plus an HTTP→HTTPS redirect per secure
// host), and per secure host an SNI child with its SSLKeyAndCertificate and
// one HTTPPolicySet per namespace routing it. A DEDICATED shard is one
// normal virtual service carrying the host's certificate itself. Objects
// come in creation order: parents before children.
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
	for _, f := range shardFQDNs(in) {
		vsvip.DNSInfo = append(vsvip.DNSInfo, &objects.DNSInfo{Fqdn: ptr.To(f), Type: ptr.To("DNS_RECORD_A")})
	}
	if rhi, peerLabels := rhiSettings(s, sp.Infra); rhi && len(peerLabels) > 0 {
		vsvip.BgpPeerLabels = peerLabels
	}
	set.VsVips = []*objects.VsVip{vsvip}
	if kept := KeptVIP(in.Shown, vsvip, in.Snapshot); kept != nil {
		set.KeepVIP = map[string]map[string]string{sp.Name: kept}
	}
	b := l7Builder{in: in, set: set, secure: map[string]bool{}, certOf: map[string]string{}}
	for _, t := range sp.TLS {
		b.secure[t.Host] = true
	}
	b.certificates()
	b.pools()
	parentRules, hostRules := b.rules()
	if len(parentRules) > 0 {
		set.HTTPPolicySets = append(set.HTTPPolicySets, policySet(sp.Name, s.CreatedBy(), parentRules, nil))
	}
	var own []string // the dedicated VS's per-namespace policy sets
	if sp.Dedicated {
		own = b.hostPolicySets(hostRules)
	}
	set.VirtualServices = []*objects.VirtualService{b.parent(len(parentRules) > 0, own)}
	if !sp.Dedicated {
		b.children(hostRules)
	}
	set.stamp(Markers(s, set.OwnedBy))
	return set, nil
}

// shardFQDNs are the DNS names a shard's VsVip answers for, as AKO lists
// them: a shared shard's own FQDN ("<shard>.<tenant>.<subdomain>", or
// "<shard>-<tenant>.<subdomain>" when autoFQDN is flat; none when it is
// disabled or the cloud has no DNS profile), then every host it serves.
func shardFQDNs(in L7Input) []string {
	s, sp := in.Settings, in.Shard
	var out []string
	if sub := FQDNSubdomain(s, in.Snapshot); sub != "" && !sp.Dedicated && s.L4Settings.AutoFQDN != "disabled" {
		tenant := dnsName(s.ControllerSettings.TenantName)
		if s.L4Settings.AutoFQDN == "flat" {
			out = append(out, sp.Name+"-"+tenant+"."+sub)
		} else {
			out = append(out, sp.Name+"."+tenant+"."+sub)
		}
	}
	var hosts []string
	for _, r := range sp.Routes {
		hosts = append(hosts, r.Host)
	}
	slices.Sort(hosts)
	return append(out, slices.Compact(hosts)...)
}

// dnsName makes a tenant name a DNS label as AKO does: other characters
// become '-', runs of '-' collapse, and no '-' leads or trails.
func dnsName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	out := string(b)
	for strings.Contains(out, "--") {
		out = strings.ReplaceAll(out, "--", "-")
	}
	return strings.Trim(out, "-")
}

// l7Builder builds one shard's objects into set.
type l7Builder struct {
	in  L7Input
	set *Set
	// secure marks the hosts listed in tls[] (served over HTTPS when their
	// certificate is available).
	secure map[string]bool
	// certOf names the SSLKeyAndCertificate of each secure host that has one.
	certOf map[string]string
}

// served reports whether a host's routes are served: insecure hosts always,
// secure ones only with a usable certificate.
func (b *l7Builder) served(host string) bool { return !b.secure[host] || b.in.Certs[host] != nil }

// certificates adds an SSLKeyAndCertificate per secure host that has one;
// hosts on the default certificate share one.
func (b *l7Builder) certificates() {
	s, sp := b.in.Settings, b.in.Shard
	cluster := s.AKOSettings.ClusterName
	for _, t := range sp.TLS {
		c := b.in.Certs[t.Host]
		if c == nil {
			continue
		}
		name := CertName(cluster, sp.Infra, t.Host, t.SecretName)
		b.certOf[t.Host] = name
		if slices.ContainsFunc(b.set.SSLKeyAndCertificates, func(o *objects.SSLKeyAndCertificate) bool { return *o.Name == name }) {
			continue
		}
		var marks AKOMarkers
		if name != DefaultCertName(cluster) {
			marks = AKOMarkers{Host: []string{t.Host}, InfrasettingName: infraName(sp.Infra)}
		}
		b.set.SSLKeyAndCertificates = append(b.set.SSLKeyAndCertificates, &objects.SSLKeyAndCertificate{
			Name:        ptr.To(name),
			Type:        ptr.To("SSL_CERTIFICATE_TYPE_VIRTUALSERVICE"),
			Certificate: &objects.SSLCertificate{Certificate: ptr.To(string(c.Certificate))},
			Key:         ptr.To(string(c.Key)),
			CreatedBy:   ptr.To(s.CreatedBy()),
			Markers:     marks.labels(),
		})
	}
}

// pools adds a pool and a pool group per served route.
func (b *l7Builder) pools() {
	s, sp := b.in.Settings, b.in.Shard
	cloudRef, vrfRef := Ref("cloud", s.ControllerSettings.CloudName), Ref("vrfcontext", s.VRF())
	for _, r := range sp.Routes {
		if !b.served(r.Host) {
			continue
		}
		marks := AKOMarkers{Namespace: r.Namespace, Host: []string{r.Host}, InfrasettingName: infraName(sp.Infra),
			Path: []string{r.RawPath}, IngressName: []string{r.Ingress}}
		b.set.Pools = append(b.set.Pools, &objects.Pool{
			Name: ptr.To(r.Pool), CloudRef: ptr.To(cloudRef), VrfRef: ptr.To(vrfRef), CreatedBy: ptr.To(s.CreatedBy()),
			Servers:           routeServers(b.in, r),
			HealthMonitorRefs: []string{Ref("healthmonitor", HealthMonitorTCP)},
			Markers:           marks.labels(),
		})
		b.set.PoolGroups = append(b.set.PoolGroups, &objects.PoolGroup{
			Name: ptr.To(r.Pool), CloudRef: ptr.To(cloudRef), CreatedBy: ptr.To(s.CreatedBy()),
			Members: []*objects.PoolGroupMember{{PoolRef: ptr.To(Ref(TypePool, r.Pool))}},
			Markers: marks.labels(),
		})
	}
	slices.SortFunc(b.set.Pools, func(a, b *objects.Pool) int { return strings.Compare(*a.Name, *b.Name) })
	slices.SortFunc(b.set.PoolGroups, func(a, b *objects.PoolGroup) int { return strings.Compare(*a.Name, *b.Name) })
}

// nsRoutes are the routes of one namespace for one host: they go in that
// namespace's HTTPPolicySet (AKO's "<cluster>--<ns>-<host>").
type nsRoutes struct {
	host, namespace string
	rules           []*objects.HTTPRequestRule
	paths, ings     []string
}

// rules returns the parent's request rules, redirects for secure hosts
// first, then the insecure routes of a shared parent; and, for each host
// routed by its own policy sets (secure hosts on SNI children, every host
// of a dedicated shard), its routes by namespace, in host then namespace order.
func (b *l7Builder) rules() (parent []*objects.HTTPRequestRule, hosts []*nsRoutes) {
	sp := b.in.Shard
	for _, t := range sp.TLS {
		parent = append(parent, redirectRule(t.Host))
	}
	byKey := map[string]*nsRoutes{}
	for _, r := range sp.Routes {
		switch {
		case !b.served(r.Host):
		case b.secure[r.Host] || sp.Dedicated:
			k := r.Host + "/" + r.Namespace
			nr := byKey[k]
			if nr == nil {
				nr = &nsRoutes{host: r.Host, namespace: r.Namespace}
				byKey[k] = nr
				hosts = append(hosts, nr)
			}
			nr.rules = append(nr.rules, switchRule(r))
			nr.paths = append(nr.paths, r.RawPath)
			nr.ings = append(nr.ings, r.Ingress)
		default:
			parent = append(parent, switchRule(r))
		}
	}
	slices.SortStableFunc(hosts, func(x, y *nsRoutes) int {
		return cmp.Or(strings.Compare(x.host, y.host), strings.Compare(x.namespace, y.namespace))
	})
	for _, nr := range hosts {
		slices.Sort(nr.paths)
		slices.Sort(nr.ings)
		nr.paths, nr.ings = slices.Compact(nr.paths), slices.Compact(nr.ings)
	}
	return parent, hosts
}

// hostPolicySets adds the per-namespace policy sets of the given host
// routes and returns their names in order.
func (b *l7Builder) hostPolicySets(hosts []*nsRoutes) []string {
	s, sp := b.in.Settings, b.in.Shard
	var names []string
	for _, nr := range hosts {
		name := SNIPolicySetName(s.AKOSettings.ClusterName, sp.Infra, nr.namespace, nr.host)
		marks := AKOMarkers{Namespace: nr.namespace, Host: []string{nr.host}, InfrasettingName: infraName(sp.Infra), Path: nr.paths, IngressName: nr.ings}
		b.set.HTTPPolicySets = append(b.set.HTTPPolicySets, policySet(name, s.CreatedBy(), nr.rules, marks.labels()))
		names = append(names, name)
	}
	return names
}

// httpPolicies refers to policy sets in order, from AKO's first index 11.
func httpPolicies(names []string) []*objects.HTTPPolicies {
	var out []*objects.HTTPPolicies
	for i, n := range names {
		out = append(out, &objects.HTTPPolicies{Index: ptr.To(int32(11 + i)), HTTPPolicySetRef: ptr.To(Ref(TypeHTTPPolicySet, n))})
	}
	return out
}

// parent builds the shard's virtual service: a shared VH parent on 80 and
// 443, or a DEDICATED host's normal virtual service carrying its
// certificate. hasOwn says whether the shard's own policy set exists;
// hostSets are a dedicated VS's per-namespace sets.
func (b *l7Builder) parent(hasOwn bool, hostSets []string) *objects.VirtualService {
	s, sp := b.in.Settings, b.in.Shard
	var sets []string
	if hasOwn {
		sets = append(sets, sp.Name)
	}
	parent := &objects.VirtualService{
		Name: ptr.To(sp.Name), CloudRef: ptr.To(Ref("cloud", s.ControllerSettings.CloudName)), VrfContextRef: ptr.To(Ref("vrfcontext", s.VRF())),
		SeGroupRef: ptr.To(Ref("serviceenginegroup", seGroup(s, sp.Infra))),
		VsvipRef:   ptr.To(Ref(TypeVsVip, sp.Name)), CreatedBy: ptr.To(s.CreatedBy()),
		HTTPPolicies: httpPolicies(append(sets, hostSets...)),
		Services:     []*objects.Service{{Port: ptr.To(uint32(80))}},
	}
	if sp.Dedicated {
		host := sp.Routes[0].Host
		parent.Markers = AKOMarkers{Namespace: sp.Routes[0].Namespace, Host: []string{host}, InfrasettingName: infraName(sp.Infra)}.labels()
		parent.Type = ptr.To(VSTypeNormal)
		parent.ApplicationProfileRef = ptr.To(Ref("applicationprofile", AppProfileHTTP))
		if cert := b.certOf[host]; cert != "" {
			parent.Services = append(parent.Services, &objects.Service{Port: ptr.To(uint32(443)), EnableSsl: ptr.To(true)})
			parent.ApplicationProfileRef = ptr.To(Ref("applicationprofile", AppProfileSecureHTTP))
			parent.SslProfileRef = ptr.To(Ref("sslprofile", SSLProfileStandard))
			parent.SslKeyAndCertificateRefs = []string{Ref(TypeSSLKeyAndCertificate, cert)}
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

// children adds an SNI child per secure host that has a certificate and
// routes, in host order, routing through one policy set per namespace.
func (b *l7Builder) children(hosts []*nsRoutes) {
	s, sp := b.in.Settings, b.in.Shard
	cluster := s.AKOSettings.ClusterName
	for len(hosts) > 0 {
		host := hosts[0].host
		n := 1
		for n < len(hosts) && hosts[n].host == host {
			n++
		}
		mine := hosts[:n]
		hosts = hosts[n:]
		cert := b.certOf[host]
		if cert == "" {
			continue
		}
		sets := b.hostPolicySets(mine)
		name := SNIChildName(cluster, sp.Infra, host)
		b.set.VirtualServices = append(b.set.VirtualServices, &objects.VirtualService{
			Name: ptr.To(name), Type: ptr.To(VSTypeVHChild), CloudRef: ptr.To(Ref("cloud", s.ControllerSettings.CloudName)),
			VrfContextRef: ptr.To(Ref("vrfcontext", s.VRF())),
			SeGroupRef:    ptr.To(Ref("serviceenginegroup", seGroup(s, sp.Infra))), CreatedBy: ptr.To(s.CreatedBy()),
			VhParentVsRef:            ptr.To(Ref(TypeVirtualService, sp.Name)),
			VhDomainName:             []string{host},
			ApplicationProfileRef:    ptr.To(Ref("applicationprofile", AppProfileSecureHTTP)),
			SslProfileRef:            ptr.To(Ref("sslprofile", SSLProfileStandard)),
			SslKeyAndCertificateRefs: []string{Ref(TypeSSLKeyAndCertificate, cert)},
			HTTPPolicies:             httpPolicies(sets),
			Markers:                  AKOMarkers{Namespace: mine[0].namespace, Host: []string{host}, InfrasettingName: infraName(sp.Infra)}.labels(),
		})
	}
}

func policySet(name, createdBy string, rules []*objects.HTTPRequestRule, markers []*objects.RoleFilterMatchLabel) *objects.HTTPPolicySet {
	for i, r := range rules {
		r.Index = ptr.To(int32(i + 1))
	}
	return &objects.HTTPPolicySet{
		Name: ptr.To(name), CreatedBy: ptr.To(createdBy),
		HTTPRequestPolicy: &objects.HTTPRequestPolicy{Rules: rules},
		Markers:           markers,
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
		secure := map[string]bool{}
		for _, t := range sp.TLS {
			secure[t.Host] = true
			out[TypeSSLKeyAndCertificate+"/"+CertName(cluster, sp.Infra, t.Host, t.SecretName)] = true
			if !sp.Dedicated {
				out[TypeVirtualService+"/"+SNIChildName(cluster, sp.Infra, t.Host)] = true
			}
		}
		for _, r := range sp.Routes {
			out[TypePool+"/"+r.Pool] = true
			out[TypePoolGroup+"/"+r.Pool] = true
			if secure[r.Host] || sp.Dedicated {
				out[TypeHTTPPolicySet+"/"+SNIPolicySetName(cluster, sp.Infra, r.Namespace, r.Host)] = true
			}
		}
	}
	return out
}
