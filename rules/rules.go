// Package rules is vipgate's rule book: every admission rule written once, as a
// pure function over plain inputs (the object, a snapshot of the controller
// inventory, and a few cache lookups).
//
// Two callers share it. The validating webhook turns a Result into an
// admission response (Errors reject, Warnings are printed by kubectl); the
// reconcilers call the same functions before pushing to the controller, so an
// object that slipped past admission (webhook down, object created before
// install, controller changed since) gets the very same message as an Event
// and a status condition. Nothing in this package performs I/O or reads the
// clock: the time comes in Env.Now, the controller's state in Env.Inventory,
// the cluster's state through Env.Lookups.
//
// Messages follow Kubernetes' field.Invalid shape, `<path>: Invalid value:
// "<value>": <what is wrong>; <how to fix it>`, because that is what users
// already read from kubectl. No message ever quotes a Secret's private key.
package rules

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
)

// AKO's API surface: the names users already have in their manifests.
const (
	// AnnLoadBalancerIP requests a VIP, as an alternative to spec.loadBalancerIP.
	AnnLoadBalancerIP = "ako.vmware.com/load-balancer-ip"
	// AnnSharedVIP groups Services of one namespace behind one virtual service.
	AnnSharedVIP = ownership.AnnSharedVIP
	// AnnInfraSetting selects an AviInfraSetting, on a Service or its Namespace.
	AnnInfraSetting = "aviinfrasetting.ako.vmware.com/name"
	// AnnCertManagerIssuer and AnnCertManagerClusterIssuer on an Ingress tell
	// cert-manager's ingress-shim to issue the tls[] Secrets.
	AnnCertManagerIssuer        = "cert-manager.io/issuer"
	AnnCertManagerClusterIssuer = "cert-manager.io/cluster-issuer"
	// SEGroupClusterLabel is the SE group label that marks which cluster owns it.
	SEGroupClusterLabel = "clustername"
	// CertExpiryWarning is how close to expiry a TLS certificate draws a warning.
	CertExpiryWarning = 14 * 24 * time.Hour
	// MaxListed bounds the names a message lists before it says "and N more",
	// so a message stays readable in a terminal.
	MaxListed = 5
)

// Warnings emitted when controller-dependent checks cannot run. They fail open
// on purpose: a stale cache must not block the cluster, and the reconciler
// runs the same checks again against a fresh inventory.
const (
	WarnInventoryStale     = "controller inventory is stale (older than the bound); VIP and network checks were skipped and will run again at reconcile"
	WarnInventoryNotLoaded = "controller inventory has not been loaded yet; VIP and network checks were skipped and will run again at reconcile"
)

// Result of a rule check: hard errors reject; warnings admit (kubectl prints them).
type Result struct {
	Errors   field.ErrorList
	Warnings []string
}

// Allowed reports whether the object may be admitted (warnings do not block).
func (r Result) Allowed() bool { return len(r.Errors) == 0 }

// Err returns the errors as one error (nil when allowed), for callers such as
// the reconciler that report a single condition message.
func (r Result) Err() error { return r.Errors.ToAggregate() }

// Warn adds a warning once: several checks may hit the same condition (stale
// inventory above all) and kubectl should print it a single time.
func (r *Result) Warn(msg string) {
	if !slices.Contains(r.Warnings, msg) {
		r.Warnings = append(r.Warnings, msg)
	}
}

// Merge appends o's errors and warnings to r (warnings de-duplicated).
func (r *Result) Merge(o Result) {
	r.Errors = append(r.Errors, o.Errors...)
	for _, w := range o.Warnings {
		r.Warn(w)
	}
}

