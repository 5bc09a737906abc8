package chaos

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
	"github.com/vipgate/vipgate/tests/harness"
)

// warnCollector keeps the admission warnings the API server relays.
type warnCollector struct {
	mu   sync.Mutex
	list []string
}

func (w *warnCollector) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	w.list = append(w.list, text)
	w.mu.Unlock()
}

func (w *warnCollector) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// writer is the client requests go through: its warnings are collected.
type writer struct {
	c  client.Client
	wc *warnCollector
}

func newWriter(cfg *rest.Config) (*writer, error) {
	wc := &warnCollector{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = wc
	c, err := client.New(cfg, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		return nil, err
	}
	return &writer{c: c, wc: wc}, nil
}

// exec executes one operation and returns what happened, for the step log.
func (r *run) exec(op Op) string {
	if disturbs(op.Kind) {
		r.quietSince.Clear()
	}
	if op.Kind == OpConcurrent {
		res := make([]string, len(op.Sub))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, s := range op.Sub {
			s.Step = op.Step
			wg.Go(func() {
				<-start
				res[i] = r.exec(s)
			})
		}
		close(start)
		wg.Wait()
		return "concurrently: " + strings.Join(res, " | ")
	}
	if op.C >= len(r.clusters) && needsCluster(op.Kind) {
		return "skipped: no cluster " + fmt.Sprint(op.C)
	}
	switch op.Kind {
	case OpSvcCreate:
		return r.svcCreate(op)
	case OpSvcPorts, OpSvcClass, OpSvcInfra, OpSvcIP, OpSvcKey:
		return r.svcUpdate(op)
	case OpSvcDelete:
		return r.svcDelete(op)
	case OpCtlDelete:
		return r.ctlDelete(op)
	case OpEpsScale:
		return r.epsScale(op)
	case OpIngCreate, OpIngUpdate:
		return r.ingWrite(op)
	case OpIngDelete:
		return r.ingDelete(op)
	case OpSecretCreate, OpSecretRotate, OpSecretDelete:
		return r.secretOp(op)
	case OpNsLabel, OpNsTenant, OpNsInfra:
		return r.nsOp(op)
	case OpAISCreate, OpAISEdit, OpAISDelete:
		return r.aisOp(op)
	case OpNodeCreate, OpNodeDelete:
		return r.nodeOp(op)
	case OpFaultClear:
		r.endFaults()
		return "cleared"
	case OpFaultErrors, OpFaultLatency, OpFaultExpire, OpFaultConflict, OpFaultDown, OpFaultBlackhole:
		return r.faultOp(op)
	case OpReplicaKill, OpReplicaStop, OpReplicaStart, OpReplicaRestart, OpAwaitLeader:
		return r.replicaOp(op)
	case OpImpostor:
		res, err := r.runImpostor(time.Duration(op.Secs) * time.Second)
		if err != nil {
			return "error: " + err.Error()
		}
		return "impostor " + res
	case OpSleep:
		time.Sleep(time.Duration(op.Secs) * time.Second)
		return "slept"
	case OpSettle:
		return r.settle(time.Duration(op.Secs) * time.Second)
	case OpAwaitFull:
		return r.awaitFull(r.layouts[0].SmallNet, time.Duration(op.Secs)*time.Second)
	case OpQuiesce:
		return r.quiesce(op)
	case OpConverge:
		return r.converge(op)
	}
	return "unknown operation"
}

// disturbs reports whether an operation makes controller refusals and
// retries legitimate for a while: every fault but latency (which only slows
// answers), replica restarts and failovers, the impostor.
func disturbs(kind string) bool {
	return (strings.HasPrefix(kind, "fault.") && kind != OpFaultLatency && kind != OpFaultClear) ||
		strings.HasPrefix(kind, "replica.") || kind == OpImpostor
}

func needsCluster(kind string) bool {
	return !strings.HasPrefix(kind, "fault.") && kind != OpImpostor && kind != OpSleep && kind != OpSettle && kind != OpAwaitFull && kind != OpQuiesce
}

// ---- Services ----

// resolveIP turns an operation's requested-VIP mode into an address; ok is
// false when there is nothing to request (held: a Service without a VIP).
func (r *run) resolveIP(cl *cluster, op Op) (string, bool) {
	lay := cl.lay
	switch {
	case op.IP == "":
		return "", true
	case op.IP == "fresh":
		return lay.Reserved[op.IPIndex%len(lay.Reserved)].String(), true
	case op.IP == "outside":
		return lay.Outside, true
	case op.IP == "bcast":
		return lay.Broadcast, true
	case op.IP == "small":
		return lay.SmallAddr, true
	case op.IP == "garbage":
		return "not-an-ip", true
	case strings.HasPrefix(op.IP, "held:"):
		var svc corev1.Service
		if err := cl.c.Get(context.Background(), types.NamespacedName{Namespace: op.NS, Name: strings.TrimPrefix(op.IP, "held:")}, &svc); err != nil {
			return "", false
		}
		if len(svc.Status.LoadBalancer.Ingress) == 0 {
			return "", false
		}
		return svc.Status.LoadBalancer.Ingress[0].IP, true
	}
	return "", false
}

func setRequestedIP(svc *corev1.Service, ip string, ann bool) {
	svc.Spec.LoadBalancerIP = "" //nolint:staticcheck // AKO's surface
	delete(svc.Annotations, rules.AnnLoadBalancerIP)
	if ip == "" {
		return
	}
	if ann {
		svc.Annotations[rules.AnnLoadBalancerIP] = ip
	} else {
		svc.Spec.LoadBalancerIP = ip //nolint:staticcheck
	}
}

func setAnnotation(o metav1.Object, key, value string) {
	a := o.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	if value == "" {
		delete(a, key)
	} else {
		a[key] = value
	}
	o.SetAnnotations(a)
}

func servicePorts(ports []svcPort, target int) []corev1.ServicePort {
	out := make([]corev1.ServicePort, len(ports))
	for i, p := range ports {
		out[i] = corev1.ServicePort{Name: p.name(), Port: p.Port, Protocol: corev1.Protocol(p.Proto), TargetPort: intstr.FromInt(target)}
	}
	return out
}

func lbClass(class string) *string {
	switch class {
	case "avi":
		return ptr.To(ownership.LBClass)
	case "other":
		return ptr.To(otherClass)
	}
	return nil
}

func (r *run) svcCreate(op Op) string {
	cl := r.clusters[op.C]
	ip, ok := r.resolveIP(cl, op)
	if !ok {
		return "skipped: " + op.IP + " holds no VIP"
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: op.NS, Name: op.Name, Annotations: map[string]string{}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: servicePorts(op.Ports, cl.echoPort), LoadBalancerClass: lbClass(op.Class)}}
	if op.Class == "clusterip" {
		svc.Spec.Type, svc.Spec.LoadBalancerClass = corev1.ServiceTypeClusterIP, nil
	}
	setRequestedIP(svc, ip, op.IPAnn)
	setAnnotation(svc, rules.AnnSharedVIP, op.Key)
	setAnnotation(svc, rules.AnnInfraSetting, op.Infra)
	r.touchService(cl, op.NS, op.Name, true, op.Key)
	if err := r.writeSlice(cl, op.NS, op.Name, op.Ports, op.Eps); err != nil {
		return "error writing the EndpointSlice: " + err.Error()
	}
	w := r.writer(cl)
	res, _ := r.request(cl, "create", svc, nil, func(dry bool) error {
		return w.c.Create(context.Background(), svc.DeepCopy(), dryOpts(dry)...)
	}, func() { r.undoCreate(cl, svc) })
	return res
}

