package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func mustCA(t *testing.T, now time.Time, validity time.Duration) KeyPair {
	t.Helper()
	ca, err := NewCA("test-ca", now, validity)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func mustServing(t *testing.T, ca KeyPair, names []string, now time.Time, validity time.Duration) KeyPair {
	t.Helper()
	s, err := NewServing(ca, names, now, validity)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestChainVerifiesWithSANs(t *testing.T) {
	names := append(ServiceDNSNames("vipgate-webhook", "vipgate-system"), "127.0.0.1")
	ca := mustCA(t, t0, DefaultCAValidity)
	s := mustServing(t, ca, names, t0, DefaultServingValidity)

	if !ca.Cert.IsCA || ca.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatalf("CA certificate is not a signing CA")
	}
	wantDNS := []string{"vipgate-webhook.vipgate-system.svc", "vipgate-webhook.vipgate-system.svc.cluster.local"}
	if !slices.Equal(s.Cert.DNSNames, wantDNS) {
		t.Errorf("DNS SANs = %v, want %v", s.Cert.DNSNames, wantDNS)
	}
	if len(s.Cert.IPAddresses) != 1 || s.Cert.IPAddresses[0].String() != "127.0.0.1" {
		t.Errorf("IP SANs = %v, want [127.0.0.1]", s.Cert.IPAddresses)
	}
	if s.Cert.IsCA {
		t.Errorf("serving certificate must not be a CA")
	}
	pub, ok := s.Cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("serving key is not ECDSA P-256")
	}
	if err := Verify(ca.Cert, s.Cert, wantDNS, t0.Add(time.Hour)); err != nil {
		t.Errorf("chain does not verify: %v", err)
	}
	// The pair loads the way the webhook server loads it.
	if _, err := tls.X509KeyPair(s.CertPEM, s.KeyPEM); err != nil {
		t.Errorf("tls.X509KeyPair: %v", err)
	}
	// Another CA does not verify it, and a name it was not issued for fails.
	other := mustCA(t, t0, DefaultCAValidity)
	if err := Verify(other.Cert, s.Cert, wantDNS, t0); err == nil {
		t.Errorf("verified against an unrelated CA")
	}
	if err := Verify(ca.Cert, s.Cert, []string{"other.vipgate-system.svc"}, t0); err == nil {
		t.Errorf("verified for a name not on the certificate")
	}
	if s.Cert.NotAfter.Sub(t0) != DefaultServingValidity {
		t.Errorf("serving validity = %v, want %v", s.Cert.NotAfter.Sub(t0), DefaultServingValidity)
	}
}

func TestServingNeverOutlivesCA(t *testing.T) {
	ca := mustCA(t, t0, 24*time.Hour)
	s := mustServing(t, ca, []string{"a.b.svc"}, t0, 90*24*time.Hour)
	if !s.Cert.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Errorf("serving NotAfter %v, want capped at CA NotAfter %v", s.Cert.NotAfter, ca.Cert.NotAfter)
	}
}

