package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avisim/dataplane/echo"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// marks remember, per object, the last step that touched it: legit marks
// allow its VIP to change (its spec, namespace or AviInfraSetting asked),
// dirty marks take it out of the traffic probes until the next quiescent
// point verifies it again. The executor marks before it sends, so any change
// an operation causes is seen after its mark.
type marks struct {
	mu    sync.Mutex
	legit map[string]int64
	dirty map[string]int64
}

func newMarks() *marks { return &marks{legit: map[string]int64{}, dirty: map[string]int64{}} }

func (m *marks) touch(step int64, legit bool, keys ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		m.dirty[k] = step
		if legit {
			m.legit[k] = step
		}
	}
}

// legitMark is the last step that legitimately touched key (0: none).
func (m *marks) legitMark(key string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.legit[key]
}

// dirtySince reports whether any key was touched after step.
func (m *marks) dirtySince(keys []string, step int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		if s, ok := m.dirty[k]; ok && s > step {
			return true
		}
	}
	return false
}

func kSvc(c int, ns, name string) string    { return fmt.Sprintf("svc|%d|%s/%s", c, ns, name) }
func kOwn(name string) string               { return "own|" + name }
func kIng(c int, ns, name string) string    { return fmt.Sprintf("ing|%d|%s/%s", c, ns, name) }
func kNs(c int, ns string) string           { return fmt.Sprintf("ns|%d|%s", c, ns) }
func kAIS(c int, name string) string        { return fmt.Sprintf("ais|%d|%s", c, name) }
func kSecret(c int, ns, name string) string { return fmt.Sprintf("secret|%d|%s/%s", c, ns, name) }

// touchService marks a Service, its VsVip and, for each shared-VIP key
// given, the group's VsVip and members; Ingresses routing to it get dirty.
func (r *run) touchService(cl *cluster, ns, name string, legit bool, keys ...string) {
	step := r.step.Load()
	c := cl.idx
	ks := []string{kSvc(c, ns, name), kOwn(model.BaseName(cl.lay.Name, ns, name))}
	for _, key := range keys {
		if key == "" {
			continue
		}
		ks = append(ks, kOwn(model.BaseName(cl.lay.Name, ns, key)))
		var list corev1.ServiceList
		if cl.c.List(context.Background(), &list, client.InNamespace(ns)) == nil {
			for _, s := range list.Items {
				if s.Annotations[rules.AnnSharedVIP] == key {
					ks = append(ks, kSvc(c, ns, s.Name))
				}
			}
		}
	}
	r.marks.touch(step, legit, ks...)
	r.touchIngressesOf(cl, ns, name, "")
}

// touchIngressesOf marks dirty the Ingresses of ns routing to Service svc
// or using Secret secret.
func (r *run) touchIngressesOf(cl *cluster, ns, svc, secret string) {
	var list networkingv1.IngressList
	if cl.c.List(context.Background(), &list, client.InNamespace(ns)) != nil {
		return
	}
	for _, ing := range list.Items {
		hit := false
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			for _, p := range rule.HTTP.Paths {
				if p.Backend.Service != nil && p.Backend.Service.Name == svc {
					hit = true
				}
			}
		}
		for _, t := range ing.Spec.TLS {
			if secret != "" && t.SecretName == secret {
				hit = true
			}
		}
		if hit {
			r.marks.touch(r.step.Load(), false, kIng(cl.idx, ns, ing.Name))
		}
	}
}

// touchIngress marks an Ingress and the shards of its hosts legit.
func (r *run) touchIngress(cl *cluster, ns, name string, hosts []string) {
	ks := []string{kIng(cl.idx, ns, name)}
	for _, h := range hosts {
		ks = append(ks, kOwn(shardOf(cl, h)))
	}
	r.marks.touch(r.step.Load(), true, ks...)
}

// touchNamespace marks everything in a namespace legit: its selection,
// tenant and AviInfraSetting decide where and whether its objects live.
func (r *run) touchNamespace(cl *cluster, ns string) {
	r.marks.touch(r.step.Load(), true, kNs(cl.idx, ns))
	var svcs corev1.ServiceList
	if cl.c.List(context.Background(), &svcs, client.InNamespace(ns)) == nil {
		for _, s := range svcs.Items {
			r.touchService(cl, ns, s.Name, true, s.Annotations[rules.AnnSharedVIP])
		}
	}
	var ings networkingv1.IngressList
	if cl.c.List(context.Background(), &ings, client.InNamespace(ns)) == nil {
		for _, ing := range ings.Items {
			r.touchIngress(cl, ns, ing.Name, ingressHosts(&ing))
		}
	}
}