func dryOpts(dry bool) []client.CreateOption {
	if dry {
		return []client.CreateOption{client.DryRunAll}
	}
	return nil
}

// writer returns the cluster's warning-collecting client.
func (r *run) writer(cl *cluster) *writer {
	cl.wOnce.Do(func() {
		w, err := newWriter(cl.env.Cfg)
		if err != nil {
			panic(err)
		}
		cl.w = w
	})
	return cl.w
}

// svcUpdate edits a Service as the operation says: ports, class (type
// changes, since the class itself is immutable), AviInfraSetting, requested
// VIP, shared-VIP key.
func (r *run) svcUpdate(op Op) string {
	cl := r.clusters[op.C]
	ip := ""
	if op.Kind == OpSvcIP {
		var ok bool
		if ip, ok = r.resolveIP(cl, op); !ok {
			return "skipped: nothing to request"
		}
	}
	var cur corev1.Service
	if err := cl.c.Get(context.Background(), types.NamespacedName{Namespace: op.NS, Name: op.Name}, &cur); err != nil {
		return "skipped: " + short(err)
	}
	oldKey := cur.Annotations[rules.AnnSharedVIP]
	newKey := oldKey
	if op.Kind == OpSvcKey {
		newKey = op.Key
	}
	legit := op.Kind != OpSvcPorts
	r.touchService(cl, op.NS, op.Name, legit, oldKey, newKey)
	// A class change is two updates when the Service is of type
	// LoadBalancer: to ClusterIP first (loadBalancerClass is immutable).
	if op.Kind == OpSvcClass && op.Class != "clusterip" && cur.Spec.Type == corev1.ServiceTypeLoadBalancer {
		if ptr.Deref(cur.Spec.LoadBalancerClass, "") == ptr.Deref(lbClass(op.Class), "") ||
			(op.Class == "" && ptr.Deref(cur.Spec.LoadBalancerClass, "") == ownership.LBClass) {
			return "skipped: already of that class"
		}
		first := r.updateObject(cl, &corev1.Service{}, op.NS, op.Name, func(o client.Object) bool { return toClusterIP(o.(*corev1.Service)) })
		if !strings.HasPrefix(first, outAllowed) {
			return "to ClusterIP: " + first
		}
		return "to ClusterIP: " + first + "; then " + r.updateObject(cl, &corev1.Service{}, op.NS, op.Name, func(o client.Object) bool {
			return toLoadBalancer(o.(*corev1.Service), op.Class)
		})
	}
	res := r.updateObject(cl, &corev1.Service{}, op.NS, op.Name, func(o client.Object) bool {
		svc := o.(*corev1.Service)
		if svc.Annotations == nil {
			svc.Annotations = map[string]string{}
		}
		switch op.Kind {
		case OpSvcPorts:
			svc.Spec.Ports = servicePorts(op.Ports, cl.echoPort)
			if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
				for i := range svc.Spec.Ports {
					svc.Spec.Ports[i].NodePort = 0
				}
			}
		case OpSvcClass:
			if op.Class == "clusterip" {
				return toClusterIP(svc)
			}
			return toLoadBalancer(svc, op.Class)
		case OpSvcInfra:
			setAnnotation(svc, rules.AnnInfraSetting, op.Infra)
		case OpSvcIP:
			setRequestedIP(svc, ip, op.IPAnn)
		case OpSvcKey:
			setAnnotation(svc, rules.AnnSharedVIP, op.Key)
		}
		return true
	})
	if op.Kind == OpSvcPorts && strings.HasPrefix(res, outAllowed) {
		var sl discoveryv1.EndpointSlice
		eps := []int{}
		if cl.c.Get(context.Background(), types.NamespacedName{Namespace: op.NS, Name: sliceName(op.Name)}, &sl) == nil {
			eps = r.sliceEps(cl, &sl)
		}
		if err := r.writeSlice(cl, op.NS, op.Name, op.Ports, eps); err != nil {
			res += "; EndpointSlice: " + short(err)
		}
	}
	return res
}

