package webhooks

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// countingReader counts Gets, to show which lookups reach the API server.
type countingReader struct {
	client.Reader
	gets int
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.gets++
	return c.Reader.Get(ctx, key, obj, opts...)
}

// TestTLSSecretConfirmsDenialsLive: a usable Secret is judged from the cache
// alone; one the cache lacks (it lags a Secret applied with its Ingress) or
// holds unusable (just renewed) is read once from the API server before the
// rule book can deny on it.
func TestTLSSecretConfirmsDenialsLive(t *testing.T) {
	crt, key := testPair(t)
	good := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "good"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": crt, "tls.key": key}}
	renewedLive := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "renewed"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": crt, "tls.key": key}}
	staleCached := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "renewed"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": []byte("not pem"), "tls.key": key}}
	newLive := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "new"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": crt, "tls.key": key}}

	cached := func(s *corev1.Secret) *corev1.Secret {
		out, err := TransformSecret(s.DeepCopy())
		if err != nil {
			t.Fatal(err)
		}
		return out.(*corev1.Secret)
	}
	cache := fake.NewClientBuilder().WithObjects(cached(good), cached(staleCached)).Build()
	api := &countingReader{Reader: fake.NewClientBuilder().WithObjects(good.DeepCopy(), renewedLive, newLive).Build()}
	l := &CacheLookups{Cache: cache, API: api, Ctx: context.Background()}

	tests := []struct {
		name     string
		found    bool
		wantGets int
	}{
		{"good", true, 0},
		{"renewed", true, 1},
		{"new", true, 1},
		{"absent", false, 1},
	}
	for _, tt := range tests {
		api.gets = 0
		s, ok := l.TLSSecret("ns", tt.name)
		if ok != tt.found || api.gets != tt.wantGets {
			t.Errorf("%s: found=%v API gets=%d, want found=%v gets=%d", tt.name, ok, api.gets, tt.found, tt.wantGets)
		}
		if ok && s.Problem != "" {
			t.Errorf("%s: judged from a stale summary: %+v", tt.name, s)
		}
	}
}
