package reconcile

import (
	"context"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/rules"
)

// Rule CRD kinds RuleStatusReconciler judges.
const (
	KindHostRule = "HostRule"
	KindHTTPRule = "HTTPRule"
	KindL4Rule   = "L4Rule"
)

// Reasons of the Accepted condition and Events of rule CRDs.
const (
	ReasonRuleValid    = "Valid"
	ReasonRuleRejected = "Rejected"
)

// RuleStatusReconciler judges one kind of rule CRD with the rule book, as
// admission does, and writes AKO's status (Accepted or Rejected with the
// error), the Accepted condition and observedGeneration. It judges each
// rule again every Recheck, since the controller can change under it (a
// WAF policy deleted or renamed): a rule that turns Rejected gets a Warning
// Event with the reason, and the reconcilers that build from it hold what
// it set (model.Set.Held) until it is fixed. Rules in namespaces that
// namespace selection leaves out are not vipgate's and are left alone.
type RuleStatusReconciler struct {
	Client    client.Client
	Recorder  record.EventRecorder
	Settings  *config.Settings
	Inventory inventory.Source
	Lookups   rules.Lookups
	// Kind is KindHostRule, KindHTTPRule or KindL4Rule.
	Kind string
	// Recheck is how often a rule is judged again (default five minutes).
	Recheck time.Duration
}

// ruleObject is a rule of any kind with its status and its judge.
type ruleObject struct {
	obj    client.Object
	status *v1beta1.RuleStatus
	judge  func(rules.Env) rules.Result
}

func (r *RuleStatusReconciler) newObject() ruleObject {
	switch r.Kind {
	case KindHostRule:
		o := &v1beta1.HostRule{}
		return ruleObject{o, &o.Status, func(env rules.Env) rules.Result { return rules.ValidateHostRule(o, nil, env) }}
	case KindHTTPRule:
		o := &v1beta1.HTTPRule{}
		return ruleObject{o, &o.Status, func(env rules.Env) rules.Result { return rules.ValidateHTTPRule(o, nil, env) }}
	}
	o := &v1alpha2.L4Rule{}
	return ruleObject{o, &o.Status, func(env rules.Env) rules.Result { return rules.ValidateL4Rule(o, nil, env) }}
}

