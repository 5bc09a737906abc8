package reconcile

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// The cache holds TLS Secrets only: a Secret it lacks is read from the API
// server, so one of another type is judged by its type (not reported
// missing) and one created a moment ago is served at once.
func TestSecretStoreReadsWhatTheCacheLacks(t *testing.T) {
	secret := func(name string, typ corev1.SecretType) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}, Type: typ,
			Data: map[string][]byte{corev1.TLSCertKey: []byte("crt"), corev1.TLSPrivateKeyKey: []byte("key")}}
	}
	cachedTLS, newTLS, opaque := secret("cached", corev1.SecretTypeTLS), secret("new", corev1.SecretTypeTLS), secret("opaque", corev1.SecretTypeOpaque)
	build := func(objs ...client.Object) client.Client {
		return fake.NewClientBuilder().WithScheme(testScheme()).WithObjects(objs...).Build()
	}
	cache := build(cachedTLS.DeepCopy())
	api := build(cachedTLS.DeepCopy(), newTLS.DeepCopy(), opaque.DeepCopy())
	tests := []struct {
		name     string
		wantNil  bool
		wantType corev1.SecretType
		wantData bool
	}{
		{name: "cached", wantType: corev1.SecretTypeTLS, wantData: true},
		{name: "new", wantType: corev1.SecretTypeTLS, wantData: true},
		{name: "opaque", wantType: corev1.SecretTypeOpaque, wantData: false},
		{name: "missing", wantNil: true},
	}
	var s secretStore
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.get(context.Background(), cache, api, "shop", tt.name)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if tt.wantNil {
				if got != nil {
					t.Fatalf("get = %+v, want nil (no such Secret)", got)
				}
				return
			}
			if got == nil {
				t.Fatal("get = nil, want the Secret")
			}
			if got.summary.Type != tt.wantType {
				t.Errorf("summary type = %q, want %q", got.summary.Type, tt.wantType)
			}
			if hasData := got.data[corev1.TLSPrivateKeyKey] != nil; hasData != tt.wantData {
				t.Errorf("key material returned = %v, want %v", hasData, tt.wantData)
			}
		})
	}
	if len(s.got) != 1 || s.got["shop/cached"] == nil {
		t.Errorf("kept %v, want only shop/cached (what the cache versions)", keysOf(s.got))
	}
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
