package reconcile

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// GatewayClassReconciler accepts the GatewayClasses whose controllerName is
// vipgate's (ownership.GatewayController) and whose parametersRef, if any,
// names a usable AviInfraSetting; other classes are never touched.
type GatewayClassReconciler struct {
	Client   client.Client
	Settings *config.Settings
	Lookups  rules.Lookups
}

// Reconcile writes the class's Accepted condition.
func (r *GatewayClassReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var gc gatewayv1.GatewayClass
	if err := r.Client.Get(ctx, req.NamespacedName, &gc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ownership.OwnsGatewayClass(&gc) {
		return ctrl.Result{}, nil
	}
	env := rules.NewEnv(ctx, r.Settings, nil, r.Lookups, 0, time.Now())
	_, problem, err := rules.ClassParameters(&gc, env)
	if err != nil {
		return ctrl.Result{}, err
	}
	before := gc.DeepCopy()
	cond := metav1.Condition{Type: string(gatewayv1.GatewayClassConditionStatusAccepted), ObservedGeneration: gc.Generation,
		Status: metav1.ConditionTrue, Reason: string(gatewayv1.GatewayClassReasonAccepted), Message: "handled by vipgate"}
	if problem != "" {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, string(gatewayv1.GatewayClassReasonInvalidParameters), problem
	}
	meta.SetStatusCondition(&gc.Status.Conditions, cond)
	if equality.Semantic.DeepEqual(before.Status, gc.Status) {
		return ctrl.Result{}, nil
	}
	if err := r.Client.Status().Patch(ctx, &gc, lockedPatch(before)); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	logr.FromContextOrDiscard(ctx).Info("evaluated", "accepted", cond.Status, "message", cond.Message)
	return ctrl.Result{}, nil
}

// SetupWithManager watches GatewayClasses and the AviInfraSettings they name.
func (r *GatewayClassReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("gatewayclass").
		For(&gatewayv1.GatewayClass{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1beta1.AviInfraSetting{}, handler.EnqueueRequestsFromMapFunc(r.classesOf)).
		Complete(r)
}

// classesOf lists vipgate's GatewayClasses whose parametersRef names the AviInfraSetting.
func (r *GatewayClassReconciler) classesOf(ctx context.Context, o client.Object) []ctrl.Request {
	var list gatewayv1.GatewayClassList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	var out []ctrl.Request
	for i := range list.Items {
		gc := &list.Items[i]
		if ref := gc.Spec.ParametersRef; ownership.OwnsGatewayClass(gc) && ref != nil && ref.Name == o.GetName() {
			out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(gc)})
		}
	}
	return out
}
