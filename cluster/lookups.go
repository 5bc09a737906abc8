package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// CacheLookups answers the rule book's questions from the manager's informer
// caches, with no API call on the common path: Secrets too are read from the
// cache, which holds their metadata and TLS summary (ownership.TransformSecret),
// never their data. Every read is bound to the caller's context, so an
// admission request never waits past its deadline, and a read that fails is
// returned as an error for the rule book to treat as "could not tell".
type CacheLookups struct {
	// Cache must be the manager's cache itself, not its client: the client
	// reads Secrets from the API server (the L7 reconciler needs their data).
	Cache client.Reader
	// API reads one Secret from the API server to confirm a denial the cache
	// suggests (see TLSSecret); nil judges from the cache alone.
	API    client.Reader
	Mapper meta.RESTMapper
	// Informers lazily starts the cert-manager Certificate informer when the CRD exists.
	Informers cache.Informers
	// Settings decide which Ingresses are vipgate's (defaultIngController,
	// namespace selection), exactly as for the reconcilers.
	Settings *config.Settings

	certMu      sync.Mutex
	certInf     cache.Informer
	certIndexed bool
	// certMissing is when the Certificate CRD was last found missing.
	certMissing time.Time
}

// certRecheck bounds how often a missing cert-manager CRD is looked up again.
// The REST mapper does not remember a group the API server lacks, so each
// lookup of it is a discovery call: without this, every Ingress admission
// would call the API server when cert-manager is not installed. Installing
// cert-manager is noticed within this delay.
const certRecheck = 30 * time.Second

var _ rules.Lookups = (*CacheLookups)(nil)

// NewCacheLookups builds lookups over a manager's cache.
func NewCacheLookups(mgr manager.Manager, s *config.Settings) *CacheLookups {
	return &CacheLookups{Cache: mgr.GetCache(), API: mgr.GetAPIReader(), Mapper: mgr.GetRESTMapper(), Informers: mgr.GetCache(), Settings: s}
}

