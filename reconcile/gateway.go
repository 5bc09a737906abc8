package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/tools/record"
	kptr "k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// GatewayReconciler turns Gateways of vipgate's GatewayClasses, with the
// HTTPRoutes attached to them, into a VsVip, a virtual service and its
// pools and HTTP policy on the controller, and writes what was programmed
// to the status of the Gateway and of its routes.
type GatewayReconciler struct {
	// FullSync, when set, queues every key at each of its rounds (drift repair).
	FullSync  *FullSync
	Client    client.Client
	Recorder  record.EventRecorder
	Settings  *config.Settings
	Applier   Applier
	Inventory inventory.Source
	Lookups   rules.Lookups
	Gateways  rules.GatewayLookups
	// RetryBadRequest is the first wait after the controller refused a request.
	RetryBadRequest time.Duration
	// L4Routes is set when the cluster serves TCPRoute and UDPRoute.
	L4Routes bool

	backoffOnce sync.Once
	backoff     *Backoff
}

func (r *GatewayReconciler) backoffFor() *Backoff {
	r.backoffOnce.Do(func() { r.backoff = &Backoff{Base: r.RetryBadRequest} })
	return r.backoff
}

// gatewayOwner is the applier's owner of a Gateway's objects.
func (r *GatewayReconciler) gatewayOwner(ns, name string) apply.Owner {
	s := r.Settings
	return apply.Owner{Name: rules.GatewayName(s.AKOSettings.ClusterName, ns, name), CreatedBy: s.CreatedBy(),
		OwnedBy: ownership.GatewayOwner(ns, name), ClusterID: s.ClusterID, Tenant: s.ControllerSettings.TenantName, L7: true}
}

