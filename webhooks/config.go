// Package webhooks holds vipgate's admission handlers: thin adapters from an
// AdmissionRequest to the rule book, plus Service defaulting, the webhook
// configurations that route only vipgate's objects to them, and ClassSync,
// which keeps the Ingress webhook's routing equal to vipgate's IngressClasses.
package webhooks

import (
	"fmt"
	"strings"

	admv1 "k8s.io/api/admissionregistration/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// Paths served by the webhook server.
const (
	PathMutateService           = "/mutate-v1-service"
	PathMutateIngress           = "/mutate-networking-v1-ingress"
	PathValidateService         = "/validate-v1-service"
	PathValidateIngress         = "/validate-networking-v1-ingress"
	PathValidateAviInfraSetting = "/validate-ako-vmware-com-v1beta1-aviinfrasetting"
	PathValidateHostRule        = "/validate-ako-vmware-com-v1beta1-hostrule"
	PathValidateHTTPRule        = "/validate-ako-vmware-com-v1beta1-httprule"
	PathValidateL4Rule          = "/validate-ako-vmware-com-v1alpha2-l4rule"
)

// Names of the webhook configurations and of each webhook in them.
const (
	MutatingConfigName   = "vipgate-mutating"
	ValidatingConfigName = "vipgate-validating"

	HookMutateService           = "mservice.vipgate.ako.vmware.com"
	HookMutateIngress           = "mingress.vipgate.ako.vmware.com"
	HookValidateService         = "vservice.vipgate.ako.vmware.com"
	HookValidateIngress         = "vingress.vipgate.ako.vmware.com"
	HookValidateAviInfraSetting = "vaviinfrasetting.vipgate.ako.vmware.com"
	HookValidateHostRule        = "vhostrule.vipgate.ako.vmware.com"
	HookValidateHTTPRule        = "vhttprule.vipgate.ako.vmware.com"
	HookValidateL4Rule          = "vl4rule.vipgate.ako.vmware.com"
)

// LBClass is AKO's loadBalancerClass and IngressClass controller, which vipgate answers to.
const LBClass = ownership.LBClass

// ConfigOptions say where the API server reaches the webhook and what it routes there.
type ConfigOptions struct {
	// Namespace vipgate runs in; never intercepted.
	Namespace string
	// ServiceName of the webhook Service (in-cluster). Ignored when BaseURL is set.
	ServiceName string
	// ServicePort of the webhook Service; 443 when zero.
	ServicePort int32
	// BaseURL, e.g. https://127.0.0.1:9443, for API servers outside the cluster (tests, demo).
	BaseURL string
	// CABundle that signs the serving certificate; left empty when cert-manager injects it.
	CABundle []byte
	// DefaultLBController: Services without a loadBalancerClass are vipgate's too.
	DefaultLBController bool
	// Layer7Only (AKOSettings.layer7Only): no Service is vipgate's, so none is routed.
	Layer7Only bool
	// IngressClasses routed to the Ingress webhook; Ingresses without a class are
	// routed too when DefaultIngressClass is true. This is the starting point:
	// ClassSync then keeps the condition equal to the cluster's classes of
	// vipgate (IngressRouting).
	IngressClasses      []string
	DefaultIngressClass bool
	// GatewayClasses are vipgate's GatewayClasses: Gateways of these classes
	// are routed to the Gateway webhook (none, and no Gateway webhook, when empty).
	GatewayClasses []string
	// FailOpen sets failurePolicy Ignore for Services and Ingresses (AviInfraSetting always fails closed).
	FailOpen bool
	// GatewayFailurePolicy of the Gateway and HTTPRoute webhooks (the chart's
	// vipgate.webhook.failurePolicy.gateways); empty: as Services and Ingresses.
	GatewayFailurePolicy admv1.FailurePolicyType
	// TimeoutSeconds per call; 5 when zero.
	TimeoutSeconds int32
}

func (o ConfigOptions) clientConfig(path string) admv1.WebhookClientConfig {
	if o.BaseURL != "" {
		return admv1.WebhookClientConfig{URL: ptr.To(strings.TrimRight(o.BaseURL, "/") + path), CABundle: o.CABundle}
	}
	port := o.ServicePort
	if port == 0 {
		port = 443
	}
	return admv1.WebhookClientConfig{
		Service:  &admv1.ServiceReference{Namespace: o.Namespace, Name: o.ServiceName, Path: ptr.To(path), Port: ptr.To(port)},
		CABundle: o.CABundle,
	}
}

// namespaceSelector keeps kube-system and vipgate's own namespace out of reach,
// so a broken vipgate can never block the cluster's own recovery.
func (o ConfigOptions) namespaceSelector() *metav1.LabelSelector {
	excluded := []string{"kube-system"}
	if o.Namespace != "" && o.Namespace != "kube-system" {
		excluded = append(excluded, o.Namespace)
	}
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: excluded,
	}}}
}