func toClusterIP(svc *corev1.Service) bool {
	if svc.Spec.Type == corev1.ServiceTypeClusterIP {
		return false
	}
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	svc.Spec.LoadBalancerClass = nil
	svc.Spec.AllocateLoadBalancerNodePorts = nil
	svc.Spec.ExternalTrafficPolicy = ""
	svc.Spec.LoadBalancerIP = "" //nolint:staticcheck // only for type LoadBalancer
	for i := range svc.Spec.Ports {
		svc.Spec.Ports[i].NodePort = 0
	}
	return true
}

func toLoadBalancer(svc *corev1.Service, class string) bool {
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		return false
	}
	svc.Spec.Type = corev1.ServiceTypeLoadBalancer
	svc.Spec.LoadBalancerClass = lbClass(class)
	return true
}

func (r *run) svcDelete(op Op) string {
	cl := r.clusters[op.C]
	var cur corev1.Service
	ctx := context.Background()
	if err := cl.c.Get(ctx, types.NamespacedName{Namespace: op.NS, Name: op.Name}, &cur); err != nil {
		return "skipped: " + short(err)
	}
	r.touchService(cl, op.NS, op.Name, true, cur.Annotations[rules.AnnSharedVIP])
	if err := cl.c.Delete(ctx, &cur); err != nil {
		return "error: " + short(err)
	}
	_ = cl.c.Delete(ctx, &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: op.NS, Name: sliceName(op.Name)}})
	if op.Wait {
		start := time.Now()
		for time.Since(start) < r.p.Bound {
			if apierrors.IsNotFound(cl.c.Get(ctx, client.ObjectKeyFromObject(&cur), &corev1.Service{})) {
				return fmt.Sprintf("deleted (gone after %s)", time.Since(start).Round(100*time.Millisecond))
			}
			time.Sleep(100 * time.Millisecond)
		}
		return "deleted; still there after " + r.p.Bound.String()
	}
	return "deleted"
}

// l4PoolName matches the names of a Service's L4 pools (one per port),
// whose stem is rules.PoolBaseName.
func l4PoolName(stem string) *regexp.Regexp {
	return regexp.MustCompile("^" + regexp.QuoteMeta(stem) + "-(TCP|UDP|SCTP)-[0-9]+$")
}

// ctlDelete is an admin deleting a Service's virtual service and pools on
// the controller, in whatever tenant they are. No Kubernetes event follows:
// only vipgate's full sync (every 20 s here) notices and puts them back,
// behind the VsVip that is still there, so the VIP must not change (1); the
// Service's traffic is judged again at the next quiescent point, where the
// objects must be back (3, 4, 6). The admin's calls go to the controller
// directly (not through the network vipgate's faults cut), and meet the
// controller's own faults like any client's.
func (r *run) ctlDelete(op Op) string {
	cl := r.clusters[op.C]
	ctx := context.Background()
	var cur corev1.Service
	if err := cl.c.Get(ctx, types.NamespacedName{Namespace: op.NS, Name: op.Name}, &cur); err != nil {
		return "skipped: " + short(err)
	}
	key := cur.Annotations[rules.AnnSharedVIP]
	base := model.BaseName(cl.lay.Name, op.NS, cmp.Or(key, op.Name))
	r.touchService(cl, op.NS, op.Name, false, key)
	c, err := r.adminSession(ctx)
	if err != nil {
		return "error: " + short(err)
	}
	defer c.Close()
	pools := l4PoolName(rules.PoolBaseName(cl.lay.Name, op.NS, op.Name, key))
	var done, failed []string
	for _, typ := range []string{"virtualservice", "pool"} {
		for _, tenant := range append([]string{"admin"}, extraTenants...) {
			for _, o := range r.sim.Objects(tenant, typ) {
				name := str(o["name"])
				if (typ == "virtualservice" && name != base) || (typ == "pool" && !pools.MatchString(name)) {
					continue
				}
				if err := c.Delete(ctx, typ, str(o["uuid"]), tenant); err != nil {
					failed = append(failed, typ+"/"+name+": "+short(err))
					continue
				}
				done = append(done, typ+"/"+tenant+"/"+name)
			}
		}
	}
	switch {
	case len(done) == 0 && len(failed) == 0:
		return "nothing of " + base + " on the controller"
	case len(failed) > 0:
		return fmt.Sprintf("deleted %v; failed %v", done, failed)
	}
	return fmt.Sprintf("deleted %v", done)
}

