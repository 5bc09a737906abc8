package webhooks

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/metrics"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// Options configure the admission handlers.
type Options struct {
	Settings *config.Settings
	// Inventory may be nil; controller-dependent checks then warn and admit.
	Inventory inventory.Source
	// StaleAfter bounds the inventory's age before its checks fail open.
	StaleAfter time.Duration
	// LBClass written on Services vipgate takes by default; ownership.LBClass when empty.
	DefaultClass string
	// Lookups answer cache questions (cluster.CacheLookups over the manager's cache).
	Lookups rules.Lookups
	// Classes reads IngressClasses (the manager's cache) so the Ingress
	// handler judges only Ingresses vipgate owns; nil judges every Ingress
	// the configuration routes.
	Classes client.Reader
	// ClassesAPI confirms from the API server an Ingress the cache says is not
	// vipgate's (a class just created, not cached yet); nil trusts the cache.
	ClassesAPI client.Reader
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// envFor assembles the rule book's inputs for one request, bound to its context.
func (o *Options) envFor(ctx context.Context) rules.Env {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	return rules.NewEnv(ctx, o.Settings, o.Inventory, o.Lookups, o.StaleAfter, now())
}

// Setup registers the admission handlers on the manager's webhook server. The
// field indexes the lookups read are the operator's (cluster.SetupIndexes).
func Setup(mgr ctrl.Manager, o Options) error {
	if o.DefaultClass == "" {
		o.DefaultClass = ownership.LBClass
	}
	s := mgr.GetScheme()
	srv := mgr.GetWebhookServer()
	opts := &o
	register := func(path string, wh *admission.Webhook) { registerHook(srv, path, wh) }
	sd, sv := &serviceDefaulter{opts}, &serviceValidator{opts}
	id, iv := &ingressDefaulter{opts}, &ingressValidator{opts}
	register(PathMutateService, newCreateJudge(s, func() *corev1.Service { return &corev1.Service{} }, sd.Default, sv.ValidateCreate, ServiceJudgedAtCreate))
	register(PathValidateService, admission.WithValidator[*corev1.Service](s, sv))
	register(PathMutateIngress, newCreateJudge(s, func() *networkingv1.Ingress { return &networkingv1.Ingress{} }, id.Default, iv.ValidateCreate, IngressJudgedAtCreate))
	register(PathValidateIngress, admission.WithValidator[*networkingv1.Ingress](s, iv))
	register(PathValidateAviInfraSetting, admission.WithValidator[*v1beta1.AviInfraSetting](s, &infraValidator{opts}))
	register(PathValidateHostRule, admission.WithValidator[*v1beta1.HostRule](s, &hostRuleValidator{opts}))
	register(PathValidateHTTPRule, admission.WithValidator[*v1beta1.HTTPRule](s, &httpRuleValidator{opts}))
	register(PathValidateL4Rule, admission.WithValidator[*v1alpha2.L4Rule](s, &l4RuleValidator{opts}))
	return nil
}

// registerHook serves wh at path behind the strict AdmissionReview guard,
// logging each request with the webhook and the object it is about.
func registerHook(srv webhook.Server, path string, wh *admission.Webhook) {
	wh.LogConstructor = func(base logr.Logger, req *admission.Request) logr.Logger {
		l := base.WithValues("webhook", path)
		if req != nil {
			l = l.WithValues("kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "operation", req.Operation, "dryRun", req.DryRun != nil && *req.DryRun)
		}
		return l
	}
	srv.Register(path, Strict(wh))
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

// scope says whether vipgate judges an object in namespace: Services and
// Ingresses of namespaces that namespaceSelector or blockedNamespaceList
// leave out are another controller's business. A Namespace that cannot be
// read is judged anyway, with a warning: admission fails open, and the
// reconciler applies the same selection.
func (o *Options) scope(ctx context.Context, namespace string) (judge bool, warnings admission.Warnings) {
	if !ownership.SelectsNamespaces(o.Settings) {
		return true, nil
	}
	ns, err := o.Lookups.Namespace(ctx, namespace)
	if err != nil {
		return true, admission.Warnings{"could not read Namespace " + namespace + " to apply namespace selection (" + err.Error() + "); checked as if selected"}
	}
	if ns == nil {
		ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	}
	return ownership.NamespaceSelected(ns, o.Settings), nil
}

type serviceDefaulter struct{ o *Options }

// Default claims a class-less Service for vipgate, adds the cleanup finalizer and
// writes a requested IP in canonical form, so the validator and reconciler see one spelling.
func (d *serviceDefaulter) Default(ctx context.Context, svc *corev1.Service) error {
	if !ownership.OwnsService(svc, d.o.Settings) {
		return nil
	}
	if judge, _ := d.o.scope(ctx, svc.Namespace); !judge {
		return nil
	}
	if svc.Spec.LoadBalancerClass == nil {
		class := d.o.DefaultClass
		svc.Spec.LoadBalancerClass = &class
	}
	// With deleteConfig vipgate is tearing down: a finalizer nobody will
	// remove would leave the Service stuck in deletion.
	if !d.o.Settings.AKOSettings.DeleteConfig {
		controllerutil.AddFinalizer(svc, ownership.CleanupFinalizer)
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
	return v.validate(ctx, svc, nil)
}

func (v *serviceValidator) ValidateUpdate(ctx context.Context, old, svc *corev1.Service) (admission.Warnings, error) {
	// A Service being deleted only loses finalizers; never block that.
	if svc.DeletionTimestamp != nil {
		return nil, nil
	}
	return v.validate(ctx, svc, old)
}

func (v *serviceValidator) validate(ctx context.Context, svc, old *corev1.Service) (admission.Warnings, error) {
	if !ownership.OwnsService(svc, v.o.Settings) {
		return nil, nil
	}
	judge, warnings := v.o.scope(ctx, svc.Namespace)
	if !judge {
		return nil, nil
	}
	res := rules.ValidateService(svc, old, v.o.envFor(ctx))
	for _, w := range warnings {
		res.Warn(w)
	}
	return verdict(ctx, serviceGK, svc.Name, res)
}

func (v *serviceValidator) ValidateDelete(context.Context, *corev1.Service) (admission.Warnings, error) {
	return nil, nil
}

type ingressDefaulter struct{ o *Options }

// Default adds the cleanup finalizer to an Ingress vipgate serves, as
// IngressFinalizerReconciler would right after the create: one write of the
// Ingress (and one call of its validating webhook) fewer. An Ingress whose
// ownership cannot be told is left alone: the reconciler decides.
func (d *ingressDefaulter) Default(ctx context.Context, ing *networkingv1.Ingress) error {
	// With deleteConfig vipgate is tearing down: a finalizer nobody will
	// remove would leave the Ingress stuck in deletion.
	if d.o.Settings.AKOSettings.DeleteConfig {
		return nil
	}
	if owned, _ := d.o.ownsIngress(ctx, ing); !owned {
		return nil
	}
	if judge, _ := d.o.scope(ctx, ing.Namespace); !judge {
		return nil
	}
	controllerutil.AddFinalizer(ing, ownership.CleanupFinalizer)
	return nil
}

type ingressValidator struct{ o *Options }

// ownsIngress tells whether ing is vipgate's by its class
// (ownership.IngressClassFor, as the reconciler decides), so an Ingress of
// another controller is admitted untouched even while the webhook
// configuration still routes it (ClassSync has not caught up, or a class
// changed hands). The cache is confirmed by the API server before letting an
// Ingress go unchecked. When the classes cannot be read the Ingress is
// admitted unchecked with a warning: never deny on an answer vipgate could
// not get; the reconciler still reports what is wrong with it.
func (o *Options) ownsIngress(ctx context.Context, ing *networkingv1.Ingress) (bool, string) {
	if o.Classes == nil {
		return true, ""
	}
	var failed error
	for _, r := range []client.Reader{o.Classes, o.ClassesAPI} {
		if r == nil {
			continue
		}
		classes, err := cluster.IngressClasses(ctx, r)
		if err != nil {
			failed = err
			continue
		}
		if ownership.IngressClassFor(ing, classes, o.Settings) != nil {
			return true, ""
		}
		failed = nil
	}
	if failed != nil {
		return false, fmt.Sprintf("vipgate could not tell whether this Ingress is its own (reading IngressClasses: %v); admitted without its checks: if it is vipgate's, problems are reported as Events on it", failed)
	}
	return false, ""
}

func (v *ingressValidator) ValidateCreate(ctx context.Context, ing *networkingv1.Ingress) (admission.Warnings, error) {
	return v.validate(ctx, ing, nil)
}

func (v *ingressValidator) ValidateUpdate(ctx context.Context, old, ing *networkingv1.Ingress) (admission.Warnings, error) {
	if ing.DeletionTimestamp != nil {
		return nil, nil
	}
	return v.validate(ctx, ing, old)
}

func (v *ingressValidator) validate(ctx context.Context, ing, old *networkingv1.Ingress) (admission.Warnings, error) {
	owned, warning := v.o.ownsIngress(ctx, ing)
	if !owned {
		if warning != "" {
			metrics.Admission(ingressGK.Kind, metrics.VerdictWarned)
			logr.FromContextOrDiscard(ctx).Info("admitted unchecked", "warning", warning)
			return admission.Warnings{warning}, nil
		}
		return nil, nil
	}
	judge, warnings := v.o.scope(ctx, ing.Namespace)
	if !judge {
		return nil, nil
	}
	res := rules.ValidateIngress(ing, old, v.o.envFor(ctx))
	for _, w := range warnings {
		res.Warn(w)
	}
	return verdict(ctx, ingressGK, ing.Name, res)
}

func (v *ingressValidator) ValidateDelete(context.Context, *networkingv1.Ingress) (admission.Warnings, error) {
	return nil, nil
}

type infraValidator struct{ o *Options }

func (v *infraValidator) ValidateCreate(ctx context.Context, ais *v1beta1.AviInfraSetting) (admission.Warnings, error) {
	return verdict(ctx, infraGK, ais.Name, rules.ValidateAviInfraSetting(ais, v.o.envFor(ctx)))
}

func (v *infraValidator) ValidateUpdate(ctx context.Context, _, ais *v1beta1.AviInfraSetting) (admission.Warnings, error) {
	if ais.DeletionTimestamp != nil {
		return nil, nil
	}
	return verdict(ctx, infraGK, ais.Name, rules.ValidateAviInfraSetting(ais, v.o.envFor(ctx)))
}

func (v *infraValidator) ValidateDelete(ctx context.Context, ais *v1beta1.AviInfraSetting) (admission.Warnings, error) {
	res := rules.ValidateAviInfraSettingDelete(ais.Name, v.o.envFor(ctx))
	if len(res.Errors) > 0 {
		metrics.Admission(infraGK.Kind, metrics.VerdictDenied)
		logr.FromContextOrDiscard(ctx).Info("denied delete", "reasons", res.Errors.ToAggregate().Error())
		return res.Warnings, apierrors.NewForbidden(schema.GroupResource{Group: infraGK.Group, Resource: "aviinfrasettings"}, ais.Name, res.Errors.ToAggregate())
	}
	return res.Warnings, nil
}

// Ensure the handler types satisfy controller-runtime's interfaces.
var (
	_ admission.Defaulter[*corev1.Service]          = (*serviceDefaulter)(nil)
	_ admission.Validator[*corev1.Service]          = (*serviceValidator)(nil)
	_ admission.Defaulter[*networkingv1.Ingress]    = (*ingressDefaulter)(nil)
	_ admission.Validator[*networkingv1.Ingress]    = (*ingressValidator)(nil)
	_ admission.Validator[*v1beta1.AviInfraSetting] = (*infraValidator)(nil)
)
