package chaos

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/reconcile"
	"github.com/vipgate/vipgate/rules"
)

// The expected controller state is computed from the Kubernetes state
// alone, independently of vipgate's reconcilers: for every Service vipgate
// owns (its shared-VIP group), a VsVip with one address per VIP network
// that applies (three on AWS), a virtual service listening on every member
// port and mapping it to that port's pool, and a pool per port whose
// servers are the ready endpoints; for every host of an Ingress it owns, the
// shard's VsVip and virtual service, a pool and pool group per path, and
// for a secure host with a usable certificate an SNI child with the
// Secret's certificate; a static route per node pod CIDR. Names are AKO's
// (model.BaseName, model.PoolName, rules.PoolBaseName; for Ingresses the plan
// of model.PlanL7, checked against model.L7Names: the naming scheme is the
// specification, and the suite follows it when it changes). Every other
// object named for the cluster is an orphan. A Service that cannot get a
// VIP for a reason outside vipgate (its network is full, it requests an
// address the controller cannot give, its group contradicts itself) may have
// nothing yet; whatever it has must still agree with its status.

// objTypes are the controller object types vipgate creates.
var objTypes = []string{"vsvip", "virtualservice", "pool", "poolgroup", "httppolicyset", "sslkeyandcertificate"}

// simObjs is one read of the controller's store.
type simObjs struct {
	by       map[okey]map[string]any
	uuidName map[string]string
	routes   []map[string]any
}

type okey struct{ tenant, typ, name string }

func (k okey) String() string { return k.typ + " " + k.tenant + "/" + k.name }

func (r *run) readSim() *simObjs {
	so := &simObjs{by: map[okey]map[string]any{}, uuidName: map[string]string{}}
	for _, tenant := range append([]string{"admin"}, extraTenants...) {
		for _, typ := range append(slices.Clone(objTypes), "serviceenginegroup") {
			for _, o := range r.sim.Objects(tenant, typ) {
				so.by[okey{tenant, typ, str(o["name"])}] = o
				so.uuidName[str(o["uuid"])] = str(o["name"])
			}
		}
	}
	for _, v := range r.sim.Objects("admin", "vrfcontext") {
		if str(v["name"]) == "global" {
			list, _ := v["static_routes"].([]any)
			for _, x := range list {
				if m, ok := x.(map[string]any); ok {
					so.routes = append(so.routes, m)
				}
			}
		}
	}
	return so
}

// refName resolves a controller reference to the name of what it points at.
func (so *simObjs) refName(ref string) string {
	if _, name, ok := strings.Cut(ref, "?name="); ok {
		return name
	}
	if i := strings.IndexByte(ref, '#'); i >= 0 {
		ref = ref[:i]
	}
	return so.uuidName[ref[strings.LastIndexByte(ref, '/')+1:]]
}

// kstate is one read of a cluster's API server.
type kstate struct {
	svcs    []corev1.Service
	slices  map[string][]discoveryv1.EndpointSlice
	nss     map[string]*corev1.Namespace
	ings    []networkingv1.Ingress
	classes []networkingv1.IngressClass
	ais     map[string]*v1beta1.AviInfraSetting
	secrets map[string]*corev1.Secret
	nodes   []corev1.Node
}

func readK(ctx context.Context, c client.Client) (*kstate, error) {
	var (
		svcs    corev1.ServiceList
		sls     discoveryv1.EndpointSliceList
		nss     corev1.NamespaceList
		ings    networkingv1.IngressList
		classes networkingv1.IngressClassList
		ais     v1beta1.AviInfraSettingList
		secrets corev1.SecretList
		nodes   corev1.NodeList
	)
	for _, l := range []client.ObjectList{&svcs, &sls, &nss, &ings, &classes, &ais, &secrets, &nodes} {
		if err := c.List(ctx, l); err != nil {
			return nil, err
		}
	}
	k := &kstate{svcs: svcs.Items, slices: map[string][]discoveryv1.EndpointSlice{}, nss: map[string]*corev1.Namespace{},
		ings: ings.Items, classes: classes.Items, ais: map[string]*v1beta1.AviInfraSetting{}, secrets: map[string]*corev1.Secret{}, nodes: nodes.Items}
	for _, s := range sls.Items {
		key := s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]
		k.slices[key] = append(k.slices[key], s)
	}
	for i := range nss.Items {
		k.nss[nss.Items[i].Name] = &nss.Items[i]
	}
	for i := range ais.Items {
		k.ais[ais.Items[i].Name] = &ais.Items[i]
	}
	for i := range secrets.Items {
		k.secrets[secrets.Items[i].Namespace+"/"+secrets.Items[i].Name] = &secrets.Items[i]
	}
	return k, nil
}

// result is one check of an evaluation.
type result struct {
	inv int
	key string
	ok  bool
	msg string
}

// evaluation is the outcome of comparing the expected state with the real one.
type evaluation struct {
	results []result
	targets []*target
}

func (e *evaluation) add(inv int, key string, problem string) {
	e.results = append(e.results, result{inv: inv, key: key, ok: problem == "", msg: problem})
}

func (e *evaluation) failed() []result {
	var out []result
	for _, r := range e.results {
		if !r.ok {
			out = append(out, r)
		}
	}
	return out
}

// netRange is a VIP network's static range.
type netRange struct {
	name       string
	lo, hi     netip.Addr
	size, used int
}