// adminSession is a controller session of an admin, straight to avisim.
func (r *run) adminSession(ctx context.Context) (*session.Client, error) {
	s, err := r.layouts[0].settings(r.sim.Host())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return session.New(ctx, s.ControllerSettings, harness.SimCredentials(r.sim), session.Options{PoolSize: 1})
}

// awaitFull waits until network has no free VIP address, at most limit.
func (r *run) awaitFull(network string, limit time.Duration) string {
	start := time.Now()
	for {
		nr := r.ranges(r.readSim())[network]
		if nr == nil {
			return "no network " + network
		}
		if nr.used >= nr.size {
			return fmt.Sprintf("%s full after %s", network, time.Since(start).Round(100*time.Millisecond))
		}
		if time.Since(start) > limit {
			return fmt.Sprintf("%s still has %d of %d addresses free after %s", network, nr.size-nr.used, nr.size, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// settle waits until the controller has had no write for two seconds, at
// most limit.
func (r *run) settle(limit time.Duration) string {
	start := time.Now()
	last, quiet := r.sim.Writes(), time.Now()
	for time.Since(start) < limit {
		time.Sleep(200 * time.Millisecond)
		if w := r.sim.Writes(); w != last {
			last, quiet = w, time.Now()
		} else if time.Since(quiet) >= 2*time.Second {
			return fmt.Sprintf("settled after %s", time.Since(start).Round(100*time.Millisecond))
		}
	}
	return "still writing after " + limit.String()
}

func (r *run) epsScale(op Op) string {
	cl := r.clusters[op.C]
	var cur corev1.Service
	if err := cl.c.Get(context.Background(), types.NamespacedName{Namespace: op.NS, Name: op.Name}, &cur); err != nil {
		return "skipped: " + short(err)
	}
	r.marks.touch(r.step.Load(), false, kSvc(op.C, op.NS, op.Name))
	r.touchIngressesOf(cl, op.NS, op.Name, "")
	var ports []svcPort
	for _, p := range cur.Spec.Ports {
		ports = append(ports, svcPort{p.Port, string(p.Protocol)})
	}
	if err := r.writeSlice(cl, op.NS, op.Name, ports, op.Eps); err != nil {
		return "error: " + short(err)
	}
	return fmt.Sprintf("endpoints %v", cl.echoNames(op.Eps))
}

func sliceName(svc string) string { return svc + "-eps" }

// writeSlice creates or replaces the Service's EndpointSlice, as the
// endpoint-slice controller (absent in envtest) would: the echo backends'
// pod addresses (harness.PodIP), ready, one slice port per Service port.
func (r *run) writeSlice(cl *cluster, ns, svc string, ports []svcPort, eps []int) error {
	ctx := context.Background()
	sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sliceName(svc),
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}}, AddressType: discoveryv1.AddressTypeIPv4}
	for _, p := range ports {
		sl.Ports = append(sl.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.name()), Protocol: ptr.To(corev1.Protocol(p.Proto)), Port: ptr.To(int32(cl.echoPort))})
	}
	for _, i := range eps {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{harness.PodIP(cl.echos[i])},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	for range 5 {
		var cur discoveryv1.EndpointSlice
		err := cl.c.Get(ctx, client.ObjectKeyFromObject(sl), &cur)
		if apierrors.IsNotFound(err) {
			if err = cl.c.Create(ctx, sl); !apierrors.IsAlreadyExists(err) {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		cur.Ports, cur.Endpoints = sl.Ports, sl.Endpoints
		if err = cl.c.Update(ctx, &cur); !apierrors.IsConflict(err) {
			return err
		}
	}
	return fmt.Errorf("EndpointSlice %s/%s: conflicts", ns, sl.Name)
}

// sliceEps maps a slice's addresses back to echo backend indexes.
func (r *run) sliceEps(cl *cluster, sl *discoveryv1.EndpointSlice) []int {
	var out []int
	for _, ep := range sl.Endpoints {
		for i, e := range cl.echos {
			if slices.Contains(ep.Addresses, harness.PodIP(e)) {
				out = append(out, i)
			}
		}
	}
	return out
}

// ---- generic requests ----

// request sends a request that vipgate's webhooks may judge, compares the
// answer with the oracle's and counts the check. A request admitted against
// the rule book is undone (undo), so the cluster stays within what the rule
// book allows and later checks judge vipgate from a valid state. conflict
// reports an update that lost a resourceVersion race (the caller retries).
func (r *run) request(cl *cluster, verb string, obj, old client.Object, send func(dry bool) error, undo func()) (res string, conflict bool) {
	step := int(r.step.Load())
	v, err := r.judge(cl, verb, obj, old)
	if err != nil {
		return "oracle: " + err.Error(), false
	}
	w := r.writer(cl)
	w.wc.take()
	err = send(false)
	warnings := w.wc.take()
	kind := classify(err)
	if kind == outOther && apierrors.IsConflict(err) {
		return "", true
	}
	res = fmt.Sprintf("%s [oracle: %s]", kind, v.full)
	if err != nil {
		res = fmt.Sprintf("%s: %s [oracle: %s]", kind, short(err), v.full)
	}
	if len(warnings) > 0 {
		res += fmt.Sprintf(" warnings %q", warnings)
	}
	if !v.full.routed {
		return res, false
	}
	switch kind {
	case outOther:
		return res, false
	case outUnavailable:
		r.st.window(winUnavailable)
		return res + " {window: webhook unreachable}", false
	}
	allowed := kind == outAllowed
	what := fmt.Sprintf("%s %s %s", verb, kindOf(obj), cl.lay.Name+":"+objName(obj))
	key := fmt.Sprintf("step %d %s", step, what)
	if allowed == v.full.allowed {
		r.st.check(invAdmission, true, step, key, "")
		return res, false
	}
	if allowed {
		// The oracle read the cluster before vipgate answered, and the
		// cluster may have moved towards admitting in between: a deleted
		// Service's cleanup frees its VIP on the controller, say, and a
		// request for that address becomes valid. vipgate then judged a
		// newer state than the oracle; a fresh read right after the answer
		// shows it. The request stays: the rule book admits it.
		if now, err := r.judge(cl, verb, obj, old); err == nil && now.full.routed && now.full.allowed {
			r.st.window(winStateMoved)
			return res + " {window: the state moved; the rule book now admits it too}", false
		}
		defer undo()
		switch {
		case failOpenWarning(warnings) && v.noInv.allowed:
			r.st.window(winFailOpen)
			return res + " {window: fail-open; undone}", false
		case v.noInUse.allowed:
			r.st.window(winStaleInUse)
			return res + " {window: VIPs in use not in vipgate's inventory yet; undone}", false
		}
		time.Sleep(1500 * time.Millisecond)
		again, _ := r.judge(cl, verb, obj, old)
		if derr := send(true); classify(derr) == outDenied && !again.full.allowed {
			r.st.window(winCacheLag)
			return res + " {window: cache lag, denied a moment later; undone}", false
		}
		r.st.check(invAdmission, false, step, key, fmt.Sprintf("vipgate admitted %s, which the rule book refuses: %s", what, v.full.msg))
		return res + " {FAILED (5): admitted; undone}", false
	}
	time.Sleep(1500 * time.Millisecond)
	again, _ := r.judge(cl, verb, obj, old)
	derr := send(true)
	if again.full.routed && !again.full.allowed {
		r.st.window(winStateMoved)
		return res + " {window: the state moved; the rule book now refuses it too}", false
	}
	if dk := classify(derr); dk == outAllowed || (dk == outOther && apierrors.IsAlreadyExists(derr)) {
		r.st.window(winCacheLag)
		return res + " {window: cache lag, admitted a moment later (dry run)}", false
	}
	r.st.check(invAdmission, false, step, key, fmt.Sprintf("vipgate denied %s, which the rule book admits: %s", what, short(err)))
	return res + " {FAILED (5): denied}", false
}

func kindOf(o client.Object) string {
	switch o.(type) {
	case *corev1.Service:
		return "Service"
	case *networkingv1.Ingress:
		return "Ingress"
	case *v1beta1.AviInfraSetting:
		return "AviInfraSetting"
	}
	return fmt.Sprintf("%T", o)
}

func objName(o client.Object) string {
	if o.GetNamespace() == "" {
		return o.GetName()
	}
	return o.GetNamespace() + "/" + o.GetName()
}

// updateObject reads the object, edits it and sends the update through
// request, retrying on conflicts (vipgate writes status and finalizers).
// edit reports false when there is nothing to change.
func (r *run) updateObject(cl *cluster, proto client.Object, ns, name string, edit func(client.Object) bool) string {
	ctx := context.Background()
	w := r.writer(cl)
	for range 8 {
		cur := proto.DeepCopyObject().(client.Object)
		if err := cl.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, cur); err != nil {
			return "skipped: " + short(err)
		}
		if cur.GetDeletionTimestamp() != nil {
			return "skipped: being deleted"
		}
		old := cur.DeepCopyObject().(client.Object)
		if !edit(cur) {
			return "skipped: nothing to change"
		}
		res, conflict := r.request(cl, "update", cur, old, func(dry bool) error {
			if !dry {
				return w.c.Update(ctx, cur.DeepCopyObject().(client.Object))
			}
			// A dry run re-reads and re-edits: the object may have moved on.
			again := proto.DeepCopyObject().(client.Object)
			if err := cl.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, again); err != nil {
				return err
			}
			edit(again)
			return w.c.Update(ctx, again, client.DryRunAll)
		}, func() { r.undoUpdate(cl, old) })
		if !conflict {
			return res
		}
	}
	return "skipped: conflicts"
}