// ServiceMatchConditions select Services of type LoadBalancer that vipgate owns,
// including an update that takes a Service away from type LoadBalancer. They
// mirror ownership.OwnsService: a Service without a class only when
// DefaultLBController is true, none at all when Layer7Only is true, so a
// vipgate that is down never stands in the way of another load balancer's Services.
func (o ConfigOptions) ServiceMatchConditions() []admv1.MatchCondition {
	owned := fmt.Sprintf("has(object.spec.loadBalancerClass) && object.spec.loadBalancerClass == '%s'", LBClass)
	if o.DefaultLBController {
		owned = fmt.Sprintf("!has(object.spec.loadBalancerClass) || object.spec.loadBalancerClass == '%s'", LBClass)
	}
	if o.Layer7Only {
		owned = "false"
	}
	return []admv1.MatchCondition{
		{Name: "is-load-balancer", Expression: "(has(object.spec.type) && object.spec.type == 'LoadBalancer') || (oldObject != null && has(oldObject.spec.type) && oldObject.spec.type == 'LoadBalancer')"},
		{Name: "owned-by-vipgate", Expression: owned},
	}
}

// IngressConditionName names the Ingress webhook's match condition, the one
// ClassSync keeps current.
const IngressConditionName = "vipgate-ingress-class"

// IngressMatchConditions select Ingresses of the IngressClasses in
// IngressClasses and, when DefaultIngressClass is true, Ingresses without a class.
func (o ConfigOptions) IngressMatchConditions() []admv1.MatchCondition {
	return []admv1.MatchCondition{IngressCondition(o.IngressClasses, o.DefaultIngressClass)}
}

// IngressCondition is the Ingress webhook's match condition for the named
// classes, and for Ingresses without a class when classless is true. With
// neither it is the constant false: still valid CEL, routing nothing.
// IngressClass names are DNS subdomains (the API server validates them), so
// they need no escaping inside the quotes.
func IngressCondition(classes []string, classless bool) admv1.MatchCondition {
	quoted := make([]string, 0, len(classes))
	for _, c := range classes {
		quoted = append(quoted, "'"+c+"'")
	}
	named := fmt.Sprintf("has(object.spec.ingressClassName) && object.spec.ingressClassName in [%s]", strings.Join(quoted, ", "))
	var expr string
	switch {
	case len(classes) == 0 && classless:
		expr = "!has(object.spec.ingressClassName)"
	case len(classes) == 0:
		expr = "false"
	case classless:
		expr = fmt.Sprintf("!has(object.spec.ingressClassName) || object.spec.ingressClassName in [%s]", strings.Join(quoted, ", "))
	default:
		expr = named
	}
	return admv1.MatchCondition{Name: IngressConditionName, Expression: expr}
}

// IngressRouting says what the Ingress webhook must route to vipgate given
// the cluster's IngressClasses: every class whose controller is vipgate's
// (ownership.ClassNames), and Ingresses without a class when
// L7Settings.defaultIngController is on and one of those classes is the
// cluster's default (ownership.IngressClassFor's rule, so admission and the
// reconciler agree on which Ingresses are vipgate's).
func IngressRouting(classes []networkingv1.IngressClass, s *config.Settings) (names []string, classless bool) {
	names = ownership.ClassNames(classes)
	if s != nil && !bool(s.L7Settings.DefaultIngController) {
		return names, false
	}
	for i := range classes {
		c := &classes[i]
		if c.Spec.Controller == LBClass && c.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true" {
			return names, true
		}
	}
	return names, false
}

func (o ConfigOptions) timeout() *int32 {
	if o.TimeoutSeconds == 0 {
		return ptr.To[int32](5)
	}
	return ptr.To(o.TimeoutSeconds)
}

func (o ConfigOptions) softPolicy() *admv1.FailurePolicyType {
	if o.FailOpen {
		return ptr.To(admv1.Ignore)
	}
	return ptr.To(admv1.Fail)
}

func (o ConfigOptions) gatewayPolicy() *admv1.FailurePolicyType {
	if o.GatewayFailurePolicy != "" {
		return ptr.To(o.GatewayFailurePolicy)
	}
	return o.softPolicy()
}

