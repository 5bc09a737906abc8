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
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/rules"
)

// ConditionAccepted is the standard condition mirroring AKO's status.status.
const ConditionAccepted = "Accepted"

// ConditionSupported says whether vipgate acts on every field the setting
// sets: False with reason ReasonFieldsIgnored names the AKO fields it
// accepted but ignores (rules.IgnoredInfraSettingFields). It never makes
// the setting Rejected.
const (
	ConditionSupported       = "Supported"
	ReasonFieldsIgnored      = "FieldsIgnored"
	ReasonAllFieldsSupported = "AllFieldsSupported"
)

// InfraSettingReconciler writes AviInfraSetting status (Accepted/Rejected with
// the rule book's reason). Services using a setting are requeued by the Service
// controller's watch when it changes.
type InfraSettingReconciler struct {
	Client    client.Client
	Settings  *config.Settings
	Inventory inventory.Source
	Lookups   rules.Lookups
	// Recheck is how often a setting is re-evaluated against the controller,
	// which can change under it (a network removed, a range exhausted).
	Recheck time.Duration
}

// Reconcile evaluates the setting with the same rules admission used.
func (r *InfraSettingReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var ais v1beta1.AviInfraSetting
	if err := r.Client.Get(ctx, req.NamespacedName, &ais); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	env := rules.NewEnv(ctx, r.Settings, r.Inventory, r.Lookups, 0, time.Now())
	recheck := r.Recheck
	if recheck == 0 {
		recheck = 5 * time.Minute
	}
	if env.Inventory == nil {
		// Nothing to judge against yet; decide once the inventory is loaded.
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	res := rules.ValidateAviInfraSetting(&ais, env)
	before := ais.DeepCopy()
	patch := client.MergeFrom(before)
	cond := metav1.Condition{Type: ConditionAccepted, ObservedGeneration: ais.Generation}
	if res.Allowed() {
		ais.Status.Status, ais.Status.Error = v1beta1.StatusAccepted, ""
		cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, "Valid", "networks and SE group are usable"
	} else {
		msg := res.Err().Error()
		ais.Status.Status, ais.Status.Error = v1beta1.StatusRejected, msg
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, "Invalid", msg
	}
	meta.SetStatusCondition(&ais.Status.Conditions, cond)
	meta.SetStatusCondition(&ais.Status.Conditions, supportedCondition(&ais))
	ais.Status.ObservedGeneration = ais.Generation
	if equality.Semantic.DeepEqual(before.Status, ais.Status) {
		return ctrl.Result{RequeueAfter: recheck}, nil
	}
	if err := r.Client.Status().Patch(ctx, &ais, patch); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	logr.FromContextOrDiscard(ctx).Info("evaluated", "status", ais.Status.Status, "error", ais.Status.Error)
	return ctrl.Result{RequeueAfter: recheck}, nil
}

// SetupWithManager watches AviInfraSettings' spec changes.
func (r *InfraSettingReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("aviinfrasetting").
		For(&v1beta1.AviInfraSetting{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(r)
}

// supportedCondition reports the fields of the setting vipgate ignores.
func supportedCondition(ais *v1beta1.AviInfraSetting) metav1.Condition {
	c := metav1.Condition{Type: ConditionSupported, ObservedGeneration: ais.Generation,
		Status: metav1.ConditionTrue, Reason: ReasonAllFieldsSupported, Message: "vipgate acts on every field set"}
	if ignored := rules.IgnoredInfraSettingFields(ais); len(ignored) > 0 {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, ReasonFieldsIgnored, rules.IgnoredFieldsMessage(ignored)
	}
	return c
}