// undoCreate deletes an object admitted against the rule book.
func (r *run) undoCreate(cl *cluster, obj client.Object) {
	o := obj.DeepCopyObject().(client.Object)
	_ = cl.c.Delete(context.Background(), o)
	r.logf("undone: deleted %s %s", kindOf(obj), objName(obj))
}

// undoUpdate puts back what an update admitted against the rule book
// changed; when the API server or vipgate refuses that, the object goes.
func (r *run) undoUpdate(cl *cluster, old client.Object) {
	ctx := context.Background()
	for range 5 {
		cur := old.DeepCopyObject().(client.Object)
		if err := cl.c.Get(ctx, client.ObjectKeyFromObject(old), cur); err != nil {
			return
		}
		switch c := cur.(type) {
		case *corev1.Service:
			o := old.(*corev1.Service)
			c.Spec, c.Annotations, c.Labels = *o.Spec.DeepCopy(), o.Annotations, o.Labels
			c.Spec.ClusterIP, c.Spec.ClusterIPs = cur.(*corev1.Service).Spec.ClusterIP, cur.(*corev1.Service).Spec.ClusterIPs
		case *networkingv1.Ingress:
			o := old.(*networkingv1.Ingress)
			c.Spec, c.Annotations = *o.Spec.DeepCopy(), o.Annotations
		case *v1beta1.AviInfraSetting:
			c.Spec = *old.(*v1beta1.AviInfraSetting).Spec.DeepCopy()
		}
		err := cl.c.Update(ctx, cur)
		if err == nil {
			r.logf("undone: restored %s %s", kindOf(old), objName(old))
			return
		}
		if !apierrors.IsConflict(err) {
			_ = cl.c.Delete(ctx, cur)
			r.logf("undone: deleted %s %s (restoring failed: %v)", kindOf(old), objName(old), short(err))
			return
		}
	}
}