// Reconcile is idempotent: the same cluster and controller state produce no writes.
func (r *GatewayReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var gw gatewayv1.Gateway
	if err := r.Client.Get(ctx, req.NamespacedName, &gw); err != nil {
		// Gone: its objects went before the finalizer was removed.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	env := rules.NewEnv(ctx, r.Settings, r.Inventory, r.Lookups, 0, time.Now())
	var res rules.Result
	gc, ais, infraKnown := rules.GatewayClassOf(&res, &gw, env, r.Gateways)
	selected, err := cluster.NamespaceSelected(ctx, r.Client, gw.Namespace, r.Settings)
	if err != nil {
		return ctrl.Result{}, err
	}
	if gw.DeletionTimestamp != nil || gc == nil || !selected {
		return r.release(ctx, &gw)
	}
	if !controllerutil.ContainsFinalizer(&gw, ownership.CleanupFinalizer) {
		patch := lockedPatch(&gw)
		controllerutil.AddFinalizer(&gw, ownership.CleanupFinalizer)
		if err := r.Client.Patch(ctx, &gw, patch); err != nil {
			return ctrl.Result{}, err
		}
	}
	if r.Inventory != nil && env.Inventory == nil {
		return ctrl.Result{RequeueAfter: inventoryWait}, nil
	}
	if !infraKnown {
		msg := strings.Join(res.Warnings, "; ")
		return ctrl.Result{RequeueAfter: inventoryWait}, r.writeGatewayStatus(ctx, &gw, nil, gatewayCond(gw.Generation, "Accepted", false, string(gatewayv1.GatewayReasonPending), msg),
			gatewayCond(gw.Generation, "Programmed", false, string(gatewayv1.GatewayReasonPending), msg), nil)
	}
	v := rules.ValidateGateway(&gw, nil, env, r.Gateways)
	// A listener's certificate problems leave that listener out
	// (ResolvedRefs=False); any other problem stops the whole Gateway.
	badCerts := map[int][]string{}
	var errs field.ErrorList
	for _, e := range v.Errors {
		var i int
		if n, _ := fmt.Sscanf(e.Field, "spec.listeners[%d].tls", &i); n == 1 {
			badCerts[i] = append(badCerts[i], e.Error())
			continue
		}
		errs = append(errs, e)
	}
	v.Errors = errs
	if !v.Allowed() {
		msg := v.Err().Error()
		r.Recorder.Event(&gw, corev1.EventTypeWarning, ReasonInvalid, msg)
		reason := string(gatewayv1.GatewayReasonInvalid)
		programmed := gatewayCond(gw.Generation, "Programmed", false, reason, msg)
		if strings.HasPrefix(msg, "spec.addresses") {
			programmed.Reason = string(gatewayv1.GatewayReasonAddressNotUsable)
		}
		return ctrl.Result{}, r.writeGatewayStatus(ctx, &gw, nil, gatewayCond(gw.Generation, "Accepted", false, reason, msg), programmed, nil)
	}
	plan, err := r.plan(ctx, &gw, badCerts)
	if err != nil {
		return ctrl.Result{}, err
	}
	in := model.GatewayInput{Settings: r.Settings, Snapshot: env.Inventory, Infra: ais, Namespace: gw.Namespace, Name: gw.Name,
		RequestedIP: rules.RequestedGatewayIP(&gw), Listeners: plan.listeners, Routes: plan.routes, Backends: plan.backends, L4Listeners: plan.l4}
	for _, a := range gw.Status.Addresses {
		in.Shown = append(in.Shown, a.Value)
	}
	set, err := model.BuildGateway(in)
	if err != nil {
		return ctrl.Result{}, r.writeGatewayStatus(ctx, &gw, nil, gatewayCond(gw.Generation, "Accepted", false, string(gatewayv1.GatewayReasonInvalid), err.Error()),
			gatewayCond(gw.Generation, "Programmed", false, string(gatewayv1.GatewayReasonInvalid), err.Error()), nil)
	}
	applied, err := r.Applier.Apply(ctx, set)
	var addrs []string
	if err == nil {
		if addrs = model.GatewayAddresses(applied.VsVip); len(addrs) == 0 {
			err = fmt.Errorf("the controller returned VsVip %s without an address", set.Owner)
		}
	}
	if err != nil {
		f := controllerFailed(ctx, r.Recorder, r.backoffFor(), req.String(), err, &gw)
		if serr := r.writeGatewayStatus(ctx, &gw, nil, gatewayCond(gw.Generation, "Accepted", true, string(gatewayv1.GatewayReasonAccepted), "handled by vipgate"),
			gatewayCond(gw.Generation, "Programmed", false, string(gatewayv1.GatewayReasonPending), f.Message), plan.listenerStatus(gw.Generation, false)); serr != nil {
			return ctrl.Result{}, serr
		}
		return f.Result, f.Err
	}
	r.backoffFor().Reset(req.String())
	if applied.Writes > 0 {
		logr.FromContextOrDiscard(ctx).Info("synced", "virtualservice", set.Owner, "vip", addrs, "created", applied.Created, "updated", applied.Updated, "deleted", applied.Deleted)
	}
	if err := r.writeRouteStatus(ctx, &gw, plan); err != nil {
		return ctrl.Result{}, err
	}
	// A listener left out for its certificate is judged again: the Secret or
	// ReferenceGrant may have reached the cache after this Gateway did, whose
	// watch event then found no Gateway to requeue.
	var again ctrl.Result
	if len(plan.badCerts) > 0 {
		again.RequeueAfter = certRecheck
	}
	return again, r.writeGatewayStatus(ctx, &gw, addrs,
		gatewayCond(gw.Generation, "Accepted", true, string(gatewayv1.GatewayReasonAccepted), "handled by vipgate"),
		gatewayCond(gw.Generation, "Programmed", true, string(gatewayv1.GatewayReasonProgrammed), "virtual service "+set.Owner+" is programmed on the controller"),
		plan.listenerStatus(gw.Generation, true))
}

// certRecheck is how soon a Gateway with an unusable listener certificate is judged again.
const certRecheck = 10 * time.Second

// release removes the Gateway's controller objects and then its finalizer.
func (r *GatewayReconciler) release(ctx context.Context, gw *gatewayv1.Gateway) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(gw, ownership.CleanupFinalizer) {
		return ctrl.Result{}, nil
	}
	res, err := r.Applier.Delete(ctx, r.gatewayOwner(gw.Namespace, gw.Name))
	if err != nil {
		f := controllerFailed(ctx, r.Recorder, r.backoffFor(), gw.Namespace+"/"+gw.Name, err, gw)
		return f.Result, f.Err
	}
	if len(res.Deleted) > 0 {
		logr.FromContextOrDiscard(ctx).Info("released", "deleted", res.Deleted)
	}
	patch := lockedPatch(gw)
	controllerutil.RemoveFinalizer(gw, ownership.CleanupFinalizer)
	if err := r.Client.Patch(ctx, gw, patch); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

func gatewayCond(gen int64, typ string, ok bool, reason, msg string) metav1.Condition {
	st := metav1.ConditionFalse
	if ok {
		st = metav1.ConditionTrue
	}
	return metav1.Condition{Type: typ, Status: st, Reason: reason, Message: msg, ObservedGeneration: gen}
}

// writeGatewayStatus sets the Gateway's addresses (nil keeps them),
// conditions and listener statuses (nil keeps them), patching only on change.
func (r *GatewayReconciler) writeGatewayStatus(ctx context.Context, gw *gatewayv1.Gateway, addrs []string, accepted, programmed metav1.Condition, listeners []gatewayv1.ListenerStatus) error {
	before := gw.DeepCopy()
	if addrs != nil {
		gw.Status.Addresses = nil
		for _, a := range addrs {
			gw.Status.Addresses = append(gw.Status.Addresses, gatewayv1.GatewayStatusAddress{Type: kptr.To(gatewayv1.IPAddressType), Value: a})
		}
	}
	for _, c := range []metav1.Condition{accepted, programmed} {
		if old := meta.FindStatusCondition(gw.Status.Conditions, c.Type); old != nil && old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message && old.ObservedGeneration == c.ObservedGeneration {
			continue
		}
		meta.SetStatusCondition(&gw.Status.Conditions, c)
	}
	if listeners != nil {
		for i := range listeners {
			for _, old := range before.Status.Listeners {
				if old.Name == listeners[i].Name {
					keepTimes(old.Conditions, listeners[i].Conditions)
				}
			}
		}
		gw.Status.Listeners = listeners
	}
	if equality.Semantic.DeepEqual(before.Status, gw.Status) {
		return nil
	}
	if err := r.Client.Status().Patch(ctx, gw, lockedPatch(before)); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// keepTimes carries over the transition times of conditions that did not change.
func keepTimes(old, cur []metav1.Condition) {
	for i := range cur {
		if o := meta.FindStatusCondition(old, cur[i].Type); o != nil && o.Status == cur[i].Status {
			cur[i].LastTransitionTime = o.LastTransitionTime
		}
	}
}

// gatewayPlan is what a Gateway serves: its programmable listeners, the
// routes attached to them, their backends, and the status each route and
// listener gets.
type gatewayPlan struct {
	gw        *gatewayv1.Gateway
	listeners []model.GatewayListener
	routes    []model.GatewayHTTPRoute
	backends  map[string]model.Member
	// attached counts routes per listener index.
	attached map[int]int32
	// badCerts are the certificate problems of listeners left out, by index.
	badCerts map[int][]string
	// l4 are the TCP and UDP listeners with their backends.
	l4 []model.GatewayL4Listener
	// parents are the route status entries to write, per route.
	parents []routeParent
}

// routeObj is a route of any kind and its status.
type routeObj struct {
	obj    client.Object
	status *gatewayv1.RouteStatus
}

// routeParent is one route's status entry for this Gateway.
type routeParent struct {
	route routeObj
	ref   gatewayv1.ParentReference
	conds []metav1.Condition
}

// plan attaches the HTTPRoutes naming the Gateway and resolves their backends.
func (r *GatewayReconciler) plan(ctx context.Context, gw *gatewayv1.Gateway, badCerts map[int][]string) (*gatewayPlan, error) {
	p := &gatewayPlan{gw: gw, backends: map[string]model.Member{}, attached: map[int]int32{}, badCerts: badCerts}
	for i, l := range gw.Spec.Listeners {
		if !rules.GatewayProtocolSupported(l.Protocol) || len(badCerts[i]) > 0 ||
			(l.Protocol != gatewayv1.HTTPProtocolType && l.Protocol != gatewayv1.HTTPSProtocolType) {
			continue
		}
		ml := model.GatewayListener{Name: string(l.Name), Port: int32(l.Port), Protocol: string(l.Protocol)}
		if l.Hostname != nil {
			ml.Hostname = string(*l.Hostname)
		}
		if l.Protocol == gatewayv1.HTTPSProtocolType && l.TLS != nil {
			for _, ref := range l.TLS.CertificateRefs {
				ns := gw.Namespace
				if ref.Namespace != nil {
					ns = string(*ref.Namespace)
				}
				var sec corev1.Secret
				if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: string(ref.Name)}, &sec); err != nil {
					if apierrors.IsNotFound(err) {
						// Deleted since the check: judged again when the Secret event comes.
						p.badCerts[i] = append(p.badCerts[i], fmt.Sprintf("Secret %s/%s does not exist", ns, ref.Name))
						continue
					}
					return nil, err
				}
				ml.Certs = append(ml.Certs, &model.Cert{Certificate: sec.Data[corev1.TLSCertKey], Key: sec.Data[corev1.TLSPrivateKeyKey]})
			}
			if len(p.badCerts[i]) > 0 {
				continue
			}
		}
		p.listeners = append(p.listeners, ml)
	}
	var list gatewayv1.HTTPRouteList
	if err := r.Client.List(ctx, &list, client.MatchingFields{cluster.IndexHTTPRouteParent: gw.Namespace + "/" + gw.Name}); err != nil {
		return nil, err
	}
	routes := list.Items
	slices.SortFunc(routes, func(a, b gatewayv1.HTTPRoute) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	for i := range routes {
		rt := &routes[i]
		if rt.DeletionTimestamp != nil {
			continue
		}
		ns, err := cluster.Namespace(ctx, r.Client, rt.Namespace)
		if err != nil {
			return nil, err
		}
		resolved, err := r.resolveBackends(ctx, rt, p)
		if err != nil {
			return nil, err
		}
		resolved.ObservedGeneration = rt.Generation
		mrules, unsupported := r.routeRules(rt, p)
		var atts []model.GatewayAttachment
		for _, ref := range rt.Spec.ParentRefs {
			if !rules.RefersTo(ref, rt.Namespace, gw) {
				continue
			}
			las, reason, msg := rules.AttachRoute("HTTPRoute", ns, rt.Namespace, rt.Spec.Hostnames, ref, gw)
			accepted := metav1.Condition{Type: string(gatewayv1.RouteConditionAccepted), Status: metav1.ConditionTrue, Reason: string(gatewayv1.RouteReasonAccepted),
				Message: "attached to Gateway " + gw.Namespace + "/" + gw.Name, ObservedGeneration: rt.Generation}
			if reason == "" && len(unsupported) > 0 {
				// Serving part of a rule would route what the user did not ask for.
				las, reason, msg = nil, string(gatewayv1.RouteReasonUnsupportedValue), strings.Join(unsupported, "; ")
			}
			if reason != "" {
				accepted.Status, accepted.Reason, accepted.Message = metav1.ConditionFalse, reason, msg
			}
			for _, la := range las {
				l := gw.Spec.Listeners[la.Listener]
				if !rules.GatewayProtocolSupported(l.Protocol) {
					continue
				}
				p.attached[la.Listener]++
				atts = append(atts, model.GatewayAttachment{Listener: string(l.Name), Ports: []int32{int32(l.Port)}, Hosts: la.Hosts})
			}
			p.parents = append(p.parents, routeParent{route: routeObj{rt, &rt.Status.RouteStatus}, ref: ref, conds: []metav1.Condition{accepted, resolved}})
		}
		if len(atts) == 0 {
			continue
		}
		mr := model.GatewayHTTPRoute{Namespace: rt.Namespace, Name: rt.Name, Attachments: atts, Rules: mrules}
		p.routes = append(p.routes, mr)
	}
	if err := r.planL4(ctx, gw, p); err != nil {
		return nil, err
	}
	return p, nil
}

// routeRules converts an HTTPRoute's rules for the model (backends
// resolved in p only) and lists what vipgate cannot express yet.
func (r *GatewayReconciler) routeRules(rt *gatewayv1.HTTPRoute, p *gatewayPlan) ([]model.GatewayRouteRule, []string) {
	var out []model.GatewayRouteRule
	var unsupported []string
	for ri, rule := range rt.Spec.Rules {
		parsed, u := rules.ParseHTTPRouteRule(rule, fmt.Sprintf("spec.rules[%d]", ri))
		unsupported = append(unsupported, u...)
		mrule := model.GatewayRouteRule{Redirect: parsed.Filters.Redirect, RequestHeaders: parsed.Filters.RequestHeaders,
			ResponseHeaders: parsed.Filters.ResponseHeaders, Rewrite: parsed.Filters.Rewrite}
		for _, m := range parsed.Matches {
			mm := model.GatewayHTTPMatch{Path: m.Path, PathMatch: model.MatchBeginsWith, Method: m.Method}
			if m.PathExact {
				mm.PathMatch = model.MatchEquals
			}
			for _, h := range m.Headers {
				mm.Headers = append(mm.Headers, model.GatewayHeader{Name: h.Name, Value: h.Value})
			}
			mrule.Matches = append(mrule.Matches, mm)
		}
		for _, b := range rule.BackendRefs {
			ns, name, ok := serviceBackend(rt.Namespace, b.BackendObjectReference)
			if !ok || b.Port == nil {
				continue
			}
			if _, found := p.backends[ns+"/"+name]; !found {
				continue
			}
			w := int32(1)
			if b.Weight != nil {
				w = *b.Weight
			}
			mrule.Backends = append(mrule.Backends, model.GatewayBackend{Namespace: ns, Name: name, Port: int32(*b.Port), Weight: w})
		}
		out = append(out, mrule)
	}
	return out, unsupported
}

// serviceBackend returns the namespace and name of a Service backendRef.
func serviceBackend(routeNS string, b gatewayv1.BackendObjectReference) (ns, name string, ok bool) {
	if (b.Group != nil && *b.Group != "") || (b.Kind != nil && *b.Kind != "Service") {
		return "", "", false
	}
	ns = routeNS
	if b.Namespace != nil {
		ns = string(*b.Namespace)
	}
	return ns, string(b.Name), true
}

// resolveBackends reads the route's backend Services (and their
// EndpointSlices) into p.backends and returns the ResolvedRefs condition:
// BackendNotFound for a missing Service, InvalidKind for a backend that is
// not a Service, RefNotPermitted for another namespace's Service.
func (r *GatewayReconciler) resolveBackends(ctx context.Context, rt *gatewayv1.HTTPRoute, p *gatewayPlan) (metav1.Condition, error) {
	ok := metav1.Condition{Type: string(gatewayv1.RouteConditionResolvedRefs), Status: metav1.ConditionTrue, Reason: string(gatewayv1.RouteReasonResolvedRefs), Message: "every backend is resolved"}
	var problems []string
	reason := ""
	fail := func(why gatewayv1.RouteConditionReason, msg string) {
		if reason == "" {
			reason = string(why)
		}
		problems = append(problems, msg)
	}
	for ri, rule := range rt.Spec.Rules {
		for bi, b := range rule.BackendRefs {
			where := fmt.Sprintf("spec.rules[%d].backendRefs[%d]", ri, bi)
			ns, name, isSvc := serviceBackend(rt.Namespace, b.BackendObjectReference)
			if !isSvc {
				fail(gatewayv1.RouteReasonInvalidKind, fmt.Sprintf("%s: only Service backends are supported", where))
				continue
			}
			if ns != rt.Namespace {
				grants, err := r.Gateways.ReferenceGrants(ctx, ns)
				if err != nil {
					return ok, err
				}
				if !rules.ReferencePermitted(grants, gatewayv1.GroupName, "HTTPRoute", rt.Namespace, "", "Service", name) {
					fail(gatewayv1.RouteReasonRefNotPermitted, fmt.Sprintf("%s: Service %s/%s is in another namespace and no ReferenceGrant there lets HTTPRoutes of namespace %s use it", where, ns, name, rt.Namespace))
					continue
				}
			}
			key := ns + "/" + name
			if _, done := p.backends[key]; done {
				continue
			}
			var svc corev1.Service
			if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
				if apierrors.IsNotFound(err) {
					fail(gatewayv1.RouteReasonBackendNotFound, fmt.Sprintf("%s: Service %s not found", where, key))
					continue
				}
				return ok, err
			}
			var slices discoveryv1.EndpointSliceList
			if err := r.Client.List(ctx, &slices, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: name}); err != nil {
				return ok, err
			}
			p.backends[key] = model.Member{Service: &svc, Slices: slices.Items}
		}
	}
	if reason == "" {
		return ok, nil
	}
	return metav1.Condition{Type: ok.Type, Status: metav1.ConditionFalse, Reason: reason, Message: strings.Join(problems, "; ")}, nil
}

