package webhooks

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipgate/vipgate/rules"
)

// namespaceSelected reports whether vipgate handles objects in namespace
// (rules.NamespaceSelected over the cached Namespace): admission leaves the
// Services of other namespaces alone, as the reconciler does.
func (o *Options) namespaceSelected(namespace string) bool {
	s := o.Settings
	if s == nil || (s.AKOSettings.NamespaceSelector.LabelKey == "" && len(s.AKOSettings.BlockedNamespaceList) == 0) {
		return true
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if o.Lookups != nil {
		if got, ok := o.Lookups.Namespace(namespace); ok {
			ns = got
		}
	}
	return rules.NamespaceSelected(ns, s)
}