// ---- Ingresses and Secrets ----

func buildIngress(op Op) *networkingv1.Ingress {
	s := op.Ing
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: op.NS, Name: op.Name}}
	switch s.Class {
	case "avi":
		ing.Spec.IngressClassName = ptr.To(ingressClass)
	case "other":
		ing.Spec.IngressClassName = ptr.To(otherIngressClass)
	}
	for _, rule := range s.Rules {
		ir := networkingv1.IngressRule{Host: hostName(op.NS, op.Name, rule.Host),
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
		for _, p := range rule.Paths {
			ir.HTTP.Paths = append(ir.HTTP.Paths, networkingv1.HTTPIngressPath{Path: p.Path, PathType: ptr.To(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: p.Backend, Port: networkingv1.ServiceBackendPort{Number: 80}}}})
		}
		ing.Spec.Rules = append(ing.Spec.Rules, ir)
	}
	if s.TLS {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{hostName(op.NS, op.Name, 0)}, SecretName: secretName(op.Name)}}
	}
	return ing
}

func ingressHosts(ing *networkingv1.Ingress) []string {
	var out []string
	for _, r := range ing.Spec.Rules {
		if r.Host != "" {
			out = append(out, r.Host)
		}
	}
	return out
}

func (r *run) ingWrite(op Op) string {
	cl := r.clusters[op.C]
	ing := buildIngress(op)
	ctx := context.Background()
	var cur networkingv1.Ingress
	err := cl.c.Get(ctx, client.ObjectKeyFromObject(ing), &cur)
	hosts := ingressHosts(ing)
	if err == nil {
		hosts = append(hosts, ingressHosts(&cur)...)
	}
	r.touchIngress(cl, op.NS, op.Name, hosts)
	if op.Kind == OpIngCreate || apierrors.IsNotFound(err) {
		w := r.writer(cl)
		res, _ := r.request(cl, "create", ing, nil, func(dry bool) error {
			return w.c.Create(ctx, ing.DeepCopy(), dryOpts(dry)...)
		}, func() { r.undoCreate(cl, ing) })
		return res
	}
	return r.updateObject(cl, &networkingv1.Ingress{}, op.NS, op.Name, func(o client.Object) bool {
		o.(*networkingv1.Ingress).Spec = *ing.Spec.DeepCopy()
		return true
	})
}

func (r *run) ingDelete(op Op) string {
	cl := r.clusters[op.C]
	ctx := context.Background()
	var cur networkingv1.Ingress
	if err := cl.c.Get(ctx, types.NamespacedName{Namespace: op.NS, Name: op.Name}, &cur); err != nil {
		return "skipped: " + short(err)
	}
	r.touchIngress(cl, op.NS, op.Name, ingressHosts(&cur))
	if err := cl.c.Delete(ctx, &cur); err != nil {
		return "error: " + short(err)
	}
	return "deleted"
}