// ranges returns the VIP ranges of the inventory's networks with their use now.
func (r *run) ranges(so *simObjs) map[string]*netRange {
	out := map[string]*netRange{}
	for name, n := range r.inv.Networks {
		for _, sub := range n.Subnets {
			for _, rg := range sub.VIPRanges {
				out[name] = &netRange{name: name, lo: rg.Begin, hi: rg.End, size: rg.Size()}
			}
		}
	}
	for k, v := range so.by {
		if k.typ != "vsvip" {
			continue
		}
		for _, a := range vipAddrs(v) {
			for _, nr := range out {
				if nr.contains(a) {
					nr.used++
				}
			}
		}
	}
	return out
}

func (n *netRange) contains(a netip.Addr) bool { return n.lo.Compare(a) <= 0 && a.Compare(n.hi) <= 0 }

// evaluate compares every cluster's expected controller state with the
// simulator's and the statuses, and collects the traffic targets.
func (r *run) evaluate(ctx context.Context) *evaluation {
	ev := &evaluation{}
	so := r.readSim()
	nets := r.ranges(so)
	for n, nr := range nets {
		if nr.used >= nr.size {
			r.markFull(n)
		}
	}
	for _, cl := range r.clusters {
		k, err := readK(ctx, cl.c)
		if err != nil {
			ev.add(invExact, cl.lay.Name+" read", "reading the API server: "+err.Error())
			continue
		}
		x := &expected{r: r, cl: cl, k: k, so: so, nets: nets, ev: ev, objs: map[okey]func(map[string]any) string{},
			lenient: map[okey]bool{}, lenientBases: map[string]bool{}}
		x.l4()
		x.l7()
		x.compare()
		x.routes()
	}
	return ev
}

// expected builds and checks one cluster's expectations.
type expected struct {
	r    *run
	cl   *cluster
	k    *kstate
	so   *simObjs
	nets map[string]*netRange
	ev   *evaluation
	// objs are the objects that must exist, each with a check of its
	// content ("" when right); lenient ones may exist or not.
	objs         map[okey]func(map[string]any) string
	lenient      map[okey]bool
	lenientBases map[string]bool // "tenant|base": pools of a lenient owner's member
}

// group is an L4 owner: a Service, or the members of a shared-VIP group.
type group struct {
	tenant, owner, ns string
	members           []*corev1.Service
}

func (x *expected) tenantOf(ns string) string { return ownership.TenantFor(x.k.nss[ns], x.cl.s) }

// owned reports whether vipgate answers for svc in its namespace.
func (x *expected) owned(svc *corev1.Service) bool {
	return svc.DeletionTimestamp == nil && ownership.OwnsService(svc, x.cl.s) && ownership.NamespaceSelected(x.k.nss[svc.Namespace], x.cl.s)
}

func statusIPs(svc *corev1.Service) []string {
	var out []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		out = append(out, in.IP)
	}
	slices.Sort(out)
	return out
}

func (x *expected) l4() {
	name := x.cl.lay.Name
	groups := map[string]*group{}
	var order []string
	for i := range x.k.svcs {
		svc := &x.k.svcs[i]
		what := fmt.Sprintf("Service %s:%s/%s", name, svc.Namespace, svc.Name)
		if !x.owned(svc) {
			if svc.DeletionTimestamp == nil {
				x.ev.add(invStatus, what, when(len(statusIPs(svc)) > 0, fmt.Sprintf("%s is not vipgate's but its status still shows %v", what, statusIPs(svc))))
			}
			continue
		}
		owner := model.BaseName(name, svc.Namespace, svc.Name)
		if key := svc.Annotations[rules.AnnSharedVIP]; key != "" {
			owner = model.BaseName(name, svc.Namespace, key)
		}
		tenant := x.tenantOf(svc.Namespace)
		gk := tenant + "|" + owner
		if groups[gk] == nil {
			groups[gk] = &group{tenant: tenant, owner: owner, ns: svc.Namespace}
			order = append(order, gk)
		}
		groups[gk].members = append(groups[gk].members, svc)
	}
	for _, gk := range order {
		if g := groups[gk]; !x.collided(g) {
			x.group(g)
		}
	}
}

// collided handles an owner name that Services of different identities
// (namespace and name, or namespace and shared-VIP key) meet on, e.g.
// team/a-web and team-a/web: admission refuses the second, but a namespace
// selected again can bring both back. The one whose identity the
// controller's VsVip carries keeps the name and is judged alone; the others
// are refused (no status of that VsVip's, nothing of their own: their names
// are the holder's). With no holder yet either may win: nothing is required,
// nothing of theirs is an orphan. It reports whether it judged g itself.
func (x *expected) collided(g *group) bool {
	ids := map[string]bool{}
	for _, m := range g.members {
		ids[ownership.OwnerOfService(m)] = true
	}
	if len(ids) < 2 {
		return false
	}
	vk := okey{g.tenant, "vsvip", g.owner}
	holder := ""
	if v := x.so.by[vk]; v != nil {
		holder = markerValue(v, "vipgate-owner")
	}
	if ids[holder] {
		var kept []*corev1.Service
		for _, m := range g.members {
			if ownership.OwnerOfService(m) == holder {
				kept = append(kept, m)
				continue
			}
			what := fmt.Sprintf("Service %s:%s/%s", x.cl.lay.Name, m.Namespace, m.Name)
			got := statusIPs(m)
			held := x.so.by[vk] != nil && slices.Equal(got, addrStrings(vipAddrs(x.so.by[vk])))
			x.ev.add(invStatus, what, when(held, fmt.Sprintf("%s: status %v, the VIP of VsVip %s/%s, which %s holds (their Avi names meet)", what, got, g.tenant, g.owner, holder)))
		}
		x.group(&group{tenant: g.tenant, owner: g.owner, ns: kept[0].Namespace, members: kept})
		return true
	}
	x.lenient[vk] = true
	x.lenient[okey{g.tenant, "virtualservice", g.owner}] = true
	for _, m := range g.members {
		x.lenientBases[g.tenant+"|"+rules.PoolBaseName(x.cl.lay.Name, m.Namespace, m.Name, m.Annotations[rules.AnnSharedVIP])] = true
	}
	return true
}

