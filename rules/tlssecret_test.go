package rules

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipgate/vipgate/ownership"
)

// TestSummarizeTLSSecret checks the summary the caches keep: it carries what
// the judge needs, survives a JSON round trip (the cache annotation) with the
// same verdict, and never contains certificate or key bytes.
func TestSummarizeTLSSecret(t *testing.T) {
	valid := newCert(t, "web.example.com", now.Add(-24*time.Hour), now.Add(90*24*time.Hour))
	other := newCert(t, "web.example.com", now.Add(-24*time.Hour), now.Add(90*24*time.Hour))
	opaque := tlsSecret("team-a", "opaque", valid.certPEM, valid.keyPEM)
	opaque.Type = corev1.SecretTypeOpaque

	tests := []struct {
		name string
		sec  *corev1.Secret
		want ownership.TLSSecretSummary
	}{
		{"valid", tlsSecret("team-a", "valid", valid.certPEM, valid.keyPEM), ownership.TLSSecretSummary{
			Type: corev1.SecretTypeTLS, HasCert: true, HasKey: true,
			NotBefore: now.Add(-24 * time.Hour).UTC(), NotAfter: now.Add(90 * 24 * time.Hour).UTC(), DNSNames: []string{"web.example.com"}}},
		{"mismatch", tlsSecret("team-a", "m", valid.certPEM, other.keyPEM), ownership.TLSSecretSummary{
			Type: corev1.SecretTypeTLS, HasCert: true, HasKey: true, Problem: ownership.TLSKeyMismatch,
			NotBefore: now.Add(-24 * time.Hour).UTC(), NotAfter: now.Add(90 * 24 * time.Hour).UTC(), DNSNames: []string{"web.example.com"}}},
		{"garbage key", tlsSecret("team-a", "g", valid.certPEM, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")), ownership.TLSSecretSummary{
			Type: corev1.SecretTypeTLS, HasCert: true, HasKey: true, Problem: ownership.TLSKeyNotPEM,
			NotBefore: now.Add(-24 * time.Hour).UTC(), NotAfter: now.Add(90 * 24 * time.Hour).UTC(), DNSNames: []string{"web.example.com"}}},
		{"garbage cert", tlsSecret("team-a", "g", []byte("not a certificate"), valid.keyPEM), ownership.TLSSecretSummary{
			Type: corev1.SecretTypeTLS, HasCert: true, HasKey: true, Problem: ownership.TLSCertNotPEM}},
		{"no key", tlsSecret("team-a", "n", valid.certPEM, nil), ownership.TLSSecretSummary{
			Type: corev1.SecretTypeTLS, HasCert: true,
			NotBefore: now.Add(-24 * time.Hour).UTC(), NotAfter: now.Add(90 * 24 * time.Hour).UTC(), DNSNames: []string{"web.example.com"}}},
		{"opaque", opaque, ownership.TLSSecretSummary{
			Type: corev1.SecretTypeOpaque, HasCert: true, HasKey: true,
			NotBefore: now.Add(-24 * time.Hour).UTC(), NotAfter: now.Add(90 * 24 * time.Hour).UTC(), DNSNames: []string{"web.example.com"}}},
		{"no data", &corev1.Secret{Type: corev1.SecretTypeOpaque}, ownership.TLSSecretSummary{Type: corev1.SecretTypeOpaque}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ownership.SummarizeTLSSecret(tt.sec)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("summary\n got %+v\nwant %+v", got, tt.want)
			}
			raw, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tt.sec.Data {
				if len(v) > 8 && (strings.Contains(string(raw), string(v)) || strings.Contains(string(raw), base64.StdEncoding.EncodeToString(v))) {
					t.Fatalf("summary JSON carries Secret data: %s", raw)
				}
			}
			if strings.Contains(string(raw), "BEGIN") {
				t.Fatalf("summary JSON carries PEM: %s", raw)
			}
			var back ownership.TLSSecretSummary
			if err := json.Unmarshal(raw, &back); err != nil {
				t.Fatal(err)
			}
			for _, at := range []time.Time{now, now.Add(100 * 24 * time.Hour), now.Add(-48 * time.Hour), now.Add(88 * 24 * time.Hour)} {
				p1, w1 := JudgeTLSSecret("team-a/x", got, at)
				p2, w2 := JudgeTLSSecret("team-a/x", back, at)
				if p1 != p2 || w1 != w2 {
					t.Fatalf("verdict changed by the JSON round trip (%s):\n%q %q\n%q %q", raw, p1, w1, p2, w2)
				}
			}
		})
	}
}

// TestJudgeTLSSecretOrder keeps the order of the original checks: a missing
// key is reported before an unparsable certificate.
func TestJudgeTLSSecretOrder(t *testing.T) {
	s := ownership.SummarizeTLSSecret(tlsSecret("team-a", "x", []byte("not a certificate"), nil))
	p, _ := JudgeTLSSecret("team-a/x", s, now)
	if want := "Secret team-a/x has no tls.key; put the PEM private key there"; p != want {
		t.Fatalf("got %q, want %q", p, want)
	}
	p, _ = JudgeTLSSecret("team-a/x", ownership.TLSSecretSummary{Type: corev1.SecretTypeTLS, HasCert: true, HasKey: true, Problem: "Unknown"}, now)
	if !strings.Contains(p, "could not be checked") {
		t.Fatalf("an unknown problem code must be refused, got %q", p)
	}
}