func (r *run) secretOp(op Op) string {
	cl := r.clusters[op.C]
	ctx := context.Background()
	ing := strings.TrimSuffix(op.Name, "-tls")
	r.marks.touch(r.step.Load(), false, kSecret(op.C, op.NS, op.Name))
	key := types.NamespacedName{Namespace: op.NS, Name: op.Name}
	switch op.Kind {
	case OpSecretDelete:
		if err := cl.c.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: op.NS, Name: op.Name}}); err != nil {
			return "skipped: " + short(err)
		}
		return "deleted"
	}
	crt, k, err := tlsPair(hostName(op.NS, ing, 0), op.Variant)
	if err != nil {
		return "error: " + err.Error()
	}
	data := map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: k}
	if op.Kind == OpSecretCreate {
		err := cl.c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: op.NS, Name: op.Name}, Type: corev1.SecretTypeTLS, Data: data})
		if err != nil {
			return "skipped: " + short(err)
		}
		return "created " + op.Variant
	}
	for range 5 {
		var cur corev1.Secret
		if err := cl.c.Get(ctx, key, &cur); err != nil {
			return "skipped: " + short(err)
		}
		cur.Data = data
		if err := cl.c.Update(ctx, &cur); err == nil {
			return "rotated"
		} else if !apierrors.IsConflict(err) {
			return "error: " + short(err)
		}
	}
	return "skipped: conflicts"
}

// ---- Namespaces, AviInfraSettings, Nodes ----

func (r *run) nsOp(op Op) string {
	cl := r.clusters[op.C]
	r.touchNamespace(cl, op.NS)
	ctx := context.Background()
	for range 5 {
		var ns corev1.Namespace
		if err := cl.c.Get(ctx, types.NamespacedName{Name: op.NS}, &ns); err != nil {
			return "error: " + short(err)
		}
		switch op.Kind {
		case OpNsLabel:
			if ns.Labels == nil {
				ns.Labels = map[string]string{}
			}
			if op.On {
				ns.Labels[selectorKey] = selectorValue
			} else {
				delete(ns.Labels, selectorKey)
			}
		case OpNsTenant:
			setAnnotation(&ns, ownership.AnnTenant, op.Tenant)
		case OpNsInfra:
			setAnnotation(&ns, rules.AnnInfraSetting, op.Infra)
		}
		err := cl.c.Update(ctx, &ns)
		if err == nil {
			return "updated"
		}
		if !apierrors.IsConflict(err) {
			return "error: " + short(err)
		}
	}
	return "skipped: conflicts"
}

// aisSpec is an AviInfraSetting variant.
func aisSpec(l layout, name, variant string) v1beta1.AviInfraSettingSpec {
	var s v1beta1.AviInfraSettingSpec
	switch name + "/" + variant {
	case aisSmall + "/default":
		s.Network.VipNetworks = []v1beta1.AviInfraSettingVipNetwork{{NetworkName: l.SmallNet}}
	case aisSmall + "/medium":
		s.Network.VipNetworks = []v1beta1.AviInfraSettingVipNetwork{{NetworkName: l.SmallNet}}
		s.L7Settings.ShardSize = "MEDIUM"
	case aisSmall + "/badnet", aisBad + "/default":
		s.Network.VipNetworks = []v1beta1.AviInfraSettingVipNetwork{{NetworkName: "no-such-network"}}
	case aisEdge + "/default":
		s.SeGroup.Name = l.EdgeSEGroup
	case aisEdge + "/defaultseg":
		s.SeGroup.Name = l.SEGroup
	case aisEdge + "/badseg":
		s.SeGroup.Name = "no-such-seg"
	}
	return s
}

func (r *run) aisOp(op Op) string {
	cl := r.clusters[op.C]
	ctx := context.Background()
	r.touchInfra(cl, op.Name)
	w := r.writer(cl)
	switch op.Kind {
	case OpAISCreate:
		ais := &v1beta1.AviInfraSetting{ObjectMeta: metav1.ObjectMeta{Name: op.Name}, Spec: aisSpec(cl.lay, op.Name, op.Variant)}
		res, _ := r.request(cl, "create", ais, nil, func(dry bool) error {
			return w.c.Create(ctx, ais.DeepCopy(), dryOpts(dry)...)
		}, func() { r.undoCreate(cl, ais) })
		return res
	case OpAISEdit:
		spec := aisSpec(cl.lay, op.Name, op.Variant)
		return r.updateObject(cl, &v1beta1.AviInfraSetting{}, "", op.Name, func(o client.Object) bool {
			o.(*v1beta1.AviInfraSetting).Spec = *spec.DeepCopy()
			return true
		})
	}
	var cur v1beta1.AviInfraSetting
	if err := cl.c.Get(ctx, types.NamespacedName{Name: op.Name}, &cur); err != nil {
		return "skipped: " + short(err)
	}
	res, _ := r.request(cl, "delete", &cur, nil, func(dry bool) error {
		opts := []client.DeleteOption{}
		if dry {
			opts = append(opts, client.DryRunAll)
		}
		return w.c.Delete(ctx, cur.DeepCopy(), opts...)
	}, func() {
		// A wrongly admitted delete cannot be undone; create it again.
		again := &v1beta1.AviInfraSetting{ObjectMeta: metav1.ObjectMeta{Name: cur.Name}, Spec: cur.Spec}
		_ = cl.c.Create(ctx, again)
		r.logf("undone: created AviInfraSetting %s again", cur.Name)
	})
	return res
}