// infraOf is the AviInfraSetting name that applies to svc.
func (x *expected) infraOf(svc *corev1.Service) string {
	return rules.InfraSettingName(svc, x.k.nss[svc.Namespace])
}

// group checks one L4 owner.
func (x *expected) group(g *group) {
	s, lay := x.cl.s, x.cl.lay
	slices.SortFunc(g.members, func(a, b *corev1.Service) int { return strings.Compare(a.Name, b.Name) })
	vk := okey{g.tenant, "vsvip", g.owner}
	vsvip := x.so.by[vk]
	var addrs []string
	if vsvip != nil {
		addrs = addrStrings(vipAddrs(vsvip))
	}
	// Status equals the controller for every member (checked at the end,
	// once it is known whether the owner may be without a VIP).
	// A member requesting another address than the one the rest of the
	// group is served on is refused (the controller cannot move a VIP): no
	// status, no pools, and the group is expected without it.
	refused := map[*corev1.Service]bool{}
	var active []*corev1.Service
	for _, m := range g.members {
		ip, _ := rules.RequestedIP(m)
		var served []string
		for _, o := range g.members {
			if o != m {
				served = append(served, statusIPs(o)...)
			}
		}
		if a, err := netip.ParseAddr(ip); err == nil && len(served) > 0 && !slices.Contains(served, a.String()) {
			refused[m] = true
			continue
		}
		active = append(active, m)
	}
	// Tenants the owner still has a VsVip in besides its own: its
	// namespace moved tenant. The old objects stay (and serve) until the
	// owner exists in the new tenant, so while it cannot be synced there
	// they are not orphans.
	var moving []string
	for k := range x.so.by {
		if k.typ == "vsvip" && k.name == g.owner && k.tenant != g.tenant {
			moving = append(moving, k.tenant)
		}
	}
	slices.Sort(moving)
	checkStatus := func(lenient bool) {
		for _, m := range g.members {
			what := fmt.Sprintf("Service %s:%s/%s", lay.Name, m.Namespace, m.Name)
			got := statusIPs(m)
			if refused[m] {
				x.ev.add(invStatus, what, when(len(got) > 0, fmt.Sprintf("%s: status %v, want none (it requests another VIP than its shared-VIP group is served on)", what, got)))
				continue
			}
			// A member of an owner that cannot sync may not have been
			// given its address yet; it must not show another one, except
			// the one it still has in the tenant it is moving from.
			ok := slices.Equal(got, addrs) || (lenient && (len(got) == 0 || slices.ContainsFunc(moving, func(t string) bool {
				return slices.Equal(got, addrStrings(vipAddrs(x.so.by[okey{t, "vsvip", g.owner}])))
			})))
			x.ev.add(invStatus, what, when(!ok, fmt.Sprintf("%s: status %v, VsVip %s/%s holds %v", what, orNone(got), g.tenant, g.owner, orNone(addrs))))
		}
	}
	// Which networks, and may the owner be without a VIP?
	if len(active) == 0 {
		checkStatus(true)
		x.lenient[vk] = true
		x.lenient[okey{g.tenant, "virtualservice", g.owner}] = true
		return
	}
	infra := x.infraOf(active[0])
	var why string
	var ais *v1beta1.AviInfraSetting
	ports := map[svcPort]string{}
	reqs := map[string]bool{}
	for _, m := range active {
		if x.infraOf(m) != infra {
			why = "its members select different AviInfraSettings"
		}
		for _, p := range m.Spec.Ports {
			sp := svcPort{p.Port, string(p.Protocol)}
			if other, dup := ports[sp]; dup {
				why = fmt.Sprintf("members %s and %s both use port %s", other, m.Name, sp)
			}
			ports[sp] = m.Name
		}
		if ip, _ := rules.RequestedIP(m); ip != "" {
			reqs[ip] = true
		}
	}
	if infra != "" {
		if ais = x.k.ais[infra]; ais == nil {
			why = fmt.Sprintf("AviInfraSetting %q does not exist", infra)
		}
	}
	wantNets := lay.MainNets
	if x.r.flavour != FlavourAWS {
		wantNets = wantNets[:1]
	}
	seg := s.ControllerSettings.ServiceEngineGroupName
	if ais != nil {
		if len(ais.Spec.Network.VipNetworks) > 0 {
			wantNets = nil
			for _, n := range ais.Spec.Network.VipNetworks {
				wantNets = append(wantNets, n.NetworkName)
			}
		}
		if ais.Spec.SeGroup.Name != "" {
			seg = ais.Spec.SeGroup.Name
		}
	}
	var req netip.Addr
	if len(reqs) > 1 {
		why = "its members request different VIPs"
	} else {
		for ip := range reqs {
			a, err := netip.ParseAddr(ip)
			in := false
			for _, n := range wantNets {
				if nr := x.nets[n]; err == nil && nr != nil && nr.contains(a) {
					in = true
				}
			}
			if !in {
				why = fmt.Sprintf("it requests %s, which its networks cannot allocate", ip)
			} else {
				req = a
				if h := x.holder(a); h != "" && h != g.tenant+"/"+g.owner {
					why = fmt.Sprintf("it requests %s, which VsVip %s holds", ip, h)
				}
			}
		}
	}
	for _, n := range wantNets {
		nr := x.nets[n]
		if nr == nil {
			why = fmt.Sprintf("network %s does not exist", n)
			continue
		}
		// A network that is (or was, this run) full: a Service refused a
		// VIP waits out the controller's refusal (exponential backoff).
		if nr.used >= nr.size || x.r.sawFull(n) {
			inNet := false
			for _, a := range addrs {
				if nr.contains(netip.MustParseAddr(a)) {
					inNet = true
				}
			}
			if !inNet {
				why = fmt.Sprintf("network %s is full", n)
			}
		}
	}
	checkStatus(why != "")
	if why != "" {
		for _, t := range append([]string{g.tenant}, moving...) {
			x.lenient[okey{t, "vsvip", g.owner}] = true
			x.lenient[okey{t, "virtualservice", g.owner}] = true
			for _, m := range g.members {
				x.lenientBases[t+"|"+rules.PoolBaseName(lay.Name, m.Namespace, m.Name, m.Annotations[rules.AnnSharedVIP])] = true
			}
		}
		return
	}
	slices.Sort(wantNets)
	x.objs[vk] = func(o map[string]any) string {
		got := vipAddrs(o)
		if len(got) != len(wantNets) {
			return fmt.Sprintf("has %d addresses %v, want one in each of %v", len(got), addrStrings(got), wantNets)
		}
		for _, n := range wantNets {
			found := false
			for _, a := range got {
				if x.nets[n].contains(a) {
					found = true
				}
			}
			if !found {
				return fmt.Sprintf("addresses %v: none in network %s", addrStrings(got), n)
			}
		}
		if req.IsValid() && !slices.Contains(got, req) {
			return fmt.Sprintf("addresses %v lack the requested %s", addrStrings(got), req)
		}
		return ""
	}
	// The virtual service: every member port, each mapped to its pool.
	wantSel := map[string]string{}
	for _, m := range active {
		for _, p := range m.Spec.Ports {
			proto := string(p.Protocol)
			pool := model.PoolName(rules.PoolBaseName(lay.Name, m.Namespace, m.Name, m.Annotations[ownership.AnnSharedVIP]), proto, p.Port)
			wantSel[fmt.Sprintf("%d/%s", p.Port, proto)] = pool
			servers := x.servers(m, p)
			pk := okey{g.tenant, "pool", pool}
			x.objs[pk] = func(o map[string]any) string { return "" }
			x.pool(pk, servers)
			if len(servers) > 0 {
				pr := "tcp"
				if proto == "UDP" {
					pr = "udp"
				}
				x.ev.targets = append(x.ev.targets, &target{id: fmt.Sprintf("Service %s:%s/%s port %d/%s", lay.Name, m.Namespace, m.Name, p.Port, proto),
					keys:  []string{kSvc(x.cl.idx, m.Namespace, m.Name), kNs(x.cl.idx, m.Namespace), kAIS(x.cl.idx, infra)},
					deps:  []string{x.what(vk), x.what(okey{g.tenant, "virtualservice", g.owner}), x.what(pk), x.poolWhat(pk)},
					proto: pr, vips: addrs, port: int(p.Port), want: x.cl.echoNamesOf(servers)})
			}
		}
	}
	x.objs[okey{g.tenant, "virtualservice", g.owner}] = func(o map[string]any) string {
		got := map[string]string{}
		sel, _ := o["service_pool_select"].([]any)
		for _, y := range sel {
			m, _ := y.(map[string]any)
			got[fmt.Sprintf("%v/%s", m["service_port"], protoOf(str(m["service_protocol"])))] = x.so.refName(str(m["service_pool_ref"]))
		}
		var problems []string
		if !mapsEqual(got, wantSel) {
			problems = append(problems, fmt.Sprintf("port->pool %v, want %v", got, wantSel))
		}
		var gotPorts []string
		svcs, _ := o["services"].([]any)
		for _, y := range svcs {
			m, _ := y.(map[string]any)
			gotPorts = append(gotPorts, fmt.Sprint(m["port"]))
		}
		var wantPorts []string
		for k := range wantSel {
			p, _, _ := strings.Cut(k, "/")
			if !slices.Contains(wantPorts, p) {
				wantPorts = append(wantPorts, p)
			}
		}
		slices.Sort(gotPorts)
		slices.Sort(wantPorts)
		if !slices.Equal(slices.Compact(gotPorts), wantPorts) {
			problems = append(problems, fmt.Sprintf("listens on %v, want %v", gotPorts, wantPorts))
		}
		if v := x.so.refName(str(o["vsvip_ref"])); v != g.owner {
			problems = append(problems, fmt.Sprintf("vsvip_ref %q", v))
		}
		if sg := x.so.refName(str(o["se_group_ref"])); sg != seg {
			problems = append(problems, fmt.Sprintf("SE group %q, want %q", sg, seg))
		}
		return strings.Join(problems, "; ")
	}
}

