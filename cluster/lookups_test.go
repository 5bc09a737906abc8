package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/vipgate/vipgate/ownership"
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
		out, err := ownership.TransformSecret(s.DeepCopy())
		if err != nil {
			t.Fatal(err)
		}
		return out.(*corev1.Secret)
	}
	cache := fake.NewClientBuilder().WithObjects(cached(good), cached(staleCached)).Build()
	api := &countingReader{Reader: fake.NewClientBuilder().WithObjects(good.DeepCopy(), renewedLive, newLive).Build()}
	l := &CacheLookups{Cache: cache, API: api}

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
		s, ok, err := l.TLSSecret(context.Background(), "ns", tt.name)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if ok != tt.found || api.gets != tt.wantGets {
			t.Errorf("%s: found=%v API gets=%d, want found=%v gets=%d", tt.name, ok, api.gets, tt.found, tt.wantGets)
		}
		if ok && s.Problem != "" {
			t.Errorf("%s: judged from a stale summary: %+v", tt.name, s)
		}
	}
}

// TestTLSSecretLiveFailureIsNotAbsence: when the confirming GET fails (RBAC,
// transport, deadline) the lookup says it could not tell; it never reports
// the Secret as missing, which would deny a valid Ingress.
func TestTLSSecretLiveFailureIsNotAbsence(t *testing.T) {
	cache := fake.NewClientBuilder().Build()
	api := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "web-tls", errors.New("RBAC: access denied"))
		},
	}).Build()
	l := &CacheLookups{Cache: cache, API: api}
	_, found, err := l.TLSSecret(context.Background(), "ns", "web-tls")
	if err == nil || found {
		t.Fatalf("found=%v err=%v, want an error (could not tell)", found, err)
	}
	if !strings.Contains(err.Error(), "ns/web-tls") {
		t.Errorf("error does not name the Secret: %v", err)
	}
}

// testPair is a self-signed certificate and its key, PEM-encoded.
func testPair(t *testing.T) (crt, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "web.example.com"},
		DNSNames: []string{"web.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