func rule(group, version, resource string, scope admv1.ScopeType, ops ...admv1.OperationType) []admv1.RuleWithOperations {
	return []admv1.RuleWithOperations{{
		Operations: ops,
		Rule:       admv1.Rule{APIGroups: []string{group}, APIVersions: []string{version}, Resources: []string{resource}, Scope: ptr.To(scope)},
	}}
}

// withCleanupFinalizer is CEL for "the object carries vipgate's cleanup finalizer".
const withCleanupFinalizer = "has(object.metadata.finalizers) && '" + ownership.CleanupFinalizer + "' in object.metadata.finalizers"

// serviceJudgedAtCreate and ingressJudgedAtCreate let the validating
// webhooks skip a create the mutating webhook judged already (createJudge):
// ServiceJudgedAtCreate and IngressJudgedAtCreate in CEL. Updates are always
// judged.
var (
	serviceJudgedAtCreate = admv1.MatchCondition{
		Name: "not-judged-at-create",
		Expression: "!(request.operation == 'CREATE' && " + withCleanupFinalizer +
			" && !has(object.spec.loadBalancerIP) && !(has(object.metadata.annotations) && '" + rules.AnnLoadBalancerIP + "' in object.metadata.annotations))",
	}
	ingressJudgedAtCreate = admv1.MatchCondition{
		Name:       "not-judged-at-create",
		Expression: "!(request.operation == 'CREATE' && " + withCleanupFinalizer + ")",
	}
)

// notBeingDeleted spares the validating webhooks the updates of an object
// being deleted (its finalizers removed): the handlers never block those.
var notBeingDeleted = admv1.MatchCondition{
	Name:       "not-being-deleted",
	Expression: "!has(object.metadata.deletionTimestamp)",
}