// holder names the VsVip holding address a ("tenant/name"), "" when none.
func (x *expected) holder(a netip.Addr) string {
	for k, v := range x.so.by {
		if k.typ == "vsvip" && slices.Contains(vipAddrs(v), a) {
			return k.tenant + "/" + k.name
		}
	}
	return ""
}

func protoOf(serviceProtocol string) string {
	switch serviceProtocol {
	case "PROTOCOL_TYPE_UDP_FAST_PATH":
		return "UDP"
	case "PROTOCOL_TYPE_SCTP_PROXY":
		return "SCTP"
	}
	return "TCP"
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func when(bad bool, msg string) string {
	if bad {
		return msg
	}
	return ""
}

// servers are the "ip:port" pool servers of one Service port: its ready
// endpoints at the slice port of the same name and protocol.
func (x *expected) servers(svc *corev1.Service, p corev1.ServicePort) []string {
	var out []string
	proto := p.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, sl := range x.k.slices[svc.Namespace+"/"+svc.Name] {
		var port int32
		for _, sp := range sl.Ports {
			if sp.Name != nil && *sp.Name == p.Name && sp.Protocol != nil && *sp.Protocol == proto && sp.Port != nil {
				port = *sp.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				s := fmt.Sprintf("%s:%d", a, port)
				if !slices.Contains(out, s) {
					out = append(out, s)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// echoNamesOf maps pool servers back to the echo backends answering for them.
func (cl *cluster) echoNamesOf(servers []string) []string {
	var out []string
	for _, s := range servers {
		ip, _, _ := strings.Cut(s, ":")
		for _, e := range cl.echos {
			if podIP(e.IP()) == ip {
				out = append(out, e.Name())
			}
		}
	}
	return out
}

// podIP is harness.PodIP for an address (127.a.b.c is pod 10.a.b.c).
func podIP(ip string) string { return "10" + strings.TrimPrefix(ip, "127") }

// what is the key of an object's (3) check.
func (x *expected) what(k okey) string { return fmt.Sprintf("%s (cluster %s)", k, x.cl.lay.Name) }

// poolWhat is the key of a pool's (7) check.
func (x *expected) poolWhat(k okey) string { return fmt.Sprintf("%s of %s", k, x.cl.lay.Name) }

// pool registers a pool's expected servers: checked under (7).
func (x *expected) pool(k okey, servers []string) {
	o := x.so.by[k]
	what := x.poolWhat(k)
	if o == nil {
		x.ev.add(invEndpoints, what, fmt.Sprintf("%s: missing, want servers %v", what, orNone(servers)))
		return
	}
	got := poolServers(o)
	x.ev.add(invEndpoints, what, when(!slices.Equal(got, servers), fmt.Sprintf("%s: servers %v, want %v (the endpoints)", what, orNone(got), orNone(servers))))
}

func poolServers(o map[string]any) []string {
	var out []string
	list, _ := o["servers"].([]any)
	for _, y := range list {
		m, _ := y.(map[string]any)
		ip, _ := m["ip"].(map[string]any)
		out = append(out, fmt.Sprintf("%s:%v", str(ip["addr"]), m["port"]))
	}
	slices.Sort(out)
	return out
}

// l7 builds the expectations of the cluster's Ingresses. Which Ingress
// serves which host and path, on which shard, and every object name come
// from avi/model (PlanL7, the shard, pool and SNI child names of the plan,
// L7Names): the naming scheme is the specification, and the suite follows
// it when it changes. What the oracle decides itself is which Ingresses are
// vipgate's and which certificates are usable.
func (x *expected) l7() {
	s, lay := x.cl.s, x.cl.lay
	tenant := s.ControllerSettings.TenantName
	now := time.Now()
	var owned []model.L7Ingress
	for i := range x.k.ings {
		ing := &x.k.ings[i]
		if ing.DeletionTimestamp != nil {
			continue
		}
		what := fmt.Sprintf("Ingress %s:%s/%s", lay.Name, ing.Namespace, ing.Name)
		if ownership.IngressClassFor(ing, x.k.classes, s) == nil || !ownership.NamespaceSelected(x.k.nss[ing.Namespace], s) {
			x.ev.add(invStatus, what, when(len(ing.Status.LoadBalancer.Ingress) > 0, fmt.Sprintf("%s is not vipgate's but its status shows %v", what, ing.Status.LoadBalancer.Ingress)))
			continue
		}
		if errs := rules.ValidateIngressHosts(ing); len(errs) > 0 {
			continue
		}
		// The suite's IngressClasses name no AviInfraSetting.
		owned = append(owned, model.L7Ingress{Ingress: ing})
	}
	plan := model.PlanL7(s, owned)
	names := model.L7Names(s, plan)
	// usable tells whether a secure host's certificate can be served.
	type tlsInfo struct {
		usable bool
		secret string
		crt    []byte
	}
	secure := map[string]*tlsInfo{}
	for _, sp := range plan.Shards {
		for _, t := range sp.TLS {
			ti := &tlsInfo{secret: t.SecretName}
			if so := x.k.secrets[t.Namespace+"/"+t.SecretName]; so != nil && t.SecretName != "" {
				ti.usable = rules.TLSSecretUsable(ownership.SummarizeTLSSecret(so), now)
				ti.crt = so.Data[corev1.TLSCertKey]
			}
			secure[t.Host] = ti
		}
	}
	must := func(k okey, check func(map[string]any) string) {
		if !names[k.typ+"/"+k.name] {
			x.ev.add(invExact, x.what(k), x.what(k)+": the suite expects it, but avi/model's L7Names does not name it (the suite is out of step with the model)")
		}
		x.objs[k] = check
	}
	wantNets := lay.MainNets
	if x.r.flavour != FlavourAWS {
		wantNets = wantNets[:1]
	}
	shardAddrs := map[string][]string{}
	for _, sp := range plan.Shards {
		sh := sp.Name
		vk := okey{tenant, "vsvip", sh}
		if v := x.so.by[vk]; v != nil {
			shardAddrs[sh] = addrStrings(vipAddrs(v))
		}
		must(vk, func(o map[string]any) string {
			if got := vipAddrs(o); len(got) != len(wantNets) {
				return fmt.Sprintf("has %d addresses %v, want one in each of %v", len(got), addrStrings(got), wantNets)
			}
			return ""
		})
		must(okey{tenant, "virtualservice", sh}, func(o map[string]any) string {
			if v := x.so.refName(str(o["vsvip_ref"])); v != sh {
				return fmt.Sprintf("vsvip_ref %q", v)
			}
			return ""
		})
		must(okey{tenant, "httppolicyset", sh}, func(map[string]any) string { return "" })
		for _, rt := range sp.Routes {
			ti := secure[rt.Host]
			if ti != nil && !ti.usable {
				// Not served over HTTPS, and never in clear: no pool.
				continue
			}
			must(okey{tenant, "poolgroup", rt.Pool}, func(map[string]any) string { return "" })
			pk := okey{tenant, "pool", rt.Pool}
			must(pk, func(map[string]any) string { return "" })
			servers := x.backendServers(rt.Namespace+"/"+rt.Backend.Name, rt.Backend)
			x.pool(pk, servers)
			if len(servers) == 0 || len(shardAddrs[sh]) == 0 {
				continue
			}
			t := &target{id: fmt.Sprintf("Ingress %s:%s/%s host %s path %s", lay.Name, rt.Namespace, rt.Ingress, rt.Host, rt.Path),
				keys: []string{kIng(x.cl.idx, rt.Namespace, rt.Ingress), kSvc(x.cl.idx, rt.Namespace, rt.Backend.Name), kNs(x.cl.idx, rt.Namespace)},
				deps: []string{x.what(vk), x.what(okey{tenant, "virtualservice", sh}), x.what(okey{tenant, "httppolicyset", sh}),
					x.what(pk), x.poolWhat(pk), x.what(okey{tenant, "poolgroup", rt.Pool})},
				proto: "http", vips: shardAddrs[sh], port: 80, host: rt.Host, path: rt.Path, want: x.cl.echoNamesOf(servers)}
			if ti != nil {
				t.proto, t.port = "https", 443
				t.keys = append(t.keys, kSecret(x.cl.idx, rt.Namespace, ti.secret))
			}
			x.ev.targets = append(x.ev.targets, t)
		}
		for _, tl := range sp.TLS {
			ti := secure[tl.Host]
			if !ti.usable || sp.Dedicated {
				continue
			}
			child := model.SNIChildName(s.AKOSettings.ClusterName, sp.Infra, tl.Host)
			crt := string(ti.crt)
			must(okey{tenant, "sslkeyandcertificate", model.CertName(s.AKOSettings.ClusterName, sp.Infra, tl.Host, ti.secret)}, func(o map[string]any) string {
				c, _ := o["certificate"].(map[string]any)
				if strings.TrimSpace(str(c["certificate"])) != strings.TrimSpace(crt) {
					return "holds another certificate than Secret " + ti.secret
				}
				return ""
			})
			must(okey{tenant, "virtualservice", child}, func(o map[string]any) string {
				if p := x.so.refName(str(o["vh_parent_vs_ref"])); p != sh {
					return fmt.Sprintf("parent %q, want %q", p, sh)
				}
				return ""
			})
			must(okey{tenant, "httppolicyset", model.SNIPolicySetName(s.AKOSettings.ClusterName, sp.Infra, tl.Namespace, tl.Host)}, func(map[string]any) string { return "" })
		}
	}
	// Status: each host an Ingress is served on, at its shard's VIPs.
	for _, li := range owned {
		ing := li.Ingress
		key := ing.Namespace + "/" + ing.Name
		var want, got []string
		for _, h := range plan.IngressHosts[key] {
			for _, a := range shardAddrs[plan.HostShard[h]] {
				want = append(want, h+"="+a)
			}
		}
		for _, e := range ing.Status.LoadBalancer.Ingress {
			got = append(got, e.Hostname+"="+e.IP)
		}
		slices.Sort(want)
		slices.Sort(got)
		what := fmt.Sprintf("Ingress %s:%s", lay.Name, key)
		x.ev.add(invStatus, what, when(!slices.Equal(slices.Compact(got), want), fmt.Sprintf("%s: status %v, want %v (its hosts at their shards' VIPs)", what, orNone(got), orNone(want))))
	}
}

// backendServers are the pool servers of an Ingress backend: the servers
// of the Service port it names (by number or name).
func (x *expected) backendServers(nsName string, b networkingv1.IngressServiceBackend) []string {
	for i := range x.k.svcs {
		svc := &x.k.svcs[i]
		if svc.Namespace+"/"+svc.Name != nsName {
			continue
		}
		for _, p := range svc.Spec.Ports {
			if (b.Port.Name != "" && p.Name == b.Port.Name) || (b.Port.Name == "" && p.Port == b.Port.Number) {
				return x.servers(svc, p)
			}
		}
	}
	return nil
}

// compare checks (3): every expected object exists with the right content,
// and every object named for the cluster is expected.
func (x *expected) compare() {
	name := x.cl.lay.Name
	for k, check := range x.objs {
		o := x.so.by[k]
		what := x.what(k)
		if o == nil {
			x.ev.add(invExact, what, what+": missing")
			continue
		}
		x.ev.add(invExact, what, when(check(o) != "", what+": "+check(o)))
	}
	for k := range x.so.by {
		if k.typ == "serviceenginegroup" || !strings.HasPrefix(k.name, name+"--") || x.objs[k] != nil || x.lenient[k] {
			continue
		}
		if k.typ == "pool" && x.lenientPool(k) {
			continue
		}
		what := x.what(k)
		x.ev.add(invExact, what, what+": orphan (nothing in the cluster accounts for it)")
	}
}

func (x *expected) lenientPool(k okey) bool {
	for tb := range x.lenientBases {
		tenant, base, _ := strings.Cut(tb, "|")
		if tenant == k.tenant && model.IsPoolOf(base, k.name) {
			return true
		}
	}
	return false
}

// routes checks (3) for the cluster's static routes: one per node pod CIDR,
// labelled with the cluster.
func (x *expected) routes() {
	name := x.cl.lay.Name
	var want, got []string
	for _, n := range x.k.nodes {
		ip := ""
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				ip = a.Address
			}
		}
		if ip == "" || n.DeletionTimestamp != nil {
			continue
		}
		for _, c := range n.Spec.PodCIDRs {
			want = append(want, c+" via "+ip)
		}
	}
	for _, rt := range x.so.routes {
		cluster := ""
		labels, _ := rt["labels"].([]any)
		for _, l := range labels {
			m, _ := l.(map[string]any)
			if str(m["key"]) == "clustername" {
				cluster = str(m["value"])
			}
		}
		if cluster != name {
			continue
		}
		p, _ := rt["prefix"].(map[string]any)
		pa, _ := p["ip_addr"].(map[string]any)
		nh, _ := rt["next_hop"].(map[string]any)
		got = append(got, fmt.Sprintf("%s/%v via %s", str(pa["addr"]), p["mask"], str(nh["addr"])))
	}
	slices.Sort(want)
	slices.Sort(got)
	what := "static routes of cluster " + name
	x.ev.add(invExact, what, when(!slices.Equal(want, got), fmt.Sprintf("%s: %v, want %v", what, orNone(got), orNone(want))))
}

// ---- quiescent points ----

// quiesce ends every fault, brings every replica back, waits (bounded) until
// the expected state holds, counts (3) (4) (7), then verifies traffic
// through every VIP that should serve and makes those the probes' targets.
func (r *run) quiesce(op Op) string {
	r.endFaults()
	ctx := context.Background()
	var notes []string
	for _, cl := range r.clusters {
		notes = append(notes, cl.lay.Name+" "+r.startReplicas(cl))
	}
	start := time.Now()
	var ev *evaluation
	idle := idleWatch{}
	for {
		ev = r.evaluate(ctx)
		if len(ev.failed()) == 0 || time.Since(start) > r.p.Bound {
			break
		}
		if idle.settled(r, ev) {
			notes = append(notes, "vipgate idle with the same failures for "+idleFor.String())
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	took := time.Since(start)
	step := op.Step
	for _, res := range ev.results {
		r.st.check(res.inv, res.ok, step, res.key, res.msg)
	}
	failed := ev.failed()
	bad := map[string]bool{}
	for _, f := range failed {
		bad[f.key] = true
	}
	var ts []*target
	for _, t := range ev.targets {
		if !slices.ContainsFunc(t.deps, func(d string) bool { return bad[d] }) {
			ts = append(ts, t)
		}
	}
	served, notServed := r.verifyTraffic(ts, int64(step))
	r.syncSample()
	r.lastQuiesce.Store(int64(step))
	l7 := 0
	for _, t := range ts {
		if t.proto == "http" || t.proto == "https" {
			l7++
		}
	}
	out := fmt.Sprintf("%s; converged in %s: %d checks, %d failed; traffic verified on %d targets (%d Ingress host paths), %d not served",
		strings.Join(notes, "; "), took.Round(100*time.Millisecond), len(ev.results), len(failed), served, l7, notServed)
	for i, f := range failed {
		if i == 10 {
			out += fmt.Sprintf("\n        ... and %d more", len(failed)-10)
			break
		}
		out += "\n        " + strings.SplitN(invNames[f.inv], " ", 2)[0] + " " + f.msg
	}
	return out
}

// converge is a quiescent point for one namespace while faults and the rest
// of the run go on: it waits (at most op.Secs) until the controller's
// objects and the statuses of namespace op.NS in cluster op.C match the
// model, then records the checks of that namespace. A scenario calls it
// between rounds of changes, so a state that only a later change would
// repair (a shared-VIP group a lost race left without a member's port:
// nothing requeues it) is judged before that change comes.
func (r *run) converge(op Op) string {
	in := inNamespace(r.clusters[op.C].lay.Name, op.NS)
	start := time.Now()
	var res, failed []result
	for {
		res, failed = nil, nil
		for _, x := range r.evaluate(context.Background()).results {
			if in(x.key) {
				res = append(res, x)
				if !x.ok {
					failed = append(failed, x)
				}
			}
		}
		if len(failed) == 0 || time.Since(start) > time.Duration(op.Secs)*time.Second {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	scope := fmt.Sprintf("%d/%s", op.C, op.NS)
	if since, ok := r.quietSince.Load(scope); ok {
		for _, x := range r.refusals(op.C, op.NS, since.(time.Time)) {
			res = append(res, x)
			if !x.ok {
				failed = append(failed, x)
			}
		}
	}
	r.quietSince.Store(scope, time.Now())
	for _, x := range res {
		r.st.check(x.inv, x.ok, op.Step, x.key, x.msg)
	}
	out := fmt.Sprintf("%s/%s in %s: %d checks, %d failed", r.clusters[op.C].lay.Name, op.NS, time.Since(start).Round(100*time.Millisecond), len(res), len(failed))
	for _, f := range failed {
		out += "\n        " + strings.SplitN(invNames[f.inv], " ", 2)[0] + " " + f.msg
	}
	return out
}

// refusals checks that the controller refused none of vipgate's writes for
// the Services of namespace ns in cluster c since a time when no fault was
// injected (latency aside): with a healthy controller a refusal (a Warning
// Event of reason ControllerError) means vipgate sent something
// inconsistent, e.g. a virtual service naming a pool another of its writers
// had just deleted. Users see it as that Event and a condition on their
// Service, and wait out a backoff.
func (r *run) refusals(c int, ns string, since time.Time) []result {
	cl := r.clusters[c]
	var evs corev1.EventList
	if err := cl.c.List(context.Background(), &evs, client.InNamespace(ns)); err != nil {
		return []result{{inv: invExact, key: "Service " + cl.lay.Name + ":" + ns + "/ events", msg: "listing Events: " + err.Error()}}
	}
	problems := map[string]string{} // one check per Service with Events
	for _, e := range evs.Items {
		if e.InvolvedObject.Kind != "Service" {
			continue
		}
		what := fmt.Sprintf("Service %s:%s/%s", cl.lay.Name, ns, e.InvolvedObject.Name)
		last := e.LastTimestamp.Time
		if e.Series != nil {
			last = e.Series.LastObservedTime.Time
		} else if last.IsZero() {
			last = e.EventTime.Time
		}
		if e.Reason != reconcile.ReasonControllerError || last.Before(since.Truncate(time.Second)) {
			if _, seen := problems[what]; !seen {
				problems[what] = ""
			}
			continue
		}
		problems[what] = fmt.Sprintf("%s: the controller refused a write (%s %s, at %s) while no fault was injected since %s",
			what, e.Reason, e.Message, last.Format("15:04:05"), since.Format("15:04:05.000"))
	}
	var out []result
	for what, p := range problems {
		out = append(out, result{inv: invExact, key: what, ok: p == "", msg: p})
	}
	return out
}

// inNamespace tells whether a check's key is about namespace ns of cluster
// name: its Services ("Service <name>:<ns>/<svc>") or the controller objects
// named for them ("<name>--<ns>-...").
func inNamespace(name, ns string) func(key string) bool {
	svc, obj := "Service "+name+":"+ns+"/", model.BaseName(name, ns, "")
	return func(key string) bool { return strings.HasPrefix(key, svc) || strings.Contains(key, obj) }
}

// verifyTraffic sends requests to every target until three in a row are
// answered by an expected backend (bounded); those become the probes'
// targets until something they depend on changes. A target that never
// answers counts as a (6) failure.
func (r *run) verifyTraffic(ts []*target, epoch int64) (served, notServed int) {
	var mu sync.Mutex
	var good []*target
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, t := range ts {
		t.epoch = epoch
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			deadline := time.Now().Add(20 * time.Second)
			streak := 0
			var last string
			for time.Now().Before(deadline) && streak < 3*len(t.vips) {
				vip := t.vips[streak%len(t.vips)]
				got, err := r.send(t, vip)
				if err == nil && slices.Contains(t.want, got) {
					streak++
					continue
				}
				streak = 0
				last = fmt.Sprintf("via %s: %s", vip, describeReply(got, err, t.want))
				time.Sleep(300 * time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			ok := streak >= 3*len(t.vips)
			if ok {
				good = append(good, t)
			} else {
				r.logf("not served at quiescence: %s %s; data plane: %s", t.id, last, r.dataPlaneNote(t.vips[0]))
			}
			r.st.check(invTraffic, ok, int(epoch), t.id+" (quiescent)", fmt.Sprintf("%s is not served at the quiescent point although its objects are in place: %s", t.id, last))
		})
	}
	wg.Wait()
	slices.SortFunc(good, func(a, b *target) int { return strings.Compare(a.id, b.id) })
	r.stable.set(good)
	return len(good), len(ts) - len(good)
}

// idleFor is how long vipgate must have been idle, with the same checks
// failing, before a quiescent point stops waiting for the bound.
const idleFor = 25 * time.Second

// idleWatch tells when waiting longer cannot help: every cluster has a
// leader, nothing on the controller has changed (refused writes that a
// reconciler retries change nothing), and the same checks have failed, for
// idleFor. (A Service the controller refused waits out its backoff; the
// oracle lets such Services be without a VIP.)
type idleWatch struct {
	since    time.Time
	store    string
	failures string
}

// storeDigest summarizes the controller's objects: every object's type,
// tenant, name and _last_modified, which each successful write changes.
func (so *simObjs) digest() string {
	keys := make([]string, 0, len(so.by))
	for k, o := range so.by {
		keys = append(keys, k.String()+"@"+fmt.Sprint(o["_last_modified"]))
	}
	slices.Sort(keys)
	return strings.Join(keys, "\n") + fmt.Sprint(so.routes)
}

func (w *idleWatch) settled(r *run, ev *evaluation) bool {
	var keys []string
	for _, f := range ev.failed() {
		keys = append(keys, f.key)
	}
	slices.Sort(keys)
	fs := strings.Join(keys, "\n")
	store := r.readSim().digest()
	leaders := true
	for _, cl := range r.clusters {
		if cl.leader(context.Background()) < 0 {
			leaders = false
		}
	}
	if !leaders || store != w.store || fs != w.failures || w.since.IsZero() {
		w.since, w.store, w.failures = time.Now(), store, fs
		return false
	}
	return time.Since(w.since) >= idleFor
}
