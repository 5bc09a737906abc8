package cluster

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/ownership"
)

// Namespace reads a Namespace. One that does not exist (yet) comes back bare,
// with only its name, so the block list still applies and a required label
// is missing; an error means the read itself failed.
func Namespace(ctx context.Context, r client.Reader, name string) (*corev1.Namespace, error) {
	var ns corev1.Namespace
	if err := r.Get(ctx, types.NamespacedName{Name: name}, &ns); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, nil
		}
		return nil, err
	}
	return &ns, nil
}

// NamespaceSelected reads the Namespace only when settings can leave
// namespaces out, and applies ownership.NamespaceSelected.
func NamespaceSelected(ctx context.Context, r client.Reader, name string, s *config.Settings) (bool, error) {
	if !ownership.SelectsNamespaces(s) {
		return true, nil
	}
	ns, err := Namespace(ctx, r, name)
	if err != nil {
		return false, err
	}
	return ownership.NamespaceSelected(ns, s), nil
}

// IngressClasses lists every IngressClass.
func IngressClasses(ctx context.Context, r client.Reader) ([]networkingv1.IngressClass, error) {
	var list networkingv1.IngressClassList
	if err := r.List(ctx, &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// OwnsIngress returns the IngressClass through which vipgate owns ing, or nil
// when it does not: no class of vipgate's, or a namespace that
// namespaceSelector or blockedNamespaceList leaves out.
func OwnsIngress(ctx context.Context, r client.Reader, ing *networkingv1.Ingress, s *config.Settings) (*networkingv1.IngressClass, error) {
	classes, err := IngressClasses(ctx, r)
	if err != nil {
		return nil, err
	}
	c := ownership.IngressClassFor(ing, classes, s)
	if c == nil {
		return nil, nil
	}
	ok, err := NamespaceSelected(ctx, r, ing.Namespace, s)
	if err != nil || !ok {
		return nil, err
	}
	return c, nil
}
