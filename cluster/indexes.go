// Package cluster reads the Kubernetes objects vipgate judges and reconciles
// from the manager's informer caches: the field indexes both admission and
// the reconcilers query (registered once, by SetupIndexes, before anything
// else), the rule book's Lookups over those caches, and the few shared reads
// (a Namespace, the IngressClasses, whether an Ingress is vipgate's). The
// webhooks and the reconcilers both import it; neither imports the other.
package cluster

import (
	"context"
	"fmt"
	"slices"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// Field index names on the manager's cache.
const (
	// IndexServiceVIP: Services by every address they request or hold (canonical form).
	IndexServiceVIP = "vipgate.vip"
	// IndexServiceSharedKey: Services by their shared-VIP key.
	IndexServiceSharedKey = "vipgate.sharedvip"
	// IndexInfraSetting: Services, Namespaces and IngressClasses by the AviInfraSetting they select.
	IndexInfraSetting = "vipgate.infrasetting"
	// IndexIngressHost: Ingresses by the hosts of spec.rules.
	IndexIngressHost = "vipgate.host"
	// IndexIngressSecret: Ingresses by "<ns>/<secret>" of their tls[] entries.
	IndexIngressSecret = "vipgate.ingress.secret"
	// IndexIngressBackend: Ingresses by "<ns>/<service>" of their backends.
	IndexIngressBackend = "vipgate.ingress.backend"
	// IndexIngressStatusIP: Ingresses by the addresses in status.loadBalancer.ingress.
	IndexIngressStatusIP = "vipgate.ingress.statusip"
	// IndexAviName: Services and Ingresses by the Avi names they will hold
	// (rules.ClaimKey of rules.ServiceClaims and rules.IngressClaims).
	IndexAviName = "vipgate.aviname"
	// IndexRuleHost: HostRules by spec.virtualhost.fqdn and aliases, HTTPRules by spec.fqdn.
	IndexRuleHost = "vipgate.rule.host"
	// IndexServiceL4Rule: Services by "<ns>/<name>" of the L4Rule they name (rules.L4RuleKey).
	IndexServiceL4Rule = "vipgate.l4rule"
	// IndexCertSecretName: cert-manager Certificates by spec.secretName
	// (registered lazily, when the CRD exists; see CacheLookups).
	IndexCertSecretName = "vipgate.secretname"
	// IndexSlicePod: EndpointSlices by the names of the pods their
	// endpoints point at (NodePortLocal: a pod's port mappings change its
	// Service's pools).
	IndexSlicePod = "vipgate.slice.pod"
)

// CertificateGVK is cert-manager's Certificate; its CRDs may or may not be installed.
var CertificateGVK = cmapi.SchemeGroupVersion.WithKind(cmapi.CertificateKind)

// SetupIndexes registers every field index vipgate queries. The operator
// calls it once, before the webhooks and reconcilers are set up; an error is
// fatal, since a missing index silently finds nothing.
func SetupIndexes(ctx context.Context, idx client.FieldIndexer) error {
	for _, ix := range []struct {
		obj     client.Object
		name    string
		extract client.IndexerFunc
	}{
		{&corev1.Service{}, IndexServiceVIP, func(o client.Object) []string { return ServiceVIPs(o.(*corev1.Service)) }},
		{&corev1.Service{}, IndexServiceSharedKey, annotation(rules.AnnSharedVIP)},
		{&corev1.Service{}, IndexInfraSetting, annotation(rules.AnnInfraSetting)},
		{&corev1.Namespace{}, IndexInfraSetting, annotation(rules.AnnInfraSetting)},
		{&networkingv1.IngressClass{}, IndexInfraSetting, func(o client.Object) []string {
			return nonEmpty(ownership.InfraSettingOfClass(o.(*networkingv1.IngressClass)))
		}},
		{&networkingv1.Ingress{}, IndexIngressHost, func(o client.Object) []string { return ingressHosts(o.(*networkingv1.Ingress)) }},
		{&networkingv1.Ingress{}, IndexIngressSecret, func(o client.Object) []string { return ingressSecrets(o.(*networkingv1.Ingress)) }},
		{&networkingv1.Ingress{}, IndexIngressBackend, func(o client.Object) []string { return ingressBackends(o.(*networkingv1.Ingress)) }},
		{&networkingv1.Ingress{}, IndexIngressStatusIP, func(o client.Object) []string { return ingressStatusIPs(o.(*networkingv1.Ingress)) }},
		{&corev1.Service{}, IndexAviName, func(o client.Object) []string { return claimKeys(rules.ServiceClaims("", o.(*corev1.Service))) }},
		{&networkingv1.Ingress{}, IndexAviName, func(o client.Object) []string { return claimKeys(rules.IngressClaims("", o.(*networkingv1.Ingress))) }},
		{&discoveryv1.EndpointSlice{}, IndexSlicePod, func(o client.Object) []string { return slicePods(o.(*discoveryv1.EndpointSlice)) }},
		{&v1beta1.HostRule{}, IndexRuleHost, func(o client.Object) []string { return HostRuleHosts(o.(*v1beta1.HostRule)) }},
		{&v1beta1.HTTPRule{}, IndexRuleHost, func(o client.Object) []string { return nonEmpty(o.(*v1beta1.HTTPRule).Spec.Fqdn) }},
		{&corev1.Service{}, IndexServiceL4Rule, func(o client.Object) []string { return nonEmpty(rules.L4RuleKey(o.(*corev1.Service))) }},
	} {
		if err := idx.IndexField(ctx, ix.obj, ix.name, ix.extract); err != nil {
			return fmt.Errorf("index %s on %T: %w", ix.name, ix.obj, err)
		}
	}
	return nil
}

func annotation(key string) client.IndexerFunc {
	return func(o client.Object) []string { return nonEmpty(o.GetAnnotations()[key]) }
}

// ServiceVIPs are the addresses a Service requests or holds, in canonical form.
func ServiceVIPs(svc *corev1.Service) []string {
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

// RulePatternKey indexes the HostRules whose FQDN is a pattern (fqdnType
// Wildcard or Contains), which the L7 reconciler matches against every
// host; no host name contains '~'.
const RulePatternKey = "~pattern"

// HostRuleHosts are the hosts a HostRule holds: its FQDN (as written,
// whatever its fqdnType) and its aliases, plus RulePatternKey for a pattern.
func HostRuleHosts(hr *v1beta1.HostRule) []string {
	vh := hr.Spec.VirtualHost
	out := nonEmpty(vh.Fqdn)
	if vh.FqdnType == v1beta1.FqdnTypeWildcard || vh.FqdnType == v1beta1.FqdnTypeContains {
		out = append(out, RulePatternKey)
	}
	for _, a := range vh.Aliases {
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
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

func ingressSecrets(ing *networkingv1.Ingress) []string {
	var out []string
	for _, t := range ing.Spec.TLS {
		if t.SecretName != "" {
			out = append(out, ing.Namespace+"/"+t.SecretName)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func ingressBackends(ing *networkingv1.Ingress) []string {
	var out []string
	if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil {
		out = append(out, ing.Namespace+"/"+b.Service.Name)
	}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			if p.Backend.Service != nil {
				out = append(out, ing.Namespace+"/"+p.Backend.Service.Name)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func ingressStatusIPs(ing *networkingv1.Ingress) []string {
	var out []string
	for _, e := range ing.Status.LoadBalancer.Ingress {
		if c, ok := rules.CanonicalIP(e.IP); ok && e.IP != "" {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// claimKeys are the index values of claims computed with an empty cluster
// name: what rules.ClaimKey gives for any cluster.
func claimKeys(claims []rules.Claim) []string {
	out := make([]string, 0, len(claims))
	for _, c := range claims {
		out = append(out, c.Name)
	}
	return out
}

// slicePods are the pods an EndpointSlice's endpoints point at.
func slicePods(sl *discoveryv1.EndpointSlice) []string {
	var out []string
	for _, ep := range sl.Endpoints {
		if r := ep.TargetRef; r != nil && r.Kind == "Pod" && r.Name != "" {
			out = append(out, r.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
