package ownership

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestTransformCached(t *testing.T) {
	managed := []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}
	tests := []struct {
		name    string
		in      client.Object
		wantAnn map[string]string
	}{
		{
			name: "Service: managedFields and last-applied dropped, other annotations kept",
			in: &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", ManagedFields: managed, Annotations: map[string]string{
				corev1.LastAppliedConfigAnnotation: `{"spec":{}}`, "ako.vmware.com/load-balancer-ip": "10.0.0.1"}}},
			wantAnn: map[string]string{"ako.vmware.com/load-balancer-ip": "10.0.0.1"},
		},
		{
			name: "Ingress with only last-applied: no annotation map left",
			in: &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "shop", ManagedFields: managed, Annotations: map[string]string{
				corev1.LastAppliedConfigAnnotation: `{}`}}},
			wantAnn: nil,
		},
		{
			name:    "object without either is unchanged",
			in:      &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", Labels: map[string]string{"a": "b"}}},
			wantAnn: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labels := tt.in.GetLabels()
			out, err := TransformCached(tt.in)
			if err != nil {
				t.Fatalf("TransformCached: %v", err)
			}
			o := out.(client.Object)
			if o.GetManagedFields() != nil {
				t.Errorf("managedFields = %v, want none", o.GetManagedFields())
			}
			if !reflect.DeepEqual(o.GetAnnotations(), tt.wantAnn) {
				t.Errorf("annotations = %v, want %v", o.GetAnnotations(), tt.wantAnn)
			}
			if !reflect.DeepEqual(o.GetLabels(), labels) {
				t.Errorf("labels = %v, want %v (unchanged)", o.GetLabels(), labels)
			}
			again, err := TransformCached(out)
			if err != nil || !reflect.DeepEqual(again, out) {
				t.Errorf("second TransformCached = %v, %v; want the same object (idempotent)", again, err)
			}
		})
	}
}

func TestTransformCachedSecretKeepsNoData(t *testing.T) {
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"password": []byte("x")}}
	out, err := TransformCached(sec)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(*corev1.Secret); got.Data != nil {
		t.Errorf("Secret data = %v, want none (TransformSecret applies)", got.Data)
	}
}

func TestTransformCachedPassesNonObjects(t *testing.T) {
	// A deleted-final-state-unknown tombstone is not an object: passed through.
	in := "not an object"
	out, err := TransformCached(in)
	if err != nil || out != in {
		t.Errorf("TransformCached(%q) = %v, %v; want it unchanged", in, out, err)
	}
}