// touchInfra marks an AviInfraSetting and the Services that select it.
func (r *run) touchInfra(cl *cluster, name string) {
	r.marks.touch(r.step.Load(), true, kAIS(cl.idx, name))
	ctx := context.Background()
	var nss corev1.NamespaceList
	_ = cl.c.List(ctx, &nss)
	byNs := map[string]*corev1.Namespace{}
	for i := range nss.Items {
		byNs[nss.Items[i].Name] = &nss.Items[i]
	}
	var svcs corev1.ServiceList
	if cl.c.List(ctx, &svcs) == nil {
		for _, s := range svcs.Items {
			if rules.InfraSettingName(&s, byNs[s.Namespace]) == name {
				r.touchService(cl, s.Namespace, s.Name, true, s.Annotations[rules.AnnSharedVIP])
			}
		}
	}
}

// ---- (1) and (2), checked continuously ----

// vipRecord is the last addresses seen for an object.
type vipRecord struct {
	addrs []string
}

// ownerClaim is a VIP seen with more than one owner, awaiting confirmation.
type ownerClaim struct {
	since time.Time
	done  bool
}

// watcher samples statuses and the controller every few hundred
// milliseconds and checks (1) and (2).
type watcher struct {
	recs   map[string]*vipRecord
	claims map[string]*ownerClaim
}

// watch runs until ctx ends.
func (r *run) watch(ctx context.Context) {
	w := &watcher{recs: map[string]*vipRecord{}, claims: map[string]*ownerClaim{}}
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for {
		var done chan struct{}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case done = <-r.sampleNow:
		}
		r.sample(ctx, w)
		if done != nil {
			close(done)
		}
	}
}

// syncSample has the watcher take one sample and check it before it
// returns. A quiescent point calls it before the new segment starts, so a
// change vipgate made before it converged is judged in the segment that
// caused it, even when the last timed sample came before the change: the
// next one would otherwise judge it in the new segment, in which no
// operation asked for it. It gives up after a while (no watcher running).
func (r *run) syncSample() {
	done := make(chan struct{})
	select {
	case r.sampleNow <- done:
	case <-time.After(10 * time.Second):
		return
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
	}
}