// Configurations returns the mutating and validating webhook configurations.
func Configurations(o ConfigOptions) (*admv1.MutatingWebhookConfiguration, *admv1.ValidatingWebhookConfiguration) {
	none := ptr.To(admv1.SideEffectClassNone)
	versions := []string{"v1"}
	mutating := &admv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: MutatingConfigName},
		Webhooks: []admv1.MutatingWebhook{{
			// Defaults and the cleanup finalizer at create, and the create
			// judged in the same call (createJudge).
			Name:                    HookMutateService,
			ClientConfig:            o.clientConfig(PathMutateService),
			Rules:                   rule("", "v1", "services", admv1.NamespacedScope, admv1.Create),
			NamespaceSelector:       o.namespaceSelector(),
			MatchConditions:         o.ServiceMatchConditions(),
			SideEffects:             none,
			TimeoutSeconds:          o.timeout(),
			FailurePolicy:           o.softPolicy(),
			AdmissionReviewVersions: versions,
			ReinvocationPolicy:      ptr.To(admv1.IfNeededReinvocationPolicy),
		}, {
			// The cleanup finalizer at create, so an Ingress costs the API
			// server no second write for it (IngressFinalizerReconciler still
			// adds it to those this hook did not see), and the create judged
			// in the same call (createJudge). ClassSync keeps its class
			// condition current, as the validating hook's.
			Name:                    HookMutateIngress,
			ClientConfig:            o.clientConfig(PathMutateIngress),
			Rules:                   rule("networking.k8s.io", "v1", "ingresses", admv1.NamespacedScope, admv1.Create),
			NamespaceSelector:       o.namespaceSelector(),
			MatchConditions:         o.IngressMatchConditions(),
			SideEffects:             none,
			TimeoutSeconds:          o.timeout(),
			FailurePolicy:           o.softPolicy(),
			AdmissionReviewVersions: versions,
			ReinvocationPolicy:      ptr.To(admv1.IfNeededReinvocationPolicy),
		}},
	}
	validating := &admv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: ValidatingConfigName},
		Webhooks: []admv1.ValidatingWebhook{
			{
				Name:                    HookValidateService,
				ClientConfig:            o.clientConfig(PathValidateService),
				Rules:                   rule("", "v1", "services", admv1.NamespacedScope, admv1.Create, admv1.Update),
				NamespaceSelector:       o.namespaceSelector(),
				MatchConditions:         append(o.ServiceMatchConditions(), serviceJudgedAtCreate, notBeingDeleted),
				SideEffects:             none,
				TimeoutSeconds:          o.timeout(),
				FailurePolicy:           o.softPolicy(),
				AdmissionReviewVersions: versions,
			},
			{
				Name:                    HookValidateIngress,
				ClientConfig:            o.clientConfig(PathValidateIngress),
				Rules:                   rule("networking.k8s.io", "v1", "ingresses", admv1.NamespacedScope, admv1.Create, admv1.Update),
				NamespaceSelector:       o.namespaceSelector(),
				MatchConditions:         append(o.IngressMatchConditions(), ingressJudgedAtCreate, notBeingDeleted),
				SideEffects:             none,
				TimeoutSeconds:          o.timeout(),
				FailurePolicy:           o.softPolicy(),
				AdmissionReviewVersions: versions,
			},
			{
				Name:                    HookValidateAviInfraSetting,
				ClientConfig:            o.clientConfig(PathValidateAviInfraSetting),
				Rules:                   rule("ako.vmware.com", "v1beta1", "aviinfrasettings", admv1.ClusterScope, admv1.Create, admv1.Update, admv1.Delete),
				SideEffects:             none,
				TimeoutSeconds:          o.timeout(),
				FailurePolicy:           ptr.To(admv1.Fail),
				AdmissionReviewVersions: versions,
			},
			o.ruleHook(HookValidateHostRule, PathValidateHostRule, "v1beta1", "hostrules"),
			o.ruleHook(HookValidateHTTPRule, PathValidateHTTPRule, "v1beta1", "httprules"),
			o.ruleHook(HookValidateL4Rule, PathValidateL4Rule, "v1alpha2", "l4rules"),
		},
	}
	if len(o.GatewayClasses) > 0 {
		validating.Webhooks = append(validating.Webhooks, admv1.ValidatingWebhook{
			Name:                    HookValidateGateway,
			ClientConfig:            o.clientConfig(PathValidateGateway),
			Rules:                   rule("gateway.networking.k8s.io", "v1", "gateways", admv1.NamespacedScope, admv1.Create, admv1.Update),
			NamespaceSelector:       o.namespaceSelector(),
			MatchConditions:         []admv1.MatchCondition{GatewayCondition(o.GatewayClasses)},
			SideEffects:             none,
			TimeoutSeconds:          o.timeout(),
			FailurePolicy:           o.gatewayPolicy(),
			AdmissionReviewVersions: versions,
		}, admv1.ValidatingWebhook{
			// A route's Gateway decides whether it is vipgate's, which a match
			// condition cannot read: the handler passes other routes untouched.
			Name:                    HookValidateHTTPRoute,
			ClientConfig:            o.clientConfig(PathValidateHTTPRoute),
			Rules:                   rule("gateway.networking.k8s.io", "v1", "httproutes", admv1.NamespacedScope, admv1.Create, admv1.Update),
			NamespaceSelector:       o.namespaceSelector(),
			SideEffects:             none,
			TimeoutSeconds:          o.timeout(),
			FailurePolicy:           o.gatewayPolicy(),
			AdmissionReviewVersions: versions,
		})
	}
	return mutating, validating
}

// ruleHook routes one rule CRD (HostRule, HTTPRule, L4Rule) to its handler.
// Only the storage version is listed: with matchPolicy Equivalent the API
// server converts a request at another served version (v1alpha1) to it, so
// the handler decodes one version. Failure policy Ignore: a rule stored
// while no replica answers is judged by the status reconciler, which never
// applies a rejected rule (the virtual service keeps what it has).
func (o ConfigOptions) ruleHook(name, path, version, resource string) admv1.ValidatingWebhook {
	return admv1.ValidatingWebhook{
		Name:                    name,
		ClientConfig:            o.clientConfig(path),
		Rules:                   rule("ako.vmware.com", version, resource, admv1.NamespacedScope, admv1.Create, admv1.Update),
		MatchPolicy:             ptr.To(admv1.Equivalent),
		NamespaceSelector:       o.namespaceSelector(),
		SideEffects:             ptr.To(admv1.SideEffectClassNone),
		TimeoutSeconds:          o.timeout(),
		FailurePolicy:           ptr.To(admv1.Ignore),
		AdmissionReviewVersions: []string{"v1"},
	}
}

// GatewayCondition routes Gateways of the named GatewayClasses (vipgate's)
// to the Gateway webhook; class names are DNS subdomains, safe in quotes.
func GatewayCondition(classes []string) admv1.MatchCondition {
	quoted := make([]string, 0, len(classes))
	for _, c := range classes {
		quoted = append(quoted, "'"+c+"'")
	}
	return admv1.MatchCondition{Name: "vipgate-gateway-class", Expression: fmt.Sprintf("object.spec.gatewayClassName in [%s]", strings.Join(quoted, ", "))}
}