// Lookups are the cache reads the rules need. The webhook and the
// reconcilers implement them with informer caches and field indexes (no API
// call on the hot path); tests use fakes. Every lookup takes the caller's
// context (an admission request's deadline) and returns an error when it
// could not tell: the rules then admit with a warning and never deny on an
// answer they did not get. Implementations return objects callers must not
// mutate; the rules only read them.
type Lookups interface {
	// ServicesByVIP returns the Services requesting or holding ip (canonical
	// form) in spec.loadBalancerIP, the load-balancer-ip annotation or
	// status.loadBalancer.ingress. It may include the Service being checked.
	ServicesByVIP(ctx context.Context, ip string) ([]*corev1.Service, error)
	// ServicesBySharedVIPKey returns the Services of namespace annotated with
	// ako.vmware.com/enable-shared-vip: key. It may include the Service being checked.
	ServicesBySharedVIPKey(ctx context.Context, namespace, key string) ([]*corev1.Service, error)
	// AviInfraSetting returns the named AviInfraSetting, (nil, nil) when there is none.
	AviInfraSetting(ctx context.Context, name string) (*v1beta1.AviInfraSetting, error)
	// Namespace returns the named Namespace, (nil, nil) when there is none.
	Namespace(ctx context.Context, name string) (*corev1.Namespace, error)
	// TLSSecret returns the summary (ownership.SummarizeTLSSecret) of the
	// named Secret; found is false when it does not exist.
	TLSSecret(ctx context.Context, namespace, name string) (sum ownership.TLSSecretSummary, found bool, err error)
	// CertManagerCertificateForSecret reports whether a cert-manager Certificate
	// in namespace has spec.secretName == secretName.
	CertManagerCertificateForSecret(ctx context.Context, namespace, secretName string) (bool, error)
	// IngressesByHost returns vipgate's Ingresses that have host in spec.rules.
	IngressesByHost(ctx context.Context, host string) ([]*networkingv1.Ingress, error)
	// ReferencesToInfraSetting names the objects selecting the AviInfraSetting,
	// e.g. "Service default/web", "Namespace team-a", "IngressClass avi-lb",
	// leaving out Services being deleted: their cleanup removes what their
	// owner markers name and reads no AviInfraSetting, so one deleted with
	// its Service (kubectl delete -f) must not have to wait for it.
	ReferencesToInfraSetting(ctx context.Context, name string) ([]string, error)
	// ServicesByAviName and IngressesByAviName return the Services and
	// Ingresses with a claim (ServiceClaims, IngressClaims) whose ClaimKey is key.
	ServicesByAviName(ctx context.Context, key string) ([]*corev1.Service, error)
	IngressesByAviName(ctx context.Context, key string) ([]*networkingv1.Ingress, error)
	// HostRulesByHost returns the HostRules whose spec.virtualhost.fqdn or
	// one of whose aliases is host (as written, whatever the fqdnType).
	HostRulesByHost(ctx context.Context, host string) ([]*v1beta1.HostRule, error)
	// HTTPRulesByHost returns the HTTPRules whose spec.fqdn is host.
	HTTPRulesByHost(ctx context.Context, host string) ([]*v1beta1.HTTPRule, error)
	// L4Rule returns the named L4Rule, (nil, nil) when there is none.
	L4Rule(ctx context.Context, namespace, name string) (*v1alpha2.L4Rule, error)
	// ServicesByL4Rule returns the Services whose ako.vmware.com/l4rule
	// annotation names key ("<ns>/<name>", see L4RuleKey).
	ServicesByL4Rule(ctx context.Context, key string) ([]*corev1.Service, error)
}

// Env is everything a rule needs besides the object itself. Build it with NewEnv.
type Env struct {
	// Ctx bounds the lookups (an admission request's deadline); nil means Background.
	Ctx context.Context
	// Settings are the operator's (AKO's Helm keys); nil means AKO's defaults.
	Settings *config.Settings
	// Inventory is the controller snapshot; nil when never loaded.
	Inventory *inventory.Snapshot
	// InventoryStale is set when the snapshot is older than the caller's
	// bound; controller-dependent checks are then skipped with one warning.
	InventoryStale bool
	// Lookups reads the cluster caches; nil behaves as an empty cluster.
	Lookups Lookups
	// Now is the time used for certificate expiry; passed in so rules stay pure.
	Now time.Time
}