func TestNeedsRenewalAtTwoThirds(t *testing.T) {
	ca := mustCA(t, t0, DefaultCAValidity)
	s := mustServing(t, ca, []string{"a.b.svc"}, t0, 90*24*time.Hour)
	renewAt := RenewalTime(s.Cert)
	lifetime := s.Cert.NotAfter.Sub(s.Cert.NotBefore)
	if got := s.Cert.NotAfter.Sub(renewAt); got != lifetime/3 {
		t.Errorf("renewal leaves %v, want a third of %v", got, lifetime)
	}
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{t0, false},
		{renewAt.Add(-time.Second), false},
		{renewAt, true},
		{s.Cert.NotAfter.Add(time.Hour), true},
		{s.Cert.NotBefore.Add(-time.Hour), true}, // not yet valid: clock went back or bad cert
	} {
		if got := NeedsRenewal(s.Cert, tc.at); got != tc.want {
			t.Errorf("NeedsRenewal at %v = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func secretData(ca, s KeyPair) map[string][]byte {
	return map[string][]byte{CACertKey: ca.CertPEM, CAKeyKey: ca.KeyPEM, TLSCertKey: s.CertPEM, TLSKeyKey: s.KeyPEM}
}

func TestDecide(t *testing.T) {
	names := ServiceDNSNames("svc", "ns")
	ca := mustCA(t, t0, 300*24*time.Hour)
	s := mustServing(t, ca, names, t0, 90*24*time.Hour)
	good := secretData(ca, s)
	otherCA := mustCA(t, t0, 300*24*time.Hour)
	foreign := mustServing(t, otherCA, names, t0, 90*24*time.Hour)
	wrongNames := mustServing(t, ca, ServiceDNSNames("old", "ns"), t0, 90*24*time.Hour)

	with := func(k string, v []byte) map[string][]byte {
		d := map[string][]byte{}
		for key, val := range good {
			d[key] = val
		}
		d[k] = v
		return d
	}
	for _, tc := range []struct {
		name          string
		data          map[string][]byte
		at            time.Time
		wantCA, wantS bool
	}{
		{"empty", nil, t0, true, true},
		{"fresh", good, t0.Add(time.Hour), false, false},
		{"serving before two thirds", good, t0.Add(59 * 24 * time.Hour), false, false},
		{"serving in last third", good, t0.Add(61 * 24 * time.Hour), false, true},
		{"serving expired", good, t0.Add(91 * 24 * time.Hour), false, true},
		{"CA in last third", good, t0.Add(201 * 24 * time.Hour), true, true},
		{"CA key missing", with(CAKeyKey, nil), t0, true, true},
		{"CA key of another CA", with(CAKeyKey, otherCA.KeyPEM), t0, true, true},
		{"CA cert is not a CA", with(CACertKey, s.CertPEM), t0, true, true},
		{"serving signed by another CA", with(TLSCertKey, foreign.CertPEM), t0, false, true},
		{"serving key mismatch", with(TLSKeyKey, foreign.KeyPEM), t0, false, true},
		{"serving for other names", map[string][]byte{CACertKey: ca.CertPEM, CAKeyKey: ca.KeyPEM, TLSCertKey: wrongNames.CertPEM, TLSKeyKey: wrongNames.KeyPEM}, t0, false, true},
		{"serving garbage", with(TLSCertKey, []byte("not pem")), t0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(tc.data, names, tc.at)
			if p.NewCA != tc.wantCA || p.NewServing != tc.wantS {
				t.Errorf("Decide = %+v, want NewCA=%v NewServing=%v", p, tc.wantCA, tc.wantS)
			}
			if p.Needed() && p.Reason == "" {
				t.Errorf("a plan without a reason")
			}
			assertNoKeyMaterial(t, p.Reason, ca, s, otherCA, foreign)
		})
	}
}

func TestIssueRotatesCAKeepingPreviousInBundle(t *testing.T) {
	names := ServiceDNSNames("svc", "ns")
	data, err := Issue(nil, Plan{NewCA: true, NewServing: true}, "ca", names, t0, 300*24*time.Hour, 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if p := Decide(data, names, t0); p.Needed() {
		t.Fatalf("freshly issued data needs %+v", p)
	}
	if _, ok := data[PreviousCAKey]; ok {
		t.Errorf("first CA has a previous CA")
	}
	if n := countCerts(t, CABundle(data, t0)); n != 1 {
		t.Errorf("bundle has %d certificates, want 1", n)
	}

	// Serving-only rotation keeps the CA.
	later := t0.Add(61 * 24 * time.Hour)
	rotated, err := Issue(data, Decide(data, names, later), "ca", names, later, 300*24*time.Hour, 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rotated[CACertKey], data[CACertKey]) || bytes.Equal(rotated[TLSCertKey], data[TLSCertKey]) {
		t.Errorf("serving rotation must keep the CA and replace the serving certificate")
	}

	// CA rotation moves the old CA to ca-previous.crt; the bundle trusts both until the old one expires.
	caDue := t0.Add(201 * 24 * time.Hour)
	plan := Decide(rotated, names, caDue)
	if !plan.NewCA {
		t.Fatalf("CA rotation not planned: %+v", plan)
	}
	next, err := Issue(rotated, plan, "ca", names, caDue, 300*24*time.Hour, 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(next[PreviousCAKey], rotated[CACertKey]) {
		t.Errorf("old CA not kept as %s", PreviousCAKey)
	}
	if n := countCerts(t, CABundle(next, caDue)); n != 2 {
		t.Errorf("bundle during CA rotation has %d certificates, want 2", n)
	}
	if n := countCerts(t, CABundle(next, t0.Add(301*24*time.Hour))); n != 1 {
		t.Errorf("bundle after the old CA expired has %d certificates, want 1", n)
	}
	newCA, _ := ParseKeyPair("CA", next[CACertKey], next[CAKeyKey])
	newServing, _ := ParseKeyPair("serving", next[TLSCertKey], next[TLSKeyKey])
	if err := Verify(newCA.Cert, newServing.Cert, names, caDue); err != nil {
		t.Errorf("new serving certificate is not signed by the new CA: %v", err)
	}
	if at, ok := NextCheck(next); !ok || !at.Equal(RenewalTime(newServing.Cert)) {
		t.Errorf("NextCheck = %v, want serving renewal %v", at, RenewalTime(newServing.Cert))
	}
}

func TestWriteDirCertManagerLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "webhook-certs")
	ca := mustCA(t, t0, DefaultCAValidity)
	s := mustServing(t, ca, []string{"a.b.svc"}, t0, DefaultServingValidity)
	if err := WriteDir(dir, ca.CertPEM, s); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"ca.crt", "tls.crt", "tls.key"}; !slices.Equal(names, want) {
		t.Errorf("files = %v, want %v", names, want)
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")); err != nil {
		t.Errorf("webhook server could not load the pair: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "tls.key")); fi.Mode().Perm() != 0o600 {
		t.Errorf("tls.key mode = %v, want 0600", fi.Mode().Perm())
	}
	// Writing again with new content replaces the files.
	s2 := mustServing(t, ca, []string{"a.b.svc"}, t0, DefaultServingValidity)
	if err := WriteDir(dir, ca.CertPEM, s2); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "tls.crt"))
	if !bytes.Equal(got, s2.CertPEM) {
		t.Errorf("tls.crt not replaced")
	}
}

