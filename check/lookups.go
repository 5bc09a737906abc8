package check

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// Set is a manifest set seen as the cluster the webhook would read from its
// caches: every object of the set exists, as created (no status, Services
// as vipgate's mutating webhook stores them). It implements rules.Lookups
// with the answers cluster.CacheLookups gives over the same objects, so the
// rule book judges an object against the rest of the set exactly as it
// judges it against a cluster.
type Set struct {
	settings   *config.Settings
	services   []*corev1.Service
	ingresses  []*networkingv1.Ingress
	classes    []networkingv1.IngressClass
	namespaces map[string]*corev1.Namespace
	infra      map[string]*v1beta1.AviInfraSetting
	secrets    map[string]ownership.TLSSecretSummary // by "ns/name"
	certs      map[string]bool                       // Certificates' "ns/secretName"

	// The cache's field indexes (cluster.SetupIndexes), so a set of
	// thousands of objects is checked in linear time.
	svcByVIP     map[string][]*corev1.Service
	svcByKey     map[string][]*corev1.Service // "ns/shared-VIP key"
	svcByAviName map[string][]*corev1.Service
	ingByHost    map[string][]*networkingv1.Ingress
	ingByAviName map[string][]*networkingv1.Ingress

	// HostRules, HTTPRules and L4Rules, with their indexes.
	ruleSet
}

var _ rules.Lookups = (*Set)(nil)

// NewSet builds the set from decoded objects (Object.Obj; others are
// ignored). extraClasses are IngressClasses assumed to exist besides those
// of the set (vipgate's, installed by the chart); a class of the set wins
// over one of the same name. Objects are copied: the caller's are not changed.
func NewSet(objs []Object, extraClasses []networkingv1.IngressClass, s *config.Settings) *Set {
	set := &Set{
		settings:   s,
		namespaces: map[string]*corev1.Namespace{},
		infra:      map[string]*v1beta1.AviInfraSetting{},
		secrets:    map[string]ownership.TLSSecretSummary{},
		certs:      map[string]bool{},
	}
	var services []*corev1.Service
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *corev1.Service:
			services = append(services, v)
		case *networkingv1.Ingress:
			c := v.DeepCopy()
			c.Status = networkingv1.IngressStatus{}
			c.DeletionTimestamp = nil
			set.ingresses = append(set.ingresses, c)
		case *networkingv1.IngressClass:
			set.classes = append(set.classes, *v.DeepCopy())
		case *corev1.Namespace:
			c := v.DeepCopy()
			c.Status = corev1.NamespaceStatus{}
			set.namespaces[c.Name] = c
		case *v1beta1.AviInfraSetting:
			c := v.DeepCopy()
			c.Status = v1beta1.AviInfraSettingStatus{}
			set.infra[c.Name] = c
		case *corev1.Secret:
			set.secrets[v.Namespace+"/"+v.Name] = ownership.SummarizeTLSSecret(asStored(v))
		case *Certificate:
			if v.SecretName != "" {
				set.certs[v.Namespace+"/"+v.SecretName] = true
			}
		default:
			set.addRule(o.Obj)
		}
	}
	for _, c := range extraClasses {
		if !slices.ContainsFunc(set.classes, func(x networkingv1.IngressClass) bool { return x.Name == c.Name }) {
			set.classes = append(set.classes, *c.DeepCopy())
		}
	}
	// Last: defaulting a Service depends on its Namespace's selection.
	for _, svc := range services {
		set.services = append(set.services, asCreated(svc, s, set))
	}
	set.index()
	return set
}

// index fills the field indexes with the values cluster.SetupIndexes
// extracts: requested and held addresses, shared-VIP keys, Avi names
// (claims with an empty cluster name, that is rules.ClaimKey) and hosts.
func (s *Set) index() {
	s.svcByVIP = map[string][]*corev1.Service{}
	s.svcByKey = map[string][]*corev1.Service{}
	s.svcByAviName = map[string][]*corev1.Service{}
	s.ingByHost = map[string][]*networkingv1.Ingress{}
	s.ingByAviName = map[string][]*networkingv1.Ingress{}
	s.indexRules(s.services)
	for _, svc := range s.services {
		for _, ip := range cluster.ServiceVIPs(svc) {
			s.svcByVIP[ip] = append(s.svcByVIP[ip], svc)
		}
		if key := svc.Annotations[rules.AnnSharedVIP]; key != "" {
			s.svcByKey[svc.Namespace+"/"+key] = append(s.svcByKey[svc.Namespace+"/"+key], svc)
		}
		for _, name := range claimNames(rules.ServiceClaims("", svc)) {
			s.svcByAviName[name] = append(s.svcByAviName[name], svc)
		}
	}
	for _, ing := range s.ingresses {
		var hosts []string
		for _, r := range ing.Spec.Rules {
			if r.Host != "" && !slices.Contains(hosts, r.Host) {
				hosts = append(hosts, r.Host)
				s.ingByHost[r.Host] = append(s.ingByHost[r.Host], ing)
			}
		}
		for _, name := range claimNames(rules.IngressClaims("", ing)) {
			s.ingByAviName[name] = append(s.ingByAviName[name], ing)
		}
	}
}

