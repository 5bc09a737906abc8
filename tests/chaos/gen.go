package chaos

import (
	"math/rand/v2"
	"slices"
	"strings"
)

// Generate returns the operations of a run: a pure function of its
// arguments (one PCG source seeded with seed; no clock, no live state), so a
// seed always replays the same sequence. clusters is 1 or 2.
//
// Besides weighted random operations, every run of at least minScenarioSteps
// steps carries the five scenarios the suite is built to find, each at a
// position the seed chooses: two Services whose AKO names collide, a full
// AviInfraSetting followed by endpoint changes, a restart while the controller
// fails the inventory load, a second cluster with the same name, and a
// shared-VIP group edited concurrently (scenarios false leaves them out). A
// quiescent point comes every 35 to 60 steps and at the end.
func Generate(seed uint64, steps, clusters int, scenarios bool) []Op {
	g := newGen(seed, clusters)
	if scenarios {
		g.scheduleScenarios(steps)
	}
	nextQuiesce := quiesceGap(g)
	for len(g.out) < steps-1 {
		if len(g.out) >= nextQuiesce {
			g.emit(Op{Kind: OpQuiesce})
			nextQuiesce = len(g.out) + quiesceGap(g)
			continue
		}
		if len(g.scheduled) > 0 && g.scheduled[0].at <= len(g.out) {
			s := g.scheduled[0].fn
			g.scheduled = g.scheduled[1:]
			for _, o := range s(g) {
				g.emit(o)
			}
			continue
		}
		g.emit(g.random())
	}
	// Scenarios the steps ran out before (they are longer than their slot).
	for _, s := range g.scheduled {
		for _, o := range s.fn(g) {
			g.emit(o)
		}
	}
	g.emit(Op{Kind: OpQuiesce})
	for i := range g.out {
		g.out[i].Step = i + 1
	}
	return g.out
}

// minScenarioSteps is the shortest run that carries every scenario.
const minScenarioSteps = 100

// quiesceGap is the number of steps to the next quiescent point.
func quiesceGap(g *gen) int { return 35 + g.r.IntN(26) }

type scheduled struct {
	at int
	fn func(*gen) []Op
}

// gen is the generator's state: the random source and what it assumes the
// clusters hold if every valid request succeeded. The assumption only steers
// choices (edit what probably exists); the executor resolves every
// operation against the real state.
type gen struct {
	r         *rand.Rand
	clusters  int
	out       []Op
	scheduled []scheduled
	world     []*genCluster
}

type genCluster struct {
	svcs     map[string]*genSvc // "ns/name"
	ings     map[string]bool
	secrets  map[string]bool
	ais      map[string]bool
	nodes    map[int]bool
	selected map[string]bool
	ipNext   int
	down     int // replicas assumed down
	replicas int
}

type genSvc struct {
	ports []svcPort
	key   string
}

func newGen(seed uint64, clusters int) *gen {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), clusters: clusters}
	for c := range clusters {
		w := &genCluster{svcs: map[string]*genSvc{}, ings: map[string]bool{}, secrets: map[string]bool{}, ais: map[string]bool{},
			nodes: map[int]bool{}, selected: map[string]bool{}, replicas: replicasOf(c)}
		for _, ns := range namespaces {
			w.selected[ns] = true
		}
		g.world = append(g.world, w)
	}
	return g
}

// replicasOf is the number of vipgate replicas of cluster c: two (leader
// election, failover) for the first, one for the second.
func replicasOf(c int) int {
	if c == 0 {
		return 2
	}
	return 1
}

func (g *gen) emit(o Op) {
	g.apply(o)
	g.out = append(g.out, o)
}