// NewEnv is the one way to assemble a rule book environment. inv may be nil
// (no controller: controller-dependent checks warn and admit). staleAfter
// bounds the snapshot's age before those checks fail open with a warning:
// admission passes its bound, so a controller outage never blocks the
// cluster; reconcilers pass 0 and judge with the best snapshot they have,
// since the controller has the last word on what they then send.
func NewEnv(ctx context.Context, s *config.Settings, inv inventory.Source, lk Lookups, staleAfter time.Duration, now time.Time) Env {
	env := Env{Ctx: ctx, Settings: s, Lookups: lk, Now: now}
	if inv != nil {
		env.Inventory = inv.Snapshot()
	}
	env.InventoryStale = env.Inventory == nil || (staleAfter > 0 && env.Inventory.Age(now) > staleAfter)
	return env
}

// ctx never returns nil.
func (e Env) ctx() context.Context {
	if e.Ctx != nil {
		return e.Ctx
	}
	return context.Background()
}

// liveInventory returns the snapshot controller-dependent checks may read, or
// nil plus the warning explaining why they were skipped.
func (e Env) liveInventory() (*inventory.Snapshot, string) {
	switch {
	case e.Inventory == nil:
		return nil, WarnInventoryNotLoaded
	case e.InventoryStale:
		return nil, WarnInventoryStale
	}
	return e.Inventory, ""
}

// settings never returns nil, so rules need not guard every read; AKO's
// defaults apply when the caller has none (tests, early start-up).
func (e Env) settings() *config.Settings {
	if e.Settings != nil {
		return e.Settings
	}
	d := config.Defaults()
	return &d
}

// lookups never returns nil; an absent cache answers "nothing there".
func (e Env) lookups() Lookups {
	if e.Lookups != nil {
		return e.Lookups
	}
	return noLookups{}
}

// couldNotCheck is the warning for a check whose lookup failed: the object is
// admitted (a failed lookup is not a "no"), and the reconciler checks again.
func couldNotCheck(what string, err error) string {
	return fmt.Sprintf("could not check %s (%v); admitted, and checked again when it is reconciled", what, err)
}

type noLookups struct{}

func (noLookups) ServicesByVIP(context.Context, string) ([]*corev1.Service, error) { return nil, nil }
func (noLookups) ServicesBySharedVIPKey(context.Context, string, string) ([]*corev1.Service, error) {
	return nil, nil
}
func (noLookups) AviInfraSetting(context.Context, string) (*v1beta1.AviInfraSetting, error) {
	return nil, nil
}
func (noLookups) Namespace(context.Context, string) (*corev1.Namespace, error) { return nil, nil }
func (noLookups) TLSSecret(context.Context, string, string) (ownership.TLSSecretSummary, bool, error) {
	return ownership.TLSSecretSummary{}, false, nil
}
func (noLookups) CertManagerCertificateForSecret(context.Context, string, string) (bool, error) {
	return false, nil
}
func (noLookups) IngressesByHost(context.Context, string) ([]*networkingv1.Ingress, error) {
	return nil, nil
}
func (noLookups) ReferencesToInfraSetting(context.Context, string) ([]string, error) { return nil, nil }
func (noLookups) ServicesByAviName(context.Context, string) ([]*corev1.Service, error) {
	return nil, nil
}
func (noLookups) IngressesByAviName(context.Context, string) ([]*networkingv1.Ingress, error) {
	return nil, nil
}

func (noLookups) HostRulesByHost(context.Context, string) ([]*v1beta1.HostRule, error) {
	return nil, nil
}
func (noLookups) HTTPRulesByHost(context.Context, string) ([]*v1beta1.HTTPRule, error) {
	return nil, nil
}
func (noLookups) L4Rule(context.Context, string, string) (*v1alpha2.L4Rule, error) { return nil, nil }
func (noLookups) ServicesByL4Rule(context.Context, string) ([]*corev1.Service, error) {
	return nil, nil
}

// listNames joins up to MaxListed names and says how many more there are, so a
// message naming referrers or candidates never floods the terminal.
func listNames(names []string) string {
	if len(names) <= MaxListed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:MaxListed], ", "), len(names)-MaxListed)
}

// listFirst is listNames for the first names of total.
func listFirst(first []string, total int) string {
	if total <= len(first) {
		return strings.Join(first, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(first, ", "), total-len(first))
}

// annotationPath is the field path of an annotation, as kubectl users see it:
// metadata.annotations[ako.vmware.com/load-balancer-ip].
func annotationPath(key string) *field.Path {
	return field.NewPath("metadata", "annotations").Key(key)
}