func (l *CacheLookups) services(ctx context.Context, opts ...client.ListOption) ([]*corev1.Service, error) {
	var list corev1.ServiceList
	if err := l.Cache.List(ctx, &list, opts...); err != nil {
		return nil, err
	}
	out := make([]*corev1.Service, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// ServicesByVIP returns Services that request or hold ip.
func (l *CacheLookups) ServicesByVIP(ctx context.Context, ip string) ([]*corev1.Service, error) {
	return l.services(ctx, client.MatchingFields{IndexServiceVIP: ip})
}

// ServicesBySharedVIPKey returns the members of a shared-VIP group.
func (l *CacheLookups) ServicesBySharedVIPKey(ctx context.Context, namespace, key string) ([]*corev1.Service, error) {
	return l.services(ctx, client.InNamespace(namespace), client.MatchingFields{IndexServiceSharedKey: key})
}

// AviInfraSetting returns the named setting from the cache, nil when there is none.
func (l *CacheLookups) AviInfraSetting(ctx context.Context, name string) (*v1beta1.AviInfraSetting, error) {
	var ais v1beta1.AviInfraSetting
	if err := l.Cache.Get(ctx, types.NamespacedName{Name: name}, &ais); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return &ais, nil
}

// Namespace returns the named Namespace from the cache, nil when there is none.
func (l *CacheLookups) Namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	var ns corev1.Namespace
	if err := l.Cache.Get(ctx, types.NamespacedName{Name: name}, &ns); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return &ns, nil
}

// TLSSecret reads the Secret's summary from the cache, where
// ownership.TransformSecret left its metadata and TLS summary but no key
// material. The cache lags the API server by a moment, so a Secret applied
// together with its Ingress (kubectl apply -f dir/), or just renewed, would be
// refused wrongly: when the cache says missing or unusable, one GET confirms
// before the rule book can deny. Usable Secrets, the common case, never get
// there. A GET that fails (RBAC, transport, deadline) is an error: could not tell.
func (l *CacheLookups) TLSSecret(ctx context.Context, namespace, name string) (ownership.TLSSecretSummary, bool, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	var sec corev1.Secret
	err := l.Cache.Get(ctx, key, &sec)
	switch {
	case err == nil:
		if s := ownership.TLSSummaryOf(&sec); rules.TLSSecretUsable(s, time.Now()) || l.API == nil {
			return s, true, nil
		}
	case !apierrors.IsNotFound(err):
		return ownership.TLSSecretSummary{}, false, err
	case l.API == nil:
		return ownership.TLSSecretSummary{}, false, nil
	}
	var live corev1.Secret
	if err := l.API.Get(ctx, key, &live); err != nil {
		if apierrors.IsNotFound(err) {
			return ownership.TLSSecretSummary{}, false, nil
		}
		return ownership.TLSSecretSummary{}, false, fmt.Errorf("reading Secret %s: %w", key, err)
	}
	return ownership.SummarizeTLSSecret(&live), true, nil
}

// CertManagerCertificateForSecret reports whether a cert-manager Certificate in
// namespace will write secretName. Without cert-manager's CRDs it is false.
func (l *CacheLookups) CertManagerCertificateForSecret(ctx context.Context, namespace, secretName string) (bool, error) {
	ok, err := l.certificatesAvailable(ctx)
	if !ok || err != nil {
		return false, err
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(CertificateGVK.GroupVersion().WithKind("CertificateList"))
	if err := l.Cache.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{IndexCertSecretName: secretName}); err != nil {
		return false, err
	}
	return len(list.Items) > 0, nil
}

// certificatesAvailable starts the Certificate informer the first time the
// CRD is found, so vipgate works the same with or without cert-manager
// installed. It waits for the informer to sync no longer than the caller's
// deadline: past it, the answer is an error (could not tell).
func (l *CacheLookups) certificatesAvailable(ctx context.Context) (bool, error) {
	inf, err := l.certInformer(ctx)
	if inf == nil || err != nil {
		return false, err
	}
	for !inf.HasSynced() {
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("cert-manager Certificates are not cached yet: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return true, nil
}

// certInformer returns the Certificate informer, started (not necessarily
// synced) when the CRD exists; nil when it does not.
func (l *CacheLookups) certInformer(ctx context.Context) (cache.Informer, error) {
	l.certMu.Lock()
	defer l.certMu.Unlock()
	if l.certInf != nil {
		return l.certInf, nil
	}
	if l.Mapper == nil || l.Informers == nil {
		return nil, nil
	}
	if !l.certMissing.IsZero() && time.Since(l.certMissing) < certRecheck {
		return nil, nil
	}
	if _, err := l.Mapper.RESTMapping(CertificateGVK.GroupKind(), CertificateGVK.Version); err != nil {
		l.certMissing = time.Now()
		return nil, nil
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(CertificateGVK)
	if !l.certIndexed {
		if err := l.Informers.IndexField(ctx, u, IndexCertSecretName, func(o client.Object) []string {
			name, _, _ := unstructured.NestedString(o.(*unstructured.Unstructured).Object, "spec", "secretName")
			return nonEmpty(name)
		}); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("indexing cert-manager Certificates: %w", err)
		}
		l.certIndexed = true
	}
	inf, err := l.Informers.GetInformer(ctx, u, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, fmt.Errorf("watching cert-manager Certificates: %w", err)
	}
	l.certInf = inf
	return inf, nil
}

// IngressesByHost returns vipgate's Ingresses that route host.
func (l *CacheLookups) IngressesByHost(ctx context.Context, host string) ([]*networkingv1.Ingress, error) {
	return l.ownedIngresses(ctx, client.MatchingFields{IndexIngressHost: host})
}

// ownedIngresses lists the cached Ingresses matching fields that vipgate owns.
func (l *CacheLookups) ownedIngresses(ctx context.Context, fields client.MatchingFields) ([]*networkingv1.Ingress, error) {
	var list networkingv1.IngressList
	if err := l.Cache.List(ctx, &list, fields); err != nil {
		return nil, err
	}
	var out []*networkingv1.Ingress
	for i := range list.Items {
		c, err := OwnsIngress(ctx, l.Cache, &list.Items[i], l.Settings)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// ReferencesToInfraSetting lists the objects that name an AviInfraSetting
// (Services being deleted aside, as rules.Lookups says).
func (l *CacheLookups) ReferencesToInfraSetting(ctx context.Context, name string) ([]string, error) {
	var out []string
	var svcs corev1.ServiceList
	if err := l.Cache.List(ctx, &svcs, client.MatchingFields{IndexInfraSetting: name}); err != nil {
		return nil, err
	}
	for _, s := range svcs.Items {
		if s.DeletionTimestamp == nil {
			out = append(out, fmt.Sprintf("Service %s/%s", s.Namespace, s.Name))
		}
	}
	var nss corev1.NamespaceList
	if err := l.Cache.List(ctx, &nss, client.MatchingFields{IndexInfraSetting: name}); err != nil {
		return nil, err
	}
	for _, n := range nss.Items {
		out = append(out, "Namespace "+n.Name)
	}
	var classes networkingv1.IngressClassList
	if err := l.Cache.List(ctx, &classes, client.MatchingFields{IndexInfraSetting: name}); err != nil {
		return nil, err
	}
	for _, c := range classes.Items {
		out = append(out, "IngressClass "+c.Name)
	}
	return out, nil
}

// ServicesByAviName returns the Services claiming an Avi name (by rules.ClaimKey).
func (l *CacheLookups) ServicesByAviName(ctx context.Context, key string) ([]*corev1.Service, error) {
	return l.services(ctx, client.MatchingFields{IndexAviName: key})
}

// IngressesByAviName returns vipgate's Ingresses claiming an Avi name (by rules.ClaimKey).
func (l *CacheLookups) IngressesByAviName(ctx context.Context, key string) ([]*networkingv1.Ingress, error) {
	return l.ownedIngresses(ctx, client.MatchingFields{IndexAviName: key})
}

// HostRulesByHost returns the HostRules whose fqdn or an alias is host.
func (l *CacheLookups) HostRulesByHost(ctx context.Context, host string) ([]*v1beta1.HostRule, error) {
	var list v1beta1.HostRuleList
	if err := l.Cache.List(ctx, &list, client.MatchingFields{IndexRuleHost: host}); err != nil {
		return nil, err
	}
	out := make([]*v1beta1.HostRule, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// HTTPRulesByHost returns the HTTPRules of host.
func (l *CacheLookups) HTTPRulesByHost(ctx context.Context, host string) ([]*v1beta1.HTTPRule, error) {
	var list v1beta1.HTTPRuleList
	if err := l.Cache.List(ctx, &list, client.MatchingFields{IndexRuleHost: host}); err != nil {
		return nil, err
	}
	out := make([]*v1beta1.HTTPRule, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// L4Rule returns the named L4Rule from the cache, nil when there is none.
func (l *CacheLookups) L4Rule(ctx context.Context, namespace, name string) (*v1alpha2.L4Rule, error) {
	var r v1alpha2.L4Rule
	if err := l.Cache.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &r); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return &r, nil
}

// ServicesByL4Rule returns the Services naming the L4Rule key ("<ns>/<name>").
func (l *CacheLookups) ServicesByL4Rule(ctx context.Context, key string) ([]*corev1.Service, error) {
	return l.services(ctx, client.MatchingFields{IndexServiceL4Rule: key})
}