// listenerStatus is each listener's status: supported kinds, attached
// routes, and Accepted/Programmed/ResolvedRefs/Conflicted.
func (p *gatewayPlan) listenerStatus(gen int64, programmed bool) []gatewayv1.ListenerStatus {
	var out []gatewayv1.ListenerStatus
	for i, l := range p.gw.Spec.Listeners {
		ls := gatewayv1.ListenerStatus{Name: l.Name, AttachedRoutes: p.attached[i], SupportedKinds: []gatewayv1.RouteGroupKind{}}
		for _, k := range rules.RouteKindsFor(l.Protocol) {
			ls.SupportedKinds = append(ls.SupportedKinds, gatewayv1.RouteGroupKind{Group: kptr.To(gatewayv1.Group(gatewayv1.GroupName)), Kind: gatewayv1.Kind(k)})
		}
		if !rules.GatewayProtocolSupported(l.Protocol) {
			msg := fmt.Sprintf("protocol %s is not programmed by vipgate yet", l.Protocol)
			ls.Conditions = []metav1.Condition{
				gatewayCond(gen, "Accepted", false, string(gatewayv1.ListenerReasonUnsupportedProtocol), msg),
				gatewayCond(gen, "Programmed", false, string(gatewayv1.ListenerReasonInvalid), msg),
				gatewayCond(gen, "ResolvedRefs", true, string(gatewayv1.ListenerReasonResolvedRefs), "no references"),
				gatewayCond(gen, "Conflicted", false, string(gatewayv1.ListenerReasonNoConflicts), "no conflicts"),
			}
		} else if bad := p.badCerts[i]; len(bad) > 0 {
			msg := strings.Join(bad, "; ")
			ls.Conditions = []metav1.Condition{
				gatewayCond(gen, "Accepted", true, string(gatewayv1.ListenerReasonAccepted), "accepted"),
				gatewayCond(gen, "Programmed", false, string(gatewayv1.ListenerReasonInvalid), "not programmed: its certificates cannot be used"),
				gatewayCond(gen, "ResolvedRefs", false, string(gatewayv1.ListenerReasonInvalidCertificateRef), msg),
				gatewayCond(gen, "Conflicted", false, string(gatewayv1.ListenerReasonNoConflicts), "no conflicts"),
			}
		} else {
			prog := gatewayCond(gen, "Programmed", true, string(gatewayv1.ListenerReasonProgrammed), fmt.Sprintf("port %d of the virtual service", l.Port))
			for _, l4 := range p.l4 {
				if l4.Name == string(l.Name) && l4.Backend == nil {
					prog = gatewayCond(gen, "Programmed", false, string(gatewayv1.ListenerReasonPending), fmt.Sprintf("no %s with a usable backend is attached; the port opens once one is", rules.RouteKindsFor(l.Protocol)[0]))
				}
			}
			if !programmed {
				prog = gatewayCond(gen, "Programmed", false, string(gatewayv1.ListenerReasonPending), "the virtual service is not programmed yet")
			}
			ls.Conditions = []metav1.Condition{
				gatewayCond(gen, "Accepted", true, string(gatewayv1.ListenerReasonAccepted), "accepted"),
				prog,
				gatewayCond(gen, "ResolvedRefs", true, string(gatewayv1.ListenerReasonResolvedRefs), "references resolved"),
				gatewayCond(gen, "Conflicted", false, string(gatewayv1.ListenerReasonNoConflicts), "no conflicts"),
			}
		}
		now := metav1.Now()
		for j := range ls.Conditions {
			ls.Conditions[j].LastTransitionTime = now
		}
		out = append(out, ls)
	}
	return out
}

