package webhooks

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/metrics"
	"github.com/vipgate/vipgate/rules"
)

// CleanupFinalizer is added at admission so the reconciler need not spend a
// write on it; it holds the Service until its controller objects are removed.
const CleanupFinalizer = "vipgate.ako.vmware.com/cleanup"

// InventorySource hands out the latest controller inventory snapshot.
type InventorySource interface {
	Snapshot() *inventory.Snapshot
}

// Options configure the admission handlers.
type Options struct {
	Settings *config.Settings
	// Inventory may be nil; controller-dependent checks then warn and admit.
	Inventory InventorySource
	// StaleAfter bounds the inventory's age before its checks fail open.
	StaleAfter time.Duration
	// LBClass written on Services vipgate takes by default; LBClass when empty.
	DefaultClass string
	// Lookups answer cache questions; NewCacheLookups over the manager when nil.
	Lookups rules.Lookups
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// envFor assembles the rule book's inputs for one request.
func (o *Options) envFor() rules.Env {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	t := now()
	env := rules.Env{Settings: o.Settings, Lookups: o.Lookups, Now: t}
	if o.Inventory != nil {
		env.Inventory = o.Inventory.Snapshot()
	}
	env.InventoryStale = env.Inventory == nil || (o.StaleAfter > 0 && env.Inventory.Age(t) > o.StaleAfter)
	return env
}

// Setup registers indexes and the four admission handlers on the manager's webhook server.
func Setup(ctx context.Context, mgr ctrl.Manager, o Options) error {
	if err := SetupIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return err
	}
	if o.Lookups == nil {
		o.Lookups = NewCacheLookups(ctx, mgr)
	}
	if o.DefaultClass == "" {
		o.DefaultClass = LBClass
	}
	s := mgr.GetScheme()
	srv := mgr.GetWebhookServer()
	opts := &o
	register := func(path string, wh *admission.Webhook) {
		wh.LogConstructor = func(base logr.Logger, req *admission.Request) logr.Logger {
			l := base.WithValues("webhook", path)
			if req != nil {
				l = l.WithValues("kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "operation", req.Operation, "dryRun", req.DryRun != nil && *req.DryRun)
			}
			return l
		}
		srv.Register(path, Strict(wh))
	}
	register(PathMutateService, admission.WithDefaulter[*corev1.Service](s, &serviceDefaulter{opts}))
	register(PathValidateService, admission.WithValidator[*corev1.Service](s, &serviceValidator{opts}))
	register(PathValidateIngress, admission.WithValidator[*networkingv1.Ingress](s, &ingressValidator{opts}))
	register(PathValidateAviInfraSetting, admission.WithValidator[*v1beta1.AviInfraSetting](s, &infraValidator{opts}))
	return nil
}

// verdict turns a rule-book result into the admission answer and logs one line per decision.
func verdict(ctx context.Context, gk schema.GroupKind, name string, res rules.Result) (admission.Warnings, error) {
	log := logr.FromContextOrDiscard(ctx)
	if len(res.Errors) > 0 {
		metrics.Admission(gk.Kind, metrics.VerdictDenied)
		log.Info("denied", "reasons", res.Errors.ToAggregate().Error())
		return res.Warnings, apierrors.NewInvalid(gk, name, res.Errors)
	}
	if len(res.Warnings) > 0 {
		metrics.Admission(gk.Kind, metrics.VerdictWarned)
		log.Info("admitted with warnings", "warnings", res.Warnings)
		return res.Warnings, nil
	}
	metrics.Admission(gk.Kind, metrics.VerdictAllowed)
	log.V(1).Info("admitted")
	return res.Warnings, nil
}

type serviceDefaulter struct{ o *Options }

// Default claims a class-less Service for vipgate, adds the cleanup finalizer and
// writes a requested IP in canonical form, so the validator and reconciler see one spelling.
func (d *serviceDefaulter) Default(ctx context.Context, svc *corev1.Service) error {
	if !rules.OwnsService(svc, d.o.Settings) || !d.o.namespaceSelected(svc.Namespace) {
		return nil
	}
	if svc.Spec.LoadBalancerClass == nil {
		class := d.o.DefaultClass
		svc.Spec.LoadBalancerClass = &class
	}
	// With deleteConfig vipgate is tearing down: a finalizer nobody will
	// remove would leave the Service stuck in deletion.
	if !d.o.Settings.AKOSettings.DeleteConfig {
		controllerutil.AddFinalizer(svc, CleanupFinalizer)
	}
	// An unparsable address is left as written for the validator to reject with its message.
	if c, ok := rules.CanonicalIP(svc.Spec.LoadBalancerIP); ok { //nolint:staticcheck // AKO's surface still uses the deprecated field.
		svc.Spec.LoadBalancerIP = c //nolint:staticcheck
	}
	if c, ok := rules.CanonicalIP(svc.Annotations[rules.AnnLoadBalancerIP]); ok {
		svc.Annotations[rules.AnnLoadBalancerIP] = c
	}
	return nil
}

var serviceGK = schema.GroupKind{Kind: "Service"}
var ingressGK = schema.GroupKind{Group: networkingv1.GroupName, Kind: "Ingress"}
var infraGK = schema.GroupKind{Group: v1beta1.GroupVersion.Group, Kind: "AviInfraSetting"}

type serviceValidator struct{ o *Options }

func (v *serviceValidator) ValidateCreate(ctx context.Context, svc *corev1.Service) (admission.Warnings, error) {
	if !rules.OwnsService(svc, v.o.Settings) || !v.o.namespaceSelected(svc.Namespace) {
		return nil, nil
	}
	return verdict(ctx, serviceGK, svc.Name, rules.ValidateService(svc, nil, v.o.envFor()))
}

func (v *serviceValidator) ValidateUpdate(ctx context.Context, old, svc *corev1.Service) (admission.Warnings, error) {
	if !rules.OwnsService(svc, v.o.Settings) || !v.o.namespaceSelected(svc.Namespace) {
		return nil, nil
	}
	// A Service being deleted only loses finalizers; never block that.
	if svc.DeletionTimestamp != nil {
		return nil, nil
	}
	return verdict(ctx, serviceGK, svc.Name, rules.ValidateService(svc, old, v.o.envFor()))
}

func (v *serviceValidator) ValidateDelete(context.Context, *corev1.Service) (admission.Warnings, error) {
	return nil, nil
}

type ingressValidator struct{ o *Options }

func (v *ingressValidator) ValidateCreate(ctx context.Context, ing *networkingv1.Ingress) (admission.Warnings, error) {
	return verdict(ctx, ingressGK, ing.Name, rules.ValidateIngress(ing, nil, v.o.envFor()))
}

func (v *ingressValidator) ValidateUpdate(ctx context.Context, old, ing *networkingv1.Ingress) (admission.Warnings, error) {
	if ing.DeletionTimestamp != nil {
		return nil, nil
	}
	return verdict(ctx, ingressGK, ing.Name, rules.ValidateIngress(ing, old, v.o.envFor()))
}

func (v *ingressValidator) ValidateDelete(context.Context, *networkingv1.Ingress) (admission.Warnings, error) {
	return nil, nil
}

type infraValidator struct{ o *Options }

func (v *infraValidator) ValidateCreate(ctx context.Context, ais *v1beta1.AviInfraSetting) (admission.Warnings, error) {
	return verdict(ctx, infraGK, ais.Name, rules.ValidateAviInfraSetting(ais, v.o.envFor()))
}

func (v *infraValidator) ValidateUpdate(ctx context.Context, _, ais *v1beta1.AviInfraSetting) (admission.Warnings, error) {
	if ais.DeletionTimestamp != nil {
		return nil, nil
	}
	return verdict(ctx, infraGK, ais.Name, rules.ValidateAviInfraSetting(ais, v.o.envFor()))
}

func (v *infraValidator) ValidateDelete(ctx context.Context, ais *v1beta1.AviInfraSetting) (admission.Warnings, error) {
	res := rules.ValidateAviInfraSettingDelete(ais.Name, v.o.envFor())
	if len(res.Errors) > 0 {
		metrics.Admission(infraGK.Kind, metrics.VerdictDenied)
		log := logr.FromContextOrDiscard(ctx)
		log.Info("denied delete", "reasons", res.Errors.ToAggregate().Error())
		return res.Warnings, apierrors.NewForbidden(schema.GroupResource{Group: infraGK.Group, Resource: "aviinfrasettings"}, ais.Name, res.Errors.ToAggregate())
	}
	return res.Warnings, nil
}

// Ensure the handler types satisfy controller-runtime's interfaces.
var (
	_ admission.Defaulter[*corev1.Service]          = (*serviceDefaulter)(nil)
	_ admission.Validator[*corev1.Service]          = (*serviceValidator)(nil)
	_ admission.Validator[*networkingv1.Ingress]    = (*ingressValidator)(nil)
	_ admission.Validator[*v1beta1.AviInfraSetting] = (*infraValidator)(nil)
)
