package ownership

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testPair(t *testing.T) (crt, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shop.example.com"},
		DNSNames: []string{"shop.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// noKeyMaterial fails if the cached copy, as JSON, holds any of data's values.
func noKeyMaterial(t *testing.T, sec *corev1.Secret, data map[string][]byte) {
	t.Helper()
	raw, err := json.Marshal(sec)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range data {
		if strings.Contains(string(raw), base64.StdEncoding.EncodeToString(v)) || strings.Contains(string(raw), string(v)) {
			t.Errorf("cached Secret still holds %s: %s", k, raw)
		}
	}
	if strings.Contains(string(raw), "PRIVATE KEY") {
		t.Errorf("cached Secret holds a PEM key: %s", raw)
	}
}

func TestTransformSecretTLS(t *testing.T) {
	crt, key := testPair(t)
	data := map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "shop-tls", ResourceVersion: "7",
			Annotations: map[string]string{
				"team":                             "shop",
				corev1.LastAppliedConfigAnnotation: `{"data":{"tls.key":"` + base64.StdEncoding.EncodeToString(key) + `"}}`,
				AnnTLSSummary:                      `{"type":"kubernetes.io/tls","hasCert":true,"hasKey":true}`, // forged
			},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
		StringData: map[string]string{"extra": "x"},
	}
	want := SummarizeTLSSecret(sec)

	out, err := TransformSecret(sec)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.Secret)
	if got.Data != nil || got.StringData != nil || got.ManagedFields != nil {
		t.Fatalf("transform kept data, stringData or managedFields: %+v", got)
	}
	if _, ok := got.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
		t.Fatal("transform kept the last-applied annotation (it holds the data)")
	}
	if got.Annotations["team"] != "shop" || got.ResourceVersion != "7" || got.Type != corev1.SecretTypeTLS {
		t.Fatalf("transform lost metadata: %+v", got.ObjectMeta)
	}
	if !strings.HasPrefix(got.Annotations[AnnTLSSummary], summaryNonce) {
		t.Fatalf("summary annotation missing or not ours: %q", got.Annotations[AnnTLSSummary])
	}
	if s := TLSSummaryOf(got); !reflect.DeepEqual(s, want) || !s.HasCert || !s.HasKey || s.Problem != "" {
		t.Fatalf("summary\n got %+v\nwant %+v", s, want)
	}
	noKeyMaterial(t, got, data)

	// Idempotent: an already transformed Secret (watch-list sync) keeps its summary.
	before := got.DeepCopy()
	again, err := TransformSecret(got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, before) {
		t.Fatalf("second transform changed the Secret:\n%+v\n%+v", again, before)
	}
}

func TestTransformSecretOpaque(t *testing.T) {
	data := map[string][]byte{"password": []byte("hunter2-hunter2")}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "db"}, Type: corev1.SecretTypeOpaque, Data: data}
	out, _ := TransformSecret(sec)
	got := out.(*corev1.Secret)
	if got.Data != nil || got.Annotations != nil {
		t.Fatalf("an Opaque Secret must keep metadata only: %+v", got)
	}
	noKeyMaterial(t, got, data)
	if s := TLSSummaryOf(got); !reflect.DeepEqual(s, TLSSecretSummary{Type: corev1.SecretTypeOpaque}) {
		t.Fatalf("summary of a Secret without TLS keys: %+v", s)
	}

	// A summary a user wrote on the API server is never trusted, even on a
	// Secret without data (which the transform cannot tell from its own output
	// but by the process nonce).
	forged := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "f",
		Annotations: map[string]string{AnnTLSSummary: `{"type":"kubernetes.io/tls","hasCert":true,"hasKey":true,"notAfter":"2999-01-01T00:00:00Z"}`}},
		Type: corev1.SecretTypeOpaque}
	out, _ = TransformSecret(forged)
	if a := out.(*corev1.Secret).Annotations; a != nil {
		t.Fatalf("forged summary kept: %v", a)
	}
	if s := TLSSummaryOf(forged); s.HasCert || s.Type != corev1.SecretTypeOpaque {
		t.Fatalf("forged summary read: %+v", s)
	}

	// An Opaque Secret holding tls.crt/tls.key is summarized (the rule book
	// then names its wrong type), and its data dropped all the same.
	crt, key := testPair(t)
	tlsData := map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}
	op := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "o"}, Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}}
	out, _ = TransformSecret(op)
	got = out.(*corev1.Secret)
	if got.Data != nil {
		t.Fatal("data kept")
	}
	noKeyMaterial(t, got, tlsData)
	if s := TLSSummaryOf(got); s.Type != corev1.SecretTypeOpaque || !s.HasCert || !s.HasKey {
		t.Fatalf("summary of an Opaque Secret with TLS keys: %+v", s)
	}
}

func TestTransformSecretPassesOtherObjects(t *testing.T) {
	cm := &corev1.ConfigMap{Data: map[string]string{"a": "b"}}
	out, err := TransformSecret(cm)
	if err != nil || out != any(cm) || cm.Data["a"] != "b" {
		t.Fatalf("a non-Secret must pass unchanged: %v %v", out, err)
	}
}