func TestKeysNeverPrinted(t *testing.T) {
	ca := mustCA(t, t0, DefaultCAValidity)
	s := mustServing(t, ca, []string{"a.b.svc"}, t0, DefaultServingValidity)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), fmt.Sprint(ca)} {
		assertNoKeyMaterial(t, out, ca, s)
	}
	other := mustCA(t, t0, DefaultCAValidity)
	_, err := ParseKeyPair("serving", s.CertPEM, other.KeyPEM)
	if err == nil {
		t.Fatal("mismatched key accepted")
	}
	assertNoKeyMaterial(t, err.Error(), ca, s, other)
	_, err = ParseKeyPair("serving", s.CertPEM, []byte("-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END EC PRIVATE KEY-----\n"))
	if err == nil || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("bad key error leaks or is nil: %v", err)
	}
}

func assertNoKeyMaterial(t *testing.T, s string, pairs ...KeyPair) {
	t.Helper()
	if strings.Contains(s, "PRIVATE KEY") {
		t.Errorf("output contains a PEM private key marker: %q", s)
	}
	for _, p := range pairs {
		body := strings.Split(string(p.KeyPEM), "\n")
		if len(body) > 1 && len(body[1]) > 16 && strings.Contains(s, body[1][:16]) {
			t.Errorf("output contains private key bytes")
		}
	}
}

func countCerts(t *testing.T, bundle []byte) int {
	t.Helper()
	certs, err := ParseCertificates(bundle)
	if err != nil {
		t.Fatal(err)
	}
	return len(certs)
}