// Reconcile judges one rule and writes its status when it changed.
func (r *RuleStatusReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ro := r.newObject()
	if err := r.Client.Get(ctx, req.NamespacedName, ro.obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if ro.obj.GetDeletionTimestamp() != nil {
		return ctrl.Result{}, nil
	}
	selected, err := cluster.NamespaceSelected(ctx, r.Client, req.Namespace, r.Settings)
	if err != nil || !selected {
		return ctrl.Result{}, err
	}
	env := rules.NewEnv(ctx, r.Settings, r.Inventory, r.Lookups, 0, time.Now())
	if env.Inventory == nil {
		return ctrl.Result{RequeueAfter: inventoryWait}, nil
	}
	recheck := r.Recheck
	if recheck == 0 {
		recheck = 5 * time.Minute
	}
	res := ro.judge(env)
	before := ro.obj.DeepCopyObject().(client.Object)
	wasRejected, oldErr := ro.status.Status == v1beta1.StatusRejected, ro.status.Error
	gen := ro.obj.GetGeneration()
	cond := metav1.Condition{Type: ConditionAccepted, ObservedGeneration: gen}
	if res.Allowed() {
		ro.status.Status, ro.status.Error = v1beta1.StatusAccepted, ""
		cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, ReasonRuleValid, "every controller object it names exists and fits; applied to the virtual services it matches"
	} else {
		msg := res.Err().Error()
		ro.status.Status, ro.status.Error = v1beta1.StatusRejected, msg
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, ReasonRuleRejected, msg
	}
	meta.SetStatusCondition(&ro.status.Conditions, cond)
	ro.status.ObservedGeneration = gen
	if equality.Semantic.DeepEqual(statusOf(before), *ro.status) {
		return ctrl.Result{RequeueAfter: recheck}, nil
	}
	if err := r.Client.Status().Patch(ctx, ro.obj, client.MergeFrom(before)); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	log := logr.FromContextOrDiscard(ctx)
	switch {
	case ro.status.Status == v1beta1.StatusRejected && (!wasRejected || oldErr != ro.status.Error):
		log.Info("rule rejected; the virtual services it matches keep what it set until it is fixed", "kind", r.Kind, "error", ro.status.Error)
		r.Recorder.Event(ro.obj, corev1.EventTypeWarning, ReasonRuleRejected, ro.status.Error+"; the virtual services it matches keep what it set until it is fixed")
	case ro.status.Status == v1beta1.StatusAccepted && wasRejected:
		log.Info("rule accepted", "kind", r.Kind)
		r.Recorder.Event(ro.obj, corev1.EventTypeNormal, ReasonRuleValid, "accepted: "+cond.Message)
	}
	return ctrl.Result{RequeueAfter: recheck}, nil
}

// statusOf returns the rule status of a HostRule, HTTPRule or L4Rule.
func statusOf(o client.Object) v1beta1.RuleStatus {
	switch x := o.(type) {
	case *v1beta1.HostRule:
		return x.Status
	case *v1beta1.HTTPRule:
		return x.Status
	case *v1alpha2.L4Rule:
		return x.Status
	}
	return v1beta1.RuleStatus{}
}

// ruleJudged reports whether the status reconciler has judged a rule at its
// current generation, and whether it accepted it.
func ruleJudged(o client.Object) (judged, accepted bool) {
	st := statusOf(o)
	judged = st.Status != "" && st.ObservedGeneration == o.GetGeneration()
	return judged, judged && st.Status == v1beta1.StatusAccepted
}

// SetupWithManager watches the rules of its kind (spec changes) and what
// their verdict depends on besides the controller: the other rules holding
// the same hosts (a duplicate is accepted once the holder goes) and, for
// L4Rules, the Services naming them (ports, requested VIPs).
func (r *RuleStatusReconciler) SetupWithManager(mgr ctrl.Manager) error {
	gen := builder.WithPredicates(predicate.GenerationChangedPredicate{})
	b := ctrl.NewControllerManagedBy(mgr).Named("rulestatus-" + r.Kind)
	switch r.Kind {
	case KindHostRule:
		b = b.For(&v1beta1.HostRule{}, gen).
			Watches(&v1beta1.HostRule{}, handler.EnqueueRequestsFromMapFunc(r.hostRuleSiblings), gen)
	case KindHTTPRule:
		b = b.For(&v1beta1.HTTPRule{}, gen).
			Watches(&v1beta1.HTTPRule{}, handler.EnqueueRequestsFromMapFunc(r.httpRuleSiblings), gen)
	default:
		b = b.For(&v1alpha2.L4Rule{}, gen).
			Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
				key := rules.L4RuleKey(o.(*corev1.Service))
				if key == "" {
					return nil
				}
				ns, name, _ := strings.Cut(key, "/")
				return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}}
			}))
	}
	return b.Complete(r)
}

// hostRuleSiblings maps a HostRule to the others holding one of its hosts.
func (r *RuleStatusReconciler) hostRuleSiblings(ctx context.Context, o client.Object) []ctrl.Request {
	var out []ctrl.Request
	for _, h := range cluster.HostRuleHosts(o.(*v1beta1.HostRule)) {
		if h == cluster.RulePatternKey {
			continue
		}
		var list v1beta1.HostRuleList
		if err := r.Client.List(ctx, &list, client.MatchingFields{cluster.IndexRuleHost: h}); err != nil {
			continue
		}
		for _, x := range list.Items {
			if x.Namespace != o.GetNamespace() || x.Name != o.GetName() {
				out = append(out, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: x.Namespace, Name: x.Name}})
			}
		}
	}
	return out
}

// httpRuleSiblings maps an HTTPRule to the others of its host.
func (r *RuleStatusReconciler) httpRuleSiblings(ctx context.Context, o client.Object) []ctrl.Request {
	var list v1beta1.HTTPRuleList
	if err := r.Client.List(ctx, &list, client.MatchingFields{cluster.IndexRuleHost: o.(*v1beta1.HTTPRule).Spec.Fqdn}); err != nil {
		return nil
	}
	var out []ctrl.Request
	for _, x := range list.Items {
		if x.Namespace != o.GetNamespace() || x.Name != o.GetName() {
			out = append(out, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: x.Namespace, Name: x.Name}})
		}
	}
	return out
}