// apply updates the generator's assumptions.
func (g *gen) apply(o Op) {
	if o.Kind == OpConcurrent {
		for _, s := range o.Sub {
			g.apply(s)
		}
		return
	}
	if o.Kind == OpImpostor || o.Kind == OpQuiesce || o.Kind == OpSleep || o.Kind == OpSettle || o.Kind == OpAwaitFull || strings.HasPrefix(o.Kind, "fault.") {
		if o.Kind == OpQuiesce {
			for _, w := range g.world {
				w.down = 0
			}
		}
		return
	}
	if slices.Contains(scenarioNamespaces, o.NS) {
		return // random operations leave the scenarios' namespaces alone
	}
	w := g.world[o.C]
	key := o.NS + "/" + o.Name
	switch o.Kind {
	case OpSvcCreate:
		if w.svcs[key] == nil && o.IP != "garbage" && o.IP != "outside" && o.IP != "bcast" && o.IP != "small" && o.Infra != aisBad {
			w.svcs[key] = &genSvc{ports: o.Ports, key: o.Key}
		}
	case OpSvcPorts:
		if s := w.svcs[key]; s != nil {
			s.ports = o.Ports
		}
	case OpSvcKey:
		if s := w.svcs[key]; s != nil {
			s.key = o.Key
		}
	case OpSvcDelete:
		delete(w.svcs, key)
	case OpIngCreate:
		w.ings[key] = true
	case OpIngDelete:
		delete(w.ings, key)
	case OpSecretCreate:
		w.secrets[key] = true
	case OpSecretDelete:
		delete(w.secrets, key)
	case OpNsLabel:
		w.selected[o.NS] = o.On
	case OpAISCreate:
		if o.Name != aisBad {
			w.ais[o.Name] = true
		}
	case OpAISDelete:
		delete(w.ais, o.Name)
	case OpNodeCreate:
		w.nodes[o.Node] = true
	case OpNodeDelete:
		delete(w.nodes, o.Node)
	case OpReplicaKill, OpReplicaStop:
		if w.down < w.replicas {
			w.down++
		}
	case OpReplicaStart, OpReplicaRestart:
		w.down = 0
	}
}

func (g *gen) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// cluster picks the cluster of the next operation: the first more often.
func (g *gen) cluster() int {
	if g.clusters > 1 && g.chance(0.3) {
		return 1
	}
	return 0
}

// eps picks a set of ready endpoints: one to three backends, sometimes none.
func (g *gen) eps() []int {
	if g.chance(0.08) {
		return []int{}
	}
	n := 1 + g.r.IntN(3)
	perm := g.r.Perm(echoCount)[:n]
	slices.Sort(perm)
	return perm
}

func (g *gen) ports() []svcPort {
	n := 1 + g.r.IntN(2)
	idx := g.r.Perm(len(portMenu))[:n]
	slices.Sort(idx)
	out := make([]svcPort, n)
	for i, k := range idx {
		out[i] = portMenu[k]
	}
	return out
}

