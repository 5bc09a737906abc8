// Package ownership says what vipgate answers for, in one place that the
// admission webhooks, the reconcilers and the rule book all read: its
// loadBalancerClass and IngressClass controller, its finalizer, which
// Services, IngressClasses and Ingresses are vipgate's, which namespaces it
// serves and which Avi tenant a namespace's objects live in. It also holds
// the Secret cache transform, so no cache in vipgate ever keeps key material.
//
// Everything here is pure: plain Kubernetes objects and settings in, answers
// out. Cache reads live in package cluster.
package ownership

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

// AKO's names, which users already have in their manifests.
const (
	// LBClass is the loadBalancerClass and IngressClass controller vipgate
	// answers to (AKO's).
	LBClass = "ako.vmware.com/avi-lb"
	// AnnTenant on a Namespace places the controller objects of its Services
	// and Ingresses in that Avi tenant instead of ControllerSettings.tenantName.
	AnnTenant = "ako.vmware.com/tenant-name"
)

// CleanupFinalizer holds a Service or Ingress until vipgate has removed its
// controller objects. The mutating webhook adds it to Services at create, so
// the reconciler need not spend a write on it.
const CleanupFinalizer = "vipgate.ako.vmware.com/cleanup"

// OwnsService reports whether vipgate answers for svc: type LoadBalancer with
// class ako.vmware.com/avi-lb, or with no class when L4Settings.defaultLBController
// is true (AKO's rule), unless AKO's layer7Only leaves L4 to another load
// balancer. Namespace selection is separate (NamespaceSelected).
func OwnsService(svc *corev1.Service, s *config.Settings) bool {
	if svc == nil || svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return false
	}
	if s != nil && bool(s.AKOSettings.Layer7Only) {
		return false
	}
	if c := svc.Spec.LoadBalancerClass; c != nil {
		return *c == LBClass
	}
	return s != nil && bool(s.L4Settings.DefaultLBController)
}

// NamespaceSelected reports whether vipgate handles objects in ns: not listed
// in AKOSettings.blockedNamespaceList and, when AKOSettings.namespaceSelector
// names a label, carrying that label with that value. ns may be a bare
// Namespace with only the name set (not in the cache yet); it then matches
// only when no label is required. A nil ns matches only without a selector.
func NamespaceSelected(ns *corev1.Namespace, s *config.Settings) bool {
	if ns == nil || s == nil {
		return s == nil || s.AKOSettings.NamespaceSelector.LabelKey == ""
	}
	if slices.Contains(s.AKOSettings.BlockedNamespaceList, ns.Name) {
		return false
	}
	sel := s.AKOSettings.NamespaceSelector
	if sel.LabelKey == "" {
		return true
	}
	v, ok := ns.Labels[sel.LabelKey]
	return ok && v == sel.LabelValue
}

// SelectsNamespaces reports whether namespace selection can leave any
// namespace out; callers skip the Namespace read when it cannot.
func SelectsNamespaces(s *config.Settings) bool {
	return s != nil && (s.AKOSettings.NamespaceSelector.LabelKey != "" || len(s.AKOSettings.BlockedNamespaceList) > 0)
}

// TenantFor is the Avi tenant for objects of namespace ns: its
// ako.vmware.com/tenant-name annotation, else ControllerSettings.tenantName.
// ns may be nil (not found).
func TenantFor(ns *corev1.Namespace, s *config.Settings) string {
	if ns != nil {
		if t := ns.Annotations[AnnTenant]; t != "" {
			return t
		}
	}
	return s.ControllerSettings.TenantName
}

// IngressClassFor returns the IngressClass through which vipgate owns ing, or
// nil when ing is not vipgate's. An Ingress is vipgate's when the class it
// names has spec.controller ako.vmware.com/avi-lb, or when it names no class,
// L7Settings.defaultIngController is on and a class of vipgate's carries
// ingressclass.kubernetes.io/is-default-class: "true" (the first by name when
// several do). Namespace selection is separate (NamespaceSelected).
func IngressClassFor(ing *networkingv1.Ingress, classes []networkingv1.IngressClass, s *config.Settings) *networkingv1.IngressClass {
	defaultIng := s == nil || bool(s.L7Settings.DefaultIngController)
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
		if defaultIng && c.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true" && (def == nil || c.Name < def.Name) {
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

// ClassNames lists the IngressClasses whose controller is vipgate's, sorted:
// what the Ingress webhook's match condition must route to it.
func ClassNames(classes []networkingv1.IngressClass) []string {
	var out []string
	for _, c := range classes {
		if c.Spec.Controller == LBClass {
			out = append(out, c.Name)
		}
	}
	slices.Sort(out)
	return out
}

// Owner identities, as vipgate writes them in the vipgate-owner marker of
// every controller object: the one Kubernetes owner whose objects they are.
// An object whose marker names another owner is never changed or deleted,
// and a Kubernetes object whose Avi name another owner holds is refused.
const (
	// OwnerL7 owns every L7 shard object. L7 names embed the host (and the
	// Ingress for pools), which the L7 plan gives to one Ingress at a time,
	// so shards may hand objects to each other; the marker still tells them
	// from any L4 object of the same name.
	OwnerL7 = "L7"
)

// ServiceOwner is the owner identity of a Service's objects.
func ServiceOwner(namespace, name string) string { return "Service/" + namespace + "/" + name }

// SharedVIPOwner is the owner identity of a shared-VIP group's objects.
func SharedVIPOwner(namespace, key string) string { return "SharedVIP/" + namespace + "/" + key }

// SplitOwner splits a Service or shared-VIP owner identity into its kind
// ("Service" or "SharedVIP"), namespace and name; ok is false for OwnerL7
// and anything else.
func SplitOwner(id string) (kind, namespace, name string, ok bool) {
	parts := strings.SplitN(id, "/", 3)
	if len(parts) != 3 || (parts[0] != "Service" && parts[0] != "SharedVIP") {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// OwnerOfService is the identity that owns svc's objects: its shared-VIP
// group when it has the annotation, else the Service itself.
func OwnerOfService(svc *corev1.Service) string {
	if key := svc.Annotations[AnnSharedVIP]; key != "" {
		return SharedVIPOwner(svc.Namespace, key)
	}
	return ServiceOwner(svc.Namespace, svc.Name)
}

// AnnSharedVIP groups Services of one namespace behind one virtual service (AKO's).
const AnnSharedVIP = "ako.vmware.com/enable-shared-vip"