func (r *run) nodeOp(op Op) string {
	cl := r.clusters[op.C]
	ctx := context.Background()
	name := fmt.Sprintf("node-%d", op.Node)
	if op.Kind == OpNodeDelete {
		if err := cl.c.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			return "skipped: " + short(err)
		}
		return "deleted"
	}
	cidr := nodeCIDR(op.C, op.Node, op.CIDR)
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: cidr, PodCIDRs: []string{cidr}}}
	if err := cl.c.Create(ctx, n); err != nil {
		return "skipped: " + short(err)
	}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name},
		{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("192.168.%d.%d", op.C, op.Node)}}
	if err := cl.c.Status().Update(ctx, n); err != nil {
		return "created; status: " + short(err)
	}
	return "created"
}

// ---- faults and replicas ----

// faultOp injects a controller fault; timed ones end by themselves (a later
// fault of the same kind restarts the clock) or at the next quiescent point.
func (r *run) faultOp(op Op) string {
	f := r.sim.Faults()
	d := time.Duration(op.Secs) * time.Second
	switch op.Kind {
	case OpFaultErrors:
		f.SetErrorStatus(op.Status)
		f.SetErrorRate(op.Rate)
		r.endLater("errors", d, func() { f.SetErrorRate(0); f.SetErrorStatus(http.StatusServiceUnavailable) })
	case OpFaultLatency:
		f.SetLatency(time.Duration(op.Ms) * time.Millisecond)
		r.endLater("latency", d, func() { f.SetLatency(0) })
	case OpFaultExpire:
		f.ExpireSessions()
	case OpFaultConflict:
		f.ConflictOnce(op.Type)
	case OpFaultDown:
		f.Down(d)
	case OpFaultBlackhole:
		r.ctl.blackhole(d)
	}
	return "injected"
}

func (r *run) endLater(kind string, d time.Duration, end func()) {
	r.faultMu.Lock()
	r.faultGen[kind]++
	gen := r.faultGen[kind]
	r.faultMu.Unlock()
	time.AfterFunc(d, func() {
		r.faultMu.Lock()
		defer r.faultMu.Unlock()
		if r.faultGen[kind] == gen {
			end()
		}
	})
}

// endFaults clears every fault now.
func (r *run) endFaults() {
	r.faultMu.Lock()
	for k := range r.faultGen {
		r.faultGen[k]++
	}
	r.faultMu.Unlock()
	r.sim.Faults().Reset()
	r.ctl.blackhole(0)
}

func (r *run) replicaOp(op Op) string {
	cl := r.clusters[op.C]
	ctx := context.Background()
	switch op.Kind {
	case OpAwaitLeader:
		start := time.Now()
		if i := cl.awaitLeader(ctx, r.p.Bound); i >= 0 {
			return fmt.Sprintf("replica %d leads (after %s)", i, time.Since(start).Round(100*time.Millisecond))
		}
		return "no leader after " + r.p.Bound.String()
	case OpReplicaStart:
		return r.startReplicas(cl)
	case OpReplicaRestart:
		for _, rep := range cl.replicas {
			rep.kill()
		}
		return "killed all; " + r.startReplicas(cl)
	}
	var running []int
	for i, rep := range cl.replicas {
		if rep.running() {
			running = append(running, i)
		}
	}
	if len(running) == 0 {
		return "skipped: no replica runs"
	}
	leader := cl.leader(ctx)
	pick := running[0]
	switch op.Target {
	case "leader":
		if leader >= 0 {
			pick = leader
		}
	case "follower":
		for _, i := range running {
			if i != leader {
				pick = i
			}
		}
	}
	if op.Kind == OpReplicaStop && op.Target == "all" {
		for _, i := range running {
			cl.replicas[i].stop()
		}
		return fmt.Sprintf("stopped replicas %v (leader was %d)", running, leader)
	}
	if op.Kind == OpReplicaStop {
		cl.replicas[pick].stop()
		return fmt.Sprintf("stopped replica %d (leader was %d)", pick, leader)
	}
	cl.replicas[pick].kill()
	return fmt.Sprintf("killed replica %d (leader was %d)", pick, leader)
}

// startReplicas starts every replica of cl that is down and waits until
// they serve their webhooks.
func (r *run) startReplicas(cl *cluster) string {
	var started []string
	for i, rep := range cl.replicas {
		if rep.running() {
			continue
		}
		if err := rep.start(r.bin); err != nil {
			return "error: " + err.Error()
		}
		started = append(started, fmt.Sprint(i))
	}
	for _, rep := range cl.replicas {
		if err := rep.waitServing(time.Minute); err != nil {
			return "error: " + err.Error()
		}
	}
	if len(started) == 0 {
		return "all running"
	}
	return "started replica(s) " + strings.Join(started, ",")
}

// short is an error's message, cut to one line.
func short(err error) string {
	if err == nil {
		return ""
	}
	return oneLine(err.Error())
}

// oneLine is s cut to its first line and 300 bytes.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// shardOf is the L7 shard serving host in cluster cl (no AviInfraSetting on
// the suite's IngressClass).
func shardOf(cl *cluster, host string) string { return model.ShardName(cl.s, nil, host) }