// sample takes one sample of every cluster's statuses and the controller's
// VsVips and checks (1) and (2) on it.
func (r *run) sample(ctx context.Context, w *watcher) {
	step := int(r.step.Load())
	owners := map[string]map[string]bool{} // ip -> owners
	addOwner := func(ip, owner string) {
		if owners[ip] == nil {
			owners[ip] = map[string]bool{}
		}
		owners[ip][owner] = true
	}
	for _, cl := range r.clusters {
		var svcs corev1.ServiceList
		var ings networkingv1.IngressList
		var nss corev1.NamespaceList
		if cl.c.List(ctx, &svcs) != nil || cl.c.List(ctx, &ings) != nil || cl.c.List(ctx, &nss) != nil {
			continue
		}
		byNs := map[string]*corev1.Namespace{}
		for i := range nss.Items {
			byNs[nss.Items[i].Name] = &nss.Items[i]
		}
		for _, s := range svcs.Items {
			var addrs []string
			for _, in := range s.Status.LoadBalancer.Ingress {
				addrs = append(addrs, in.IP)
			}
			slices.Sort(addrs)
			key := kSvc(cl.idx, s.Namespace, s.Name)
			owned := ownership.OwnsService(&s, cl.s) && ownership.NamespaceSelected(byNs[s.Namespace], cl.s) && s.DeletionTimestamp == nil
			// A member of a shared-VIP group takes the group's VIP: what
			// changes the group (a member joining with a requested VIP)
			// changes it.
			markKeys := []string{key}
			if k := s.Annotations[rules.AnnSharedVIP]; k != "" {
				markKeys = append(markKeys, kOwn(model.BaseName(cl.lay.Name, s.Namespace, k)))
			}
			r.checkStable(w, step, key+"|"+string(s.UID), markKeys, "Service "+cl.lay.Name+":"+s.Namespace+"/"+s.Name, addrs, !owned)
			if owned {
				owner := "Service " + cl.lay.Name + ":" + s.Namespace + "/" + s.Name
				if k := s.Annotations[rules.AnnSharedVIP]; k != "" {
					owner = "shared-VIP group " + cl.lay.Name + ":" + s.Namespace + "/" + k
				}
				for _, a := range addrs {
					addOwner(a, owner)
				}
			}
		}
		for _, ing := range ings.Items {
			hosts := map[string][]string{}
			for _, e := range ing.Status.LoadBalancer.Ingress {
				hosts[e.Hostname] = append(hosts[e.Hostname], e.IP)
			}
			key := kIng(cl.idx, ing.Namespace, ing.Name)
			for h, addrs := range hosts {
				slices.Sort(addrs)
				r.checkStable(w, step, key+"|"+string(ing.UID)+"|"+h, []string{key}, "Ingress "+cl.lay.Name+":"+ing.Namespace+"/"+ing.Name+" host "+h, addrs, ing.DeletionTimestamp != nil)
				if ing.DeletionTimestamp == nil {
					for _, a := range addrs {
						addOwner(a, "L7 shard "+cl.lay.Name+":"+shardOf(cl, h))
					}
				}
			}
		}
	}
	// The controller: every VsVip's addresses, in every tenant.
	for n, nr := range r.ranges(r.readSim()) {
		if nr.used >= nr.size {
			r.markFull(n)
		}
	}
	seen := map[string]bool{}
	for _, tenant := range append([]string{"admin"}, extraTenants...) {
		for _, v := range r.sim.Objects(tenant, "vsvip") {
			name := str(v["name"])
			var addrs []string
			for _, a := range vipAddrs(v) {
				addrs = append(addrs, a.String())
				addOwner("ctl:"+a.String(), "VsVip "+tenant+"/"+name)
			}
			id := "vsvip|" + tenant + "|" + name
			seen[id] = true
			r.checkStable(w, step, id, []string{kOwn(name)}, "VsVip "+tenant+"/"+name, addrs, false)
		}
	}
	for id, rec := range w.recs {
		if strings.HasPrefix(id, "vsvip|") && !seen[id] && len(rec.addrs) > 0 {
			parts := strings.SplitN(id, "|", 3)
			r.checkStable(w, step, id, []string{kOwn(parts[2])}, "VsVip "+parts[1]+"/"+parts[2], nil, false)
		}
	}
	// (2): a VIP with two owners must be gone within two seconds (a
	// release racing an allocation leaves a stale status that long).
	now := time.Now()
	for ip, os := range owners {
		if len(os) < 2 {
			r.st.check(invOneOwner, true, step, "", "")
			continue
		}
		list := make([]string, 0, len(os))
		for o := range os {
			list = append(list, o)
		}
		slices.Sort(list)
		ck := ip + "|" + strings.Join(list, ",")
		c := w.claims[ck]
		if c == nil {
			w.claims[ck] = &ownerClaim{since: now}
			continue
		}
		if c.done || now.Sub(c.since) < 2*time.Second {
			continue
		}
		c.done = true
		where := "in status"
		if strings.HasPrefix(ip, "ctl:") {
			where, ip = "on the controller", strings.TrimPrefix(ip, "ctl:")
		}
		r.st.check(invOneOwner, false, step, ck, fmt.Sprintf("VIP %s has %d owners %s for over 2 s: %s", ip, len(list), where, strings.Join(list, "; ")))
	}
	for ck, c := range w.claims {
		ip, _, _ := strings.Cut(ck, "|")
		if len(owners[ip]) < 2 && !c.done {
			delete(w.claims, ck)
		}
	}
}

// checkStable checks (1) for one object. Once it has addresses they may
// change only in a segment (the steps since the last quiescent point) in
// which an operation that may change them was issued: on the object, its
// shared-VIP group, namespace or AviInfraSetting. One operation may cause
// several changes (a create overtaken by a delete, a move between tenants),
// and its effects may come late under faults, so the whole segment is the
// transition; at the quiescent point vipgate has converged and the
// transition ends. released is true when the object is no longer vipgate's
// (its status is being cleared). Getting addresses is not a change.
func (r *run) checkStable(w *watcher, step int, id string, markKeys []string, what string, addrs []string, released bool) {
	rec := w.recs[id]
	if rec == nil {
		if len(addrs) > 0 {
			w.recs[id] = &vipRecord{addrs: addrs}
		}
		return
	}
	if slices.Equal(rec.addrs, addrs) {
		r.st.check(invVIPStable, true, step, "", "")
		return
	}
	segment := r.lastQuiesce.Load()
	var mark int64
	for _, k := range markKeys {
		mark = max(mark, r.marks.legitMark(k))
	}
	if len(rec.addrs) == 0 || (len(addrs) == 0 && released) || mark > segment {
		rec.addrs = addrs
		return
	}
	r.st.check(invVIPStable, false, step, id, fmt.Sprintf("%s changed from %v to %v at step %d; no operation that may change it since the quiescent point at step %d",
		what, rec.addrs, orNone(addrs), step, segment))
	rec.addrs = addrs
}

