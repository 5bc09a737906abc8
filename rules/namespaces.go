package rules

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipgate/vipgate/config"
)

// AnnTenant on a Namespace places the controller objects of its Services and
// Ingresses in that Avi tenant instead of ControllerSettings.tenantName (AKO's).
const AnnTenant = "ako.vmware.com/tenant-name"

// NamespaceSelected reports whether vipgate handles objects in ns:
// not listed in AKOSettings.blockedNamespaceList and, when
// AKOSettings.namespaceSelector names a label, carrying that label with that
// value. Services and Ingresses of an unselected namespace are not vipgate's:
// the Service and Ingress reconcilers both ask this one function, so the two
// never disagree. ns may be a bare Namespace with only the name set (not in
// the cache yet); it then matches only when no label is required.
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