// existing picks an existing Service of cluster c, "" when none.
func (g *gen) existing(c int) string {
	var keys []string
	for k := range g.world[c].svcs {
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	return keys[g.r.IntN(len(keys))]
}

func split(key string) (string, string) {
	for i := range key {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return "", key
}

type weighted struct {
	w  int
	fn func(g *gen, c int) (Op, bool)
}

// menu is the weighted operation menu (scenarios and quiescent points aside).
var menu = []weighted{
	{14, (*gen).svcCreate},
	{5, (*gen).svcPorts},
	{3, (*gen).svcClass},
	{3, (*gen).svcInfra},
	{2, (*gen).svcIP},
	{1, (*gen).svcKey},
	{6, (*gen).svcDelete},
	{2, (*gen).ctlDelete},
	{12, (*gen).epsScale},
	{5, (*gen).ingCreate},
	{4, (*gen).ingUpdate},
	{2, (*gen).ingDelete},
	{3, (*gen).secretCreate},
	{3, (*gen).secretRotate},
	{2, (*gen).secretDelete},
	{3, (*gen).nsLabel},
	{3, (*gen).nsTenant},
	{2, (*gen).nsInfra},
	{2, (*gen).aisCreate},
	{2, (*gen).aisEdit},
	{2, (*gen).aisDelete},
	{2, (*gen).nodeCreate},
	{1, (*gen).nodeDelete},
	{3, (*gen).faultErrors},
	{2, (*gen).faultLatency},
	{2, (*gen).faultExpire},
	{2, (*gen).faultConflict},
	{2, (*gen).faultDown},
	{1, (*gen).faultBlackhole},
	{2, (*gen).replicaKill},
	{4, (*gen).replicaStart},
	{1, (*gen).replicaStop},
}

var menuTotal = func() int {
	t := 0
	for _, m := range menu {
		t += m.w
	}
	return t
}()

func (g *gen) random() Op {
	for {
		n := g.r.IntN(menuTotal)
		for _, m := range menu {
			if n < m.w {
				if o, ok := m.fn(g, g.cluster()); ok {
					return o
				}
				break
			}
			n -= m.w
		}
	}
}

func (g *gen) svcCreate(c int) (Op, bool) {
	ns, name := g.pick(namespaces), g.pick(serviceNames)
	if g.world[c].svcs[ns+"/"+name] != nil {
		return Op{}, false
	}
	o := Op{Kind: OpSvcCreate, C: c, NS: ns, Name: name, Ports: g.ports(), Eps: g.eps()}
	switch x := g.r.Float64(); {
	case x < 0.05:
		o.Class = "other"
	case x < 0.15:
		o.Class = "avi"
	}
	g.requestIP(&o)
	if g.chance(0.15) {
		o.Key = sharedKey
		// Mostly ports the group does not use yet; sometimes a collision
		// (admission refuses it).
		if !g.chance(0.2) {
			o.Ports = g.freePorts(c, ns, o.Ports)
		}
	}
	switch x := g.r.Float64(); {
	case x < 0.10:
		o.Infra = aisSmall
	case x < 0.18:
		o.Infra = aisEdge
	case x < 0.20:
		o.Infra = aisBad
	}
	return o, true
}

// requestIP sets a requested VIP on a fifth of the creates.
func (g *gen) requestIP(o *Op) {
	o.IPAnn = g.chance(0.3)
	switch x := g.r.Float64(); {
	case x < 0.10:
		o.IP, o.IPIndex = "fresh", g.world[o.C].ipNext
		g.world[o.C].ipNext++
	case x < 0.14:
		if k := g.existing(o.C); k != "" {
			_, name := split(k)
			o.IP = "held:" + name
		}
	case x < 0.16:
		o.IP = "outside"
	case x < 0.18:
		o.IP = "bcast"
	case x < 0.19:
		o.IP = "small"
	case x < 0.20:
		o.IP, o.IPAnn = "garbage", true
	}
}

// freePorts drops from ports those another member of ns's shared-VIP group
// uses; it adds 9100+n when nothing is left.
func (g *gen) freePorts(c int, ns string, ports []svcPort) []svcPort {
	used := map[svcPort]bool{}
	for k, s := range g.world[c].svcs {
		if kns, _ := split(k); kns == ns && s.key == sharedKey {
			for _, p := range s.ports {
				used[p] = true
			}
		}
	}
	var out []svcPort
	for _, p := range ports {
		if !used[p] {
			out = append(out, p)
		}
	}
	for n := int32(0); len(out) == 0; n++ {
		if p := (svcPort{9100 + n, "TCP"}); !used[p] {
			out = append(out, p)
		}
	}
	return out
}

func (g *gen) svcPorts(c int) (Op, bool) {
	k := g.existing(c)
	if k == "" {
		return Op{}, false
	}
	ns, name := split(k)
	ports := g.ports()
	if g.world[c].svcs[k].key != "" {
		ports = g.freePorts(c, ns, ports)
	}
	return Op{Kind: OpSvcPorts, C: c, NS: ns, Name: name, Ports: ports}, true
}

func (g *gen) svcClass(c int) (Op, bool) {
	k := g.existing(c)
	if k == "" {
		return Op{}, false
	}
	ns, name := split(k)
	return Op{Kind: OpSvcClass, C: c, NS: ns, Name: name, Class: g.pick([]string{"", "avi", "other", "clusterip"})}, true
}

func (g *gen) svcInfra(c int) (Op, bool) {
	k := g.existing(c)
	if k == "" {
		return Op{}, false
	}
	ns, name := split(k)
	return Op{Kind: OpSvcInfra, C: c, NS: ns, Name: name, Infra: g.pick([]string{"", aisSmall, aisEdge})}, true
}

func (g *gen) svcIP(c int) (Op, bool) {
	k := g.existing(c)
	if k == "" {
		return Op{}, false
	}
	ns, name := split(k)
	o := Op{Kind: OpSvcIP, C: c, NS: ns, Name: name, IP: "fresh", IPIndex: g.world[c].ipNext, IPAnn: g.chance(0.3)}
	g.world[c].ipNext++
	return o, true
}

func (g *gen) svcKey(c int) (Op, bool) {
	k := g.existing(c)
	if k == "" {
		return Op{}, false
	}
	ns, name := split(k)
	key := sharedKey
	if g.world[c].svcs[k].key != "" {
		key = ""
	}
	return Op{Kind: OpSvcKey, C: c, NS: ns, Name: name, Key: key}, true
}

func (g *gen) svcDelete(c int) (Op, bool) {
	k := g.existing(c)
	if k == "" {
		return Op{}, false
	}
	ns, name := split(k)
	return Op{Kind: OpSvcDelete, C: c, NS: ns, Name: name}, true
}

func (g *gen) ctlDelete(c int) (Op, bool) {
	k := g.existing(c)
	if k == "" {
		return Op{}, false
	}
	ns, name := split(k)
	return Op{Kind: OpCtlDelete, C: c, NS: ns, Name: name}, true
}

func (g *gen) epsScale(c int) (Op, bool) {
	k := g.existing(c)
	if k == "" {
		return Op{}, false
	}
	ns, name := split(k)
	return Op{Kind: OpEpsScale, C: c, NS: ns, Name: name, Eps: g.eps()}, true
}

func (g *gen) ingSpec(ns string) *IngSpec {
	s := &IngSpec{}
	hosts := []int{0}
	if g.chance(0.4) {
		hosts = []int{0, 1}
	}
	for _, h := range hosts {
		r := IngRule{Host: h}
		paths := []string{"/"}
		if g.chance(0.4) {
			paths = []string{"/", "/api"}
		}
		for _, p := range paths {
			r.Paths = append(r.Paths, IngPath{Path: p, Backend: g.pick(serviceNames)})
		}
		s.Rules = append(s.Rules, r)
	}
	s.TLS = g.chance(0.4)
	switch x := g.r.Float64(); {
	case x < 0.08:
		s.Class = "other"
	case x < 0.18:
		s.Class = "avi"
	}
	return s
}

func (g *gen) ingCreate(c int) (Op, bool) {
	ns, name := g.pick(namespaces), g.pick(ingressNames)
	if g.world[c].ings[ns+"/"+name] {
		return Op{}, false
	}
	return Op{Kind: OpIngCreate, C: c, NS: ns, Name: name, Ing: g.ingSpec(ns)}, true
}

func (g *gen) existingIngress(c int) (string, string, bool) {
	var keys []string
	for k := range g.world[c].ings {
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return "", "", false
	}
	slices.Sort(keys)
	ns, name := split(keys[g.r.IntN(len(keys))])
	return ns, name, true
}

func (g *gen) ingUpdate(c int) (Op, bool) {
	ns, name, ok := g.existingIngress(c)
	if !ok {
		return Op{}, false
	}
	return Op{Kind: OpIngUpdate, C: c, NS: ns, Name: name, Ing: g.ingSpec(ns)}, true
}

func (g *gen) ingDelete(c int) (Op, bool) {
	ns, name, ok := g.existingIngress(c)
	if !ok {
		return Op{}, false
	}
	return Op{Kind: OpIngDelete, C: c, NS: ns, Name: name}, true
}

func (g *gen) secretCreate(c int) (Op, bool) {
	ns, ing := g.pick(namespaces), g.pick(ingressNames)
	if g.world[c].secrets[ns+"/"+secretName(ing)] {
		return Op{}, false
	}
	v := "valid"
	switch x := g.r.Float64(); {
	case x < 0.1:
		v = "expired"
	case x < 0.2:
		v = "mismatch"
	}
	return Op{Kind: OpSecretCreate, C: c, NS: ns, Name: secretName(ing), Variant: v}, true
}

func (g *gen) existingSecret(c int) (string, string, bool) {
	var keys []string
	for k := range g.world[c].secrets {
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return "", "", false
	}
	slices.Sort(keys)
	ns, name := split(keys[g.r.IntN(len(keys))])
	return ns, name, true
}

func (g *gen) secretRotate(c int) (Op, bool) {
	ns, name, ok := g.existingSecret(c)
	if !ok {
		return Op{}, false
	}
	return Op{Kind: OpSecretRotate, C: c, NS: ns, Name: name, Variant: "valid"}, true
}

func (g *gen) secretDelete(c int) (Op, bool) {
	ns, name, ok := g.existingSecret(c)
	if !ok {
		return Op{}, false
	}
	return Op{Kind: OpSecretDelete, C: c, NS: ns, Name: name}, true
}

func (g *gen) nsLabel(c int) (Op, bool) {
	ns := g.pick(namespaces)
	return Op{Kind: OpNsLabel, C: c, NS: ns, On: !g.world[c].selected[ns]}, true
}

func (g *gen) nsTenant(c int) (Op, bool) {
	return Op{Kind: OpNsTenant, C: c, NS: g.pick(namespaces), Tenant: g.pick(append([]string{""}, extraTenants...))}, true
}

func (g *gen) nsInfra(c int) (Op, bool) {
	return Op{Kind: OpNsInfra, C: c, NS: g.pick(namespaces), Infra: g.pick([]string{"", "", aisSmall, aisEdge})}, true
}

func (g *gen) aisCreate(c int) (Op, bool) {
	name := g.pick([]string{aisSmall, aisEdge, aisEdge, aisBad})
	if g.world[c].ais[name] {
		return Op{}, false
	}
	return Op{Kind: OpAISCreate, C: c, Name: name, Variant: "default"}, true
}

func (g *gen) aisEdit(c int) (Op, bool) {
	name := g.pick([]string{aisSmall, aisEdge})
	if !g.world[c].ais[name] {
		return Op{}, false
	}
	variants := map[string][]string{aisSmall: {"default", "medium", "badnet"}, aisEdge: {"default", "defaultseg", "badseg"}}[name]
	return Op{Kind: OpAISEdit, C: c, Name: name, Variant: g.pick(variants)}, true
}

func (g *gen) aisDelete(c int) (Op, bool) {
	name := g.pick([]string{aisSmall, aisEdge})
	if !g.world[c].ais[name] {
		return Op{}, false
	}
	return Op{Kind: OpAISDelete, C: c, Name: name}, true
}

func (g *gen) nodeCreate(c int) (Op, bool) {
	n := 1 + g.r.IntN(nodeCount)
	if g.world[c].nodes[n] {
		return Op{}, false
	}
	return Op{Kind: OpNodeCreate, C: c, Node: n, CIDR: g.r.IntN(3)}, true
}

func (g *gen) nodeDelete(c int) (Op, bool) {
	n := 1 + g.r.IntN(nodeCount)
	if !g.world[c].nodes[n] {
		return Op{}, false
	}
	return Op{Kind: OpNodeDelete, C: c, Node: n}, true
}

func (g *gen) faultErrors(int) (Op, bool) {
	status := 503
	if g.chance(0.4) {
		status = 500
	}
	return Op{Kind: OpFaultErrors, Rate: float64(2+g.r.IntN(5)) / 10, Status: status, Secs: 3 + g.r.IntN(8)}, true
}

func (g *gen) faultLatency(int) (Op, bool) {
	return Op{Kind: OpFaultLatency, Ms: 200 + 100*g.r.IntN(14), Secs: 3 + g.r.IntN(8)}, true
}

func (g *gen) faultExpire(int) (Op, bool) { return Op{Kind: OpFaultExpire}, true }

func (g *gen) faultConflict(int) (Op, bool) {
	return Op{Kind: OpFaultConflict, Type: g.pick([]string{"vsvip", "virtualservice", "pool", "vrfcontext"})}, true
}

func (g *gen) faultDown(int) (Op, bool) {
	return Op{Kind: OpFaultDown, Secs: 2 + g.r.IntN(7)}, true
}

func (g *gen) faultBlackhole(int) (Op, bool) {
	secs := 3 + g.r.IntN(8)
	if g.chance(0.2) {
		secs = 22 // past the client's 20 s request timeout
	}
	return Op{Kind: OpFaultBlackhole, Secs: secs}, true
}

func (g *gen) replicaKill(c int) (Op, bool) {
	w := g.world[c]
	if w.down >= w.replicas {
		return Op{}, false
	}
	target := "any"
	if w.replicas > 1 && w.down == 0 {
		target = g.pick([]string{"leader", "leader", "follower"})
	}
	return Op{Kind: OpReplicaKill, C: c, Target: target}, true
}

func (g *gen) replicaStart(c int) (Op, bool) {
	if g.world[c].down == 0 {
		return Op{}, false
	}
	return Op{Kind: OpReplicaStart, C: c}, true
}

func (g *gen) replicaStop(c int) (Op, bool) {
	w := g.world[c]
	if w.down > 0 || w.replicas < 2 {
		return Op{}, false
	}
	return Op{Kind: OpReplicaStop, C: c, Target: "leader"}, true
}

// scheduleScenarios places each scenario at a seeded position in the first
// 80% of the run (so a quiescent point follows it), once per 300 steps.
func (g *gen) scheduleScenarios(steps int) {
	if steps < minScenarioSteps {
		return
	}
	rounds := max(1, steps/300)
	span := steps / rounds
	for round := range rounds {
		for _, s := range []func(*gen) []Op{scenarioCollision, scenarioFullInfra, scenarioPreInventory, scenarioImpostor, scenarioSharedRace} {
			g.scheduled = append(g.scheduled, scheduled{at: round*span + span/10 + g.r.IntN(span*7/10), fn: s})
		}
	}
	slices.SortStableFunc(g.scheduled, func(a, b scheduled) int { return a.at - b.at })
}

// Scenarios run in namespaces of their own, which random operations never
// touch, so what they set up is there when they need it.
var scenarioNamespaces = []string{"coll", "coll-a", "full", "race"}

// scenarioCollision creates coll/a-web and coll-a/web in the first cluster:
// AKO's names for both are <cluster>--coll-a-web.
func scenarioCollision(g *gen) []Op {
	const note = "scenario: name collision"
	return []Op{
		{Kind: OpSvcDelete, C: 0, NS: "coll", Name: "a-web", Wait: true, Note: note},
		{Kind: OpSvcDelete, C: 0, NS: "coll-a", Name: "web", Wait: true, Note: note},
		{Kind: OpSvcCreate, C: 0, NS: "coll", Name: "a-web", Ports: []svcPort{{80, "TCP"}}, Eps: []int{0, 1}, Note: note},
		{Kind: OpSettle, Secs: 10, Note: note},
		{Kind: OpSvcCreate, C: 0, NS: "coll-a", Name: "web", Ports: []svcPort{{80, "TCP"}, {8080, "TCP"}}, Eps: []int{3}, Note: note},
		{Kind: OpEpsScale, C: 0, NS: "coll", Name: "a-web", Eps: []int{0, 1, 2}, Note: note},
	}
}

// fullServices are the Services of the full-AviInfraSetting scenario: one
// more than the small network has addresses.
var fullServices = []string{"s1", "s2", "s3", "s4", "s5"}

// scenarioFullInfra fills AviInfraSetting "small" (four addresses) with five
// Services, restarts the replicas (each loads a fresh inventory, in which
// the network is full, and the new leader evaluates the setting against
// it), then changes the endpoints of every one of them.
func scenarioFullInfra(g *gen) []Op {
	const note = "scenario: full AviInfraSetting"
	out := []Op{{Kind: OpAISCreate, C: 0, Name: aisSmall, Variant: "default", Note: note}}
	for _, name := range fullServices {
		out = append(out, Op{Kind: OpSvcCreate, C: 0, NS: "full", Name: name, Ports: []svcPort{{80, "TCP"}}, Eps: []int{1}, Infra: aisSmall, Note: note})
	}
	out = append(out, Op{Kind: OpAwaitFull, Secs: 30, Note: note},
		Op{Kind: OpSettle, Secs: 10, Note: note},
		Op{Kind: OpReplicaStop, C: 0, Target: "all", Note: note},
		Op{Kind: OpReplicaStart, C: 0, Note: note},
		Op{Kind: OpAwaitLeader, C: 0, Note: note},
		Op{Kind: OpSettle, Secs: 10, Note: note})
	for i, name := range fullServices {
		out = append(out, Op{Kind: OpEpsScale, C: 0, NS: "full", Name: name, Eps: []int{2 + i%3}, Note: note})
	}
	return out
}

// scenarioPreInventory restarts every replica of a cluster (stopped
// gracefully, so the new ones lead at once; kill -9 is the random
// operations' business) while most controller reads fail with 500, so they
// start before their first inventory load; then endpoints change so their
// Services are reconciled.
func scenarioPreInventory(g *gen) []Op {
	const note = "scenario: restart before the inventory loads"
	c := g.cluster()
	out := []Op{
		{Kind: OpFaultErrors, Rate: 0.6, Status: 500, Secs: 40, Note: note},
		{Kind: OpReplicaStop, C: c, Target: "all", Note: note},
		{Kind: OpReplicaStart, C: c, Note: note},
		{Kind: OpAwaitLeader, C: c, Note: note},
	}
	for range 3 {
		if k := g.existing(c); k != "" {
			ns, name := split(k)
			out = append(out, Op{Kind: OpEpsScale, C: c, NS: ns, Name: name, Eps: g.eps(), Note: note})
		}
	}
	return append(out, Op{Kind: OpSleep, Secs: 5, Note: note})
}

// scenarioImpostor runs, for a few seconds, a vipgate that another cluster
// (its own API server, no Services) started with the first cluster's name.
func scenarioImpostor(*gen) []Op {
	return []Op{{Kind: OpImpostor, Secs: 5, Note: "scenario: second cluster with the same name"}}
}

// scenarioSharedRace edits one shared-VIP group with concurrent member
// changes on a slow controller (which widens every reconcile's window; other
// faults are cleared first): two members created at once, then ports (and
// every other round endpoints) of both changed at once, round after round,
// then members leaving while others join, and at last two members created at
// once into the empty group, one of them requesting the group's VIP.
// Whatever order the reconciles finish in, the group must end up with
// exactly its members' ports, pools and one VIP, the requested one; and it
// must get there after each round by itself (converge), since a group that
// two writers built from different views stays wrong until something else
// requeues it, and the next round would hide that.
// raceKeys are the shared-VIP keys of the race scenario's last step.
var raceKeys = []string{"g1", "g2", "g3"}

// raceRounds is the number of rounds of concurrent member changes.
const raceRounds = 6

func scenarioSharedRace(g *gen) []Op {
	const note = "scenario: shared-VIP group race"
	c := g.cluster()
	ns := "race"
	svc := func(name string, eps []int, ports ...svcPort) Op {
		return Op{Kind: OpSvcCreate, C: c, NS: ns, Name: name, Ports: ports, Key: sharedKey, Eps: eps}
	}
	del := func(name string) Op { return Op{Kind: OpSvcDelete, C: c, NS: ns, Name: name, Wait: true, Note: note} }
	converge := Op{Kind: OpConverge, C: c, NS: ns, Secs: 30, Note: note}
	out := []Op{{Kind: OpFaultClear, Note: note}, {Kind: OpReplicaStart, C: c, Note: note}, {Kind: OpAwaitLeader, C: c, Note: note},
		del("web"), del("db"), del("api"), del("cache"),
		{Kind: OpFaultLatency, Ms: 250, Secs: 300, Note: note},
		{Kind: OpConcurrent, Note: note, Sub: []Op{svc("web", []int{0, 1}, svcPort{80, "TCP"}), svc("db", []int{2}, svcPort{53, "UDP"}, svcPort{9000, "TCP"})}},
		converge}
	for round := range raceRounds {
		p := int32(8081 + 2*round)
		sub := []Op{
			{Kind: OpSvcPorts, C: c, NS: ns, Name: "web", Ports: []svcPort{{80, "TCP"}, {p, "TCP"}}},
			{Kind: OpSvcPorts, C: c, NS: ns, Name: "db", Ports: []svcPort{{53, "UDP"}, {9000, "TCP"}, {p + 1, "TCP"}}},
		}
		if round%2 == 1 {
			sub = append(sub, Op{Kind: OpEpsScale, C: c, NS: ns, Name: "web", Eps: g.eps()}, Op{Kind: OpEpsScale, C: c, NS: ns, Name: "db", Eps: g.eps()})
		}
		out = append(out, Op{Kind: OpConcurrent, Note: note, Sub: sub}, converge)
	}
	// Members leave as others join: a leaver's reconcile rebuilds the group
	// from the members it knows of.
	out = append(out,
		Op{Kind: OpConcurrent, Note: note, Sub: []Op{{Kind: OpSvcDelete, C: c, NS: ns, Name: "web"}, svc("api", []int{3}, svcPort{8443, "TCP"})}},
		converge,
		Op{Kind: OpConcurrent, Note: note, Sub: []Op{{Kind: OpSvcDelete, C: c, NS: ns, Name: "db"}, {Kind: OpSvcDelete, C: c, NS: ns, Name: "api"},
			svc("cache", []int{1, 4}, svcPort{6379, "TCP"})}},
		converge,
		del("cache"), del("db"), del("api"))
	// Two members into an empty group at once, one requesting its VIP; in
	// three groups, so a run sees more than one order.
	var last []Op
	for _, key := range raceKeys {
		for _, name := range []string{key + "-a", key + "-r"} {
			out = append(out, del(name))
		}
		auto := svc(key+"-a", []int{0, 1}, svcPort{80, "TCP"})
		req := svc(key+"-r", []int{2}, svcPort{53, "UDP"}, svcPort{9000, "TCP"})
		auto.Key, req.Key = key, key
		req.IP, req.IPIndex = "fresh", g.world[c].ipNext
		g.world[c].ipNext++
		last = append(last, auto, req)
	}
	return append(out, Op{Kind: OpConcurrent, Note: note, Sub: last}, converge, Op{Kind: OpFaultClear, Note: note})
}