func orNone(s []string) any {
	if len(s) == 0 {
		return "nothing"
	}
	return s
}

// ---- (6) traffic through unchanged VIPs ----

// target is one VIP port the prober sends requests to while nothing it
// depends on changes.
type target struct {
	id   string
	keys []string
	// deps are the keys of the checks of the objects it goes through.
	deps  []string
	epoch int64
	// proto: tcp, udp, http or https.
	proto string
	vips  []string
	port  int
	host  string
	path  string
	want  []string
}

type targets struct {
	mu   sync.Mutex
	list []*target
	next int
}

func newTargets() *targets { return &targets{} }

func (ts *targets) set(list []*target) {
	ts.mu.Lock()
	ts.list, ts.next = list, 0
	ts.mu.Unlock()
}

func (ts *targets) drop(t *target) {
	ts.mu.Lock()
	ts.list = slices.DeleteFunc(ts.list, func(x *target) bool { return x == t })
	ts.mu.Unlock()
}

func (ts *targets) pick(r *run) *target {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for range len(ts.list) {
		t := ts.list[ts.next%len(ts.list)]
		ts.next++
		if !r.marks.dirtySince(t.keys, t.epoch) {
			return t
		}
	}
	return nil
}

// probe sends requests to unchanged targets until ctx ends.
func (r *run) probe(ctx context.Context) {
	rng := rand.New(rand.NewPCG(r.p.Seed, 3))
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(150 * time.Millisecond):
		}
		t := r.stable.pick(r)
		if t == nil {
			continue
		}
		vip := t.vips[rng.IntN(len(t.vips))]
		got, err := r.send(t, vip)
		if r.marks.dirtySince(t.keys, t.epoch) {
			continue // changed while the request was in flight
		}
		ok := err == nil && slices.Contains(t.want, got)
		msg := ""
		if !ok {
			msg = fmt.Sprintf("%s via %s: %s", t.id, vip, describeReply(got, err, t.want))
			r.logf("traffic failure: %s; data plane: %s", msg, r.dataPlaneNote(vip))
			r.stable.drop(t)
		}
		r.st.check(invTraffic, ok, int(r.step.Load()), t.id, msg)
	}
}

func describeReply(got string, err error, want []string) string {
	if err != nil {
		return "no answer: " + short(err)
	}
	return fmt.Sprintf("answered by %q, want one of %v", got, want)
}

// send sends one request to a target at vip and returns the backend that answered.
func (r *run) send(t *target, vip string) (string, error) {
	proto := "tcp"
	if t.proto == "udp" {
		proto = "udp"
	}
	addr, ok := r.sim.DataPlane().Lookup(vip, t.port, proto)
	if !ok {
		return "", fmt.Errorf("%s:%d/%s is not served", vip, t.port, proto)
	}
	switch t.proto {
	case "udp":
		// A datagram may be lost: one more try before calling it a failure.
		b, err := echo.Datagram(addr, "chaos")
		if err != nil {
			b, err = echo.Datagram(addr, "chaos")
		}
		return b, err
	case "http":
		rep := echo.Get(addr, t.host, t.path)
		return rep.Answer.Backend, rep.Err
	case "https":
		rep := echo.GetTLS(addr, t.host, t.path, t.host)
		return rep.Answer.Backend, rep.Err
	}
	return echo.Line(addr, "chaos")
}

// dataPlaneNote describes what the data plane serves for vip, for failure logs.
func (r *run) dataPlaneNote(vip string) string {
	st := r.sim.DataPlane().Status()
	var parts []string
	for _, l := range st.Listeners {
		if l.VIP == vip {
			parts = append(parts, fmt.Sprintf("%d/%s->%s (%s)", l.Port, l.Protocol, l.VirtualService, l.Mode))
		}
	}
	if len(parts) == 0 {
		return "no listener on " + vip
	}
	return strings.Join(parts, ", ")
}

// addrStrings renders addresses.
func addrStrings(as []netip.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}
