package webhooks

import (
	"context"
	"fmt"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"slices"
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
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/rules"
)

// Field index names on the manager's cache.
const (
	IndexServiceVIP       = "vipgate.vip"
	IndexServiceSharedKey = "vipgate.sharedvip"
	IndexIngressHost      = "vipgate.host"
	IndexInfraSetting     = "vipgate.infrasetting"
	IndexCertSecretName   = "vipgate.secretname"
)

// CertificateGVK is cert-manager's Certificate; its CRDs may or may not be installed.
var CertificateGVK = cmapi.SchemeGroupVersion.WithKind(cmapi.CertificateKind)

// SetupIndexes registers the field indexes the rule book's lookups read.
func SetupIndexes(ctx context.Context, idx client.FieldIndexer) error {
	if err := idx.IndexField(ctx, &corev1.Service{}, IndexServiceVIP, func(o client.Object) []string {
		return serviceVIPs(o.(*corev1.Service))
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &corev1.Service{}, IndexServiceSharedKey, func(o client.Object) []string {
		return nonEmpty(o.GetAnnotations()[rules.AnnSharedVIP])
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &corev1.Service{}, IndexInfraSetting, func(o client.Object) []string {
		return nonEmpty(o.GetAnnotations()[rules.AnnInfraSetting])
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &corev1.Namespace{}, IndexInfraSetting, func(o client.Object) []string {
		return nonEmpty(o.GetAnnotations()[rules.AnnInfraSetting])
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &networkingv1.IngressClass{}, IndexInfraSetting, func(o client.Object) []string {
		return nonEmpty(InfraSettingOfClass(o.(*networkingv1.IngressClass)))
	}); err != nil {
		return err
	}
	return idx.IndexField(ctx, &networkingv1.Ingress{}, IndexIngressHost, func(o client.Object) []string {
		return ingressHosts(o.(*networkingv1.Ingress))
	})
}

// serviceVIPs are the addresses a Service requests or holds, in canonical form.
func serviceVIPs(svc *corev1.Service) []string {
	var out []string
	if ip, _ := rules.RequestedIP(svc); ip != "" {
		if c, ok := rules.CanonicalIP(ip); ok {
			out = append(out, c)
		}
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if c, ok := rules.CanonicalIP(in.IP); ok && in.IP != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// ingressHosts are the hosts an Ingress routes.
func ingressHosts(ing *networkingv1.Ingress) []string {
	var out []string
	for _, r := range ing.Spec.Rules {
		if r.Host != "" && !slices.Contains(out, r.Host) {
			out = append(out, r.Host)
		}
	}
	return out
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// CacheLookups answers the rule book's questions from the manager's informer
// caches, with no API call: Secrets too are read from the cache, which holds
// their metadata and TLS summary (TransformSecret), never their data.
type CacheLookups struct {
	// Cache must be the manager's cache itself, not its client: the client
	// reads Secrets from the API server (it needs their data for certificates).
	Cache client.Reader
	// API reads one Secret from the API server to confirm a denial the cache
	// suggests (see TLSSecret); nil judges from the cache alone.
	API    client.Reader
	Mapper meta.RESTMapper
	// Informers lazily starts the cert-manager Certificate informer when the CRD exists.
	Informers cache.Informers
	Ctx       context.Context

	// Settings, when set, make IngressesByHost honour L7Settings.defaultIngController
	// for Ingresses without a class, exactly as the Ingress reconciler does.
	Settings *config.Settings

	certOnce   sync.Mutex
	certReady  bool
	certLookup bool
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
func NewCacheLookups(ctx context.Context, mgr manager.Manager) *CacheLookups {
	return &CacheLookups{Cache: mgr.GetCache(), API: mgr.GetAPIReader(), Mapper: mgr.GetRESTMapper(), Informers: mgr.GetCache(), Ctx: ctx}
}

func (l *CacheLookups) services(field, value string) []*corev1.Service {
	var list corev1.ServiceList
	if err := l.Cache.List(l.Ctx, &list, client.MatchingFields{field: value}); err != nil {
		return nil
	}
	out := make([]*corev1.Service, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out
}

// ServicesByVIP returns Services that request or hold ip.
func (l *CacheLookups) ServicesByVIP(ip string) []*corev1.Service {
	return l.services(IndexServiceVIP, ip)
}

// ServicesBySharedVIPKey returns the members of a shared-VIP group.
func (l *CacheLookups) ServicesBySharedVIPKey(namespace, key string) []*corev1.Service {
	var list corev1.ServiceList
	if err := l.Cache.List(l.Ctx, &list, client.InNamespace(namespace), client.MatchingFields{IndexServiceSharedKey: key}); err != nil {
		return nil
	}
	out := make([]*corev1.Service, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out
}

// AviInfraSetting returns the named setting from the cache.
func (l *CacheLookups) AviInfraSetting(name string) (*v1beta1.AviInfraSetting, bool) {
	var ais v1beta1.AviInfraSetting
	if err := l.Cache.Get(l.Ctx, types.NamespacedName{Name: name}, &ais); err != nil {
		return nil, false
	}
	return &ais, true
}

// Namespace returns the named Namespace from the cache.
func (l *CacheLookups) Namespace(name string) (*corev1.Namespace, bool) {
	var ns corev1.Namespace
	if err := l.Cache.Get(l.Ctx, types.NamespacedName{Name: name}, &ns); err != nil {
		return nil, false
	}
	return &ns, true
}

// TLSSecret reads the Secret from the cache, where TransformSecret left its
// metadata and TLS summary but no key material. It makes no API call: a Secret
// the cache does not hold does not exist, and an update reaches the summary
// through the informer, which transforms every new version.
func (l *CacheLookups) TLSSecret(namespace, name string) (rules.TLSSecretSummary, bool) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	var sec corev1.Secret
	if err := l.Cache.Get(l.Ctx, key, &sec); err == nil {
		if s := TLSSummaryOf(&sec); rules.TLSSecretUsable(s, time.Now()) || l.API == nil {
			return s, true
		}
	} else if l.API == nil {
		return rules.TLSSecretSummary{}, false
	}
	// The cache says missing or unusable. It lags the API server by a moment, so
	// a Secret applied together with its Ingress (kubectl apply -f dir/), or
	// just renewed, would be refused wrongly: confirm with one GET before the
	// rule book denies. Usable Secrets, the common case, never get here.
	var live corev1.Secret
	if err := l.API.Get(l.Ctx, key, &live); err != nil {
		return rules.TLSSecretSummary{}, false
	}
	return rules.SummarizeTLSSecret(&live), true
}

// CertManagerCertificateForSecret reports whether a cert-manager Certificate in
// namespace will write secretName. Without cert-manager's CRDs it is false.
func (l *CacheLookups) CertManagerCertificateForSecret(namespace, secretName string) bool {
	if !l.certificatesAvailable() {
		return false
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(CertificateGVK.GroupVersion().WithKind("CertificateList"))
	if err := l.Cache.List(l.Ctx, list, client.InNamespace(namespace), client.MatchingFields{IndexCertSecretName: secretName}); err != nil {
		return false
	}
	return len(list.Items) > 0
}

// certificatesAvailable starts the Certificate informer the first time the CRD
// is found, so vipgate works the same with or without cert-manager installed.
func (l *CacheLookups) certificatesAvailable() bool {
	l.certOnce.Lock()
	defer l.certOnce.Unlock()
	if l.certReady {
		return true
	}
	if l.Mapper == nil || l.Informers == nil {
		return false
	}
	if !l.certMissing.IsZero() && time.Since(l.certMissing) < certRecheck {
		return false
	}
	if _, err := l.Mapper.RESTMapping(CertificateGVK.GroupKind(), CertificateGVK.Version); err != nil {
		l.certMissing = time.Now()
		return false
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(CertificateGVK)
	if !l.certLookup {
		l.certLookup = true
		if err := l.Informers.IndexField(l.Ctx, u, IndexCertSecretName, func(o client.Object) []string {
			name, _, _ := unstructured.NestedString(o.(*unstructured.Unstructured).Object, "spec", "secretName")
			return nonEmpty(name)
		}); err != nil && !apierrors.IsAlreadyExists(err) {
			return false
		}
	}
	if _, err := l.Informers.GetInformer(l.Ctx, u, cache.BlockUntilSynced(true)); err != nil {
		return false
	}
	l.certReady = true
	return true
}

// IngressesByHost returns vipgate's Ingresses that route host.
func (l *CacheLookups) IngressesByHost(host string) []*networkingv1.Ingress {
	var list networkingv1.IngressList
	if err := l.Cache.List(l.Ctx, &list, client.MatchingFields{IndexIngressHost: host}); err != nil {
		return nil
	}
	var out []*networkingv1.Ingress
	for i := range list.Items {
		if l.ownsIngress(&list.Items[i]) {
			out = append(out, &list.Items[i])
		}
	}
	return out
}

func (l *CacheLookups) ownsIngress(ing *networkingv1.Ingress) bool {
	var classes networkingv1.IngressClassList
	if err := l.Cache.List(l.Ctx, &classes); err != nil {
		return false
	}
	return IngressClassFor(ing, classes.Items, l.Settings == nil || bool(l.Settings.L7Settings.DefaultIngController)) != nil
}

// IngressClassFor returns the IngressClass through which vipgate owns ing, or
// nil when ing is not vipgate's. An Ingress is vipgate's when the class it
// names has spec.controller ako.vmware.com/avi-lb, or when it names no class,
// defaultIngController is on and a class of vipgate's carries
// ingressclass.kubernetes.io/is-default-class: "true". Admission lookups and
// the Ingress reconciler share this one definition.
func IngressClassFor(ing *networkingv1.Ingress, classes []networkingv1.IngressClass, defaultIngController bool) *networkingv1.IngressClass {
	var def *networkingv1.IngressClass
	for i := range classes {
		c := &classes[i]
		if c.Spec.Controller != LBClass {
			continue
		}
		if ing.Spec.IngressClassName != nil {
			if *ing.Spec.IngressClassName == c.Name {
				return c
			}
			continue
		}
		if defaultIngController && c.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true" && (def == nil || c.Name < def.Name) {
			def = c
		}
	}
	return def
}

// InfraSettingOfClass names the AviInfraSetting an IngressClass's parameters
// point at (apiGroup ako.vmware.com, kind AviInfraSetting), or "".
func InfraSettingOfClass(c *networkingv1.IngressClass) string {
	p := c.Spec.Parameters
	if p != nil && p.APIGroup != nil && *p.APIGroup == v1beta1.GroupVersion.Group && p.Kind == "AviInfraSetting" {
		return p.Name
	}
	return ""
}

// ReferencesToInfraSetting lists the objects that name an AviInfraSetting.
func (l *CacheLookups) ReferencesToInfraSetting(name string) []string {
	var out []string
	var svcs corev1.ServiceList
	if err := l.Cache.List(l.Ctx, &svcs, client.MatchingFields{IndexInfraSetting: name}); err == nil {
		for _, s := range svcs.Items {
			out = append(out, fmt.Sprintf("Service %s/%s", s.Namespace, s.Name))
		}
	}
	var nss corev1.NamespaceList
	if err := l.Cache.List(l.Ctx, &nss, client.MatchingFields{IndexInfraSetting: name}); err == nil {
		for _, n := range nss.Items {
			out = append(out, "Namespace "+n.Name)
		}
	}
	var classes networkingv1.IngressClassList
	if err := l.Cache.List(l.Ctx, &classes, client.MatchingFields{IndexInfraSetting: name}); err == nil {
		for _, c := range classes.Items {
			out = append(out, "IngressClass "+c.Name)
		}
	}
	return out
}