// writeRouteStatus writes each attached route's parent entry for this
// Gateway, and removes entries of vipgate for this Gateway from routes that
// no longer name it.
func (r *GatewayReconciler) writeRouteStatus(ctx context.Context, gw *gatewayv1.Gateway, p *gatewayPlan) error {
	key := func(o routeObj) string {
		return o.obj.GetObjectKind().GroupVersionKind().Kind + fmt.Sprintf("%T", o.obj) + "/" + o.obj.GetNamespace() + "/" + o.obj.GetName()
	}
	byRoute := map[string][]routeParent{}
	var order []routeObj
	for _, rp := range p.parents {
		k := key(rp.route)
		if _, seen := byRoute[k]; !seen {
			order = append(order, rp.route)
		}
		byRoute[k] = append(byRoute[k], rp)
	}
	// HTTPRoutes listing this Gateway only in status (a parentRef was removed).
	var list gatewayv1.HTTPRouteList
	if err := r.Client.List(ctx, &list, client.MatchingFields{cluster.IndexHTTPRouteParent: gw.Namespace + "/" + gw.Name}); err != nil {
		return err
	}
	for i := range list.Items {
		rt := &list.Items[i]
		o := routeObj{rt, &rt.Status.RouteStatus}
		if _, seen := byRoute[key(o)]; !seen {
			byRoute[key(o)] = nil
			order = append(order, o)
		}
	}
	for _, rt := range order {
		beforeObj := rt.obj.DeepCopyObject().(client.Object)
		before := rt.status.DeepCopy()
		var kept []gatewayv1.RouteParentStatus
		for _, ps := range rt.status.Parents {
			if string(ps.ControllerName) == ownership.GatewayController && rules.RefersTo(ps.ParentRef, rt.obj.GetNamespace(), gw) {
				continue
			}
			kept = append(kept, ps)
		}
		for _, rp := range byRoute[key(rt)] {
			entry := gatewayv1.RouteParentStatus{ParentRef: rp.ref, ControllerName: gatewayv1.GatewayController(ownership.GatewayController), Conditions: rp.conds}
			for _, old := range before.Parents {
				if string(old.ControllerName) == ownership.GatewayController && equality.Semantic.DeepEqual(old.ParentRef, rp.ref) {
					for j := range entry.Conditions {
						if o := meta.FindStatusCondition(old.Conditions, entry.Conditions[j].Type); o != nil && o.Status == entry.Conditions[j].Status {
							entry.Conditions[j].LastTransitionTime = o.LastTransitionTime
						}
					}
				}
			}
			for j := range entry.Conditions {
				if entry.Conditions[j].LastTransitionTime.IsZero() {
					entry.Conditions[j].LastTransitionTime = metav1.Now()
				}
			}
			kept = append(kept, entry)
		}
		rt.status.Parents = kept
		if equality.Semantic.DeepEqual(*before, *rt.status) {
			continue
		}
		if err := r.Client.Status().Patch(ctx, rt.obj, lockedPatch(beforeObj)); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// ExpectedOwners returns the owner identities of the Gateways whose objects
// should exist: those of vipgate's classes in selected namespaces, not being
// deleted (start-up orphan collection keeps their objects).
func (r *GatewayReconciler) ExpectedOwners(ctx context.Context) (map[string]bool, error) {
	var list gatewayv1.GatewayList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for i := range list.Items {
		gw := &list.Items[i]
		gc, err := r.Gateways.GatewayClass(ctx, string(gw.Spec.GatewayClassName))
		if err != nil {
			return nil, err
		}
		if gw.DeletionTimestamp != nil || !ownership.OwnsGatewayClass(gc) {
			continue
		}
		sel, err := cluster.NamespaceSelected(ctx, r.Client, gw.Namespace, r.Settings)
		if err != nil {
			return nil, err
		}
		if sel {
			out[ownership.GatewayOwner(gw.Namespace, gw.Name)] = true
		}
	}
	return out, nil
}