// claimNames are the distinct names of claims.
func claimNames(claims []rules.Claim) []string {
	var out []string
	for _, c := range claims {
		if !slices.Contains(out, c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

// asCreated is the Service as the cache would hold it after create: status
// dropped (the API server ignores it on create) and, for a Service vipgate
// judges, its requested address in canonical form, as the mutating webhook
// writes it (webhooks' serviceDefaulter).
func asCreated(svc *corev1.Service, s *config.Settings, set *Set) *corev1.Service {
	c := svc.DeepCopy()
	c.Status = corev1.ServiceStatus{}
	c.DeletionTimestamp = nil
	if !ownership.OwnsService(c, s) || !set.selected(c.Namespace) {
		return c
	}
	if ip, ok := rules.CanonicalIP(c.Spec.LoadBalancerIP); ok { //nolint:staticcheck // AKO's surface still uses the deprecated field.
		c.Spec.LoadBalancerIP = ip //nolint:staticcheck
	}
	if ip, ok := rules.CanonicalIP(c.Annotations[rules.AnnLoadBalancerIP]); ok {
		c.Annotations[rules.AnnLoadBalancerIP] = ip
	}
	return c
}

// asStored is the Secret as the API server stores it: stringData merged
// over data (kubectl users often write certificates there).
func asStored(sec *corev1.Secret) *corev1.Secret {
	if len(sec.StringData) == 0 {
		return sec
	}
	c := sec.DeepCopy()
	if c.Data == nil {
		c.Data = map[string][]byte{}
	}
	for k, v := range c.StringData {
		c.Data[k] = []byte(v)
	}
	c.StringData = nil
	return c
}

// selected applies namespace selection as the webhook's scope does: a
// Namespace missing from the set is a bare one (no labels).
func (s *Set) selected(namespace string) bool {
	if !ownership.SelectsNamespaces(s.settings) {
		return true
	}
	ns := s.namespaces[namespace]
	if ns == nil {
		ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	}
	return ownership.NamespaceSelected(ns, s.settings)
}

// ingressClass is the class through which vipgate owns ing (nil: not its own).
func (s *Set) ingressClass(ing *networkingv1.Ingress) *networkingv1.IngressClass {
	return ownership.IngressClassFor(ing, s.classes, s.settings)
}

// ownsIngress is cluster.OwnsIngress over the set.
func (s *Set) ownsIngress(ing *networkingv1.Ingress) bool {
	return s.ingressClass(ing) != nil && s.selected(ing.Namespace)
}

// setInfraStatus records the status the AviInfraSetting reconciler would
// write, so Services selecting it read it as they would in the cluster.
func (s *Set) setInfraStatus(name string, st v1beta1.AviInfraSettingStatus) {
	if ais := s.infra[name]; ais != nil {
		ais.Status = st
	}
}

// ServicesByVIP implements rules.Lookups (index cluster.IndexServiceVIP).
func (s *Set) ServicesByVIP(_ context.Context, ip string) ([]*corev1.Service, error) {
	return s.svcByVIP[ip], nil
}

// ServicesBySharedVIPKey implements rules.Lookups (index cluster.IndexServiceSharedKey).
func (s *Set) ServicesBySharedVIPKey(_ context.Context, namespace, key string) ([]*corev1.Service, error) {
	return s.svcByKey[namespace+"/"+key], nil
}

// AviInfraSetting implements rules.Lookups.
func (s *Set) AviInfraSetting(_ context.Context, name string) (*v1beta1.AviInfraSetting, error) {
	return s.infra[name], nil
}

// Namespace implements rules.Lookups.
func (s *Set) Namespace(_ context.Context, name string) (*corev1.Namespace, error) {
	return s.namespaces[name], nil
}

// TLSSecret implements rules.Lookups.
func (s *Set) TLSSecret(_ context.Context, namespace, name string) (ownership.TLSSecretSummary, bool, error) {
	sum, ok := s.secrets[namespace+"/"+name]
	return sum, ok, nil
}

// CertManagerCertificateForSecret implements rules.Lookups.
func (s *Set) CertManagerCertificateForSecret(_ context.Context, namespace, secretName string) (bool, error) {
	return s.certs[namespace+"/"+secretName], nil
}

// IngressesByHost implements rules.Lookups: vipgate's Ingresses routing host
// (index cluster.IndexIngressHost, filtered as cluster.OwnsIngress does).
func (s *Set) IngressesByHost(_ context.Context, host string) ([]*networkingv1.Ingress, error) {
	return s.owned(s.ingByHost[host]), nil
}

// owned keeps vipgate's Ingresses.
func (s *Set) owned(ings []*networkingv1.Ingress) []*networkingv1.Ingress {
	var out []*networkingv1.Ingress
	for _, ing := range ings {
		if s.ownsIngress(ing) {
			out = append(out, ing)
		}
	}
	return out
}

// ReferencesToInfraSetting implements rules.Lookups.
func (s *Set) ReferencesToInfraSetting(_ context.Context, name string) ([]string, error) {
	var out []string
	for _, svc := range s.services {
		if svc.Annotations[rules.AnnInfraSetting] == name && svc.DeletionTimestamp == nil {
			out = append(out, fmt.Sprintf("Service %s/%s", svc.Namespace, svc.Name))
		}
	}
	for _, ns := range s.namespaces {
		if ns.Annotations[rules.AnnInfraSetting] == name {
			out = append(out, "Namespace "+ns.Name)
		}
	}
	for i := range s.classes {
		if ownership.InfraSettingOfClass(&s.classes[i]) == name {
			out = append(out, "IngressClass "+s.classes[i].Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ServicesByAviName implements rules.Lookups (index cluster.IndexAviName:
// claims computed with an empty cluster name, which is rules.ClaimKey).
func (s *Set) ServicesByAviName(_ context.Context, key string) ([]*corev1.Service, error) {
	return s.svcByAviName[key], nil
}

// IngressesByAviName implements rules.Lookups (index cluster.IndexAviName,
// filtered as cluster.OwnsIngress does).
func (s *Set) IngressesByAviName(_ context.Context, key string) ([]*networkingv1.Ingress, error) {
	return s.owned(s.ingByAviName[key]), nil
}
