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
		// The stored serving certificate is still valid under the stored CA
		// certificate: it is kept until the new CA has propagated.
		{"CA key missing", with(CAKeyKey, nil), t0, true, false},
		{"CA key of another CA", with(CAKeyKey, otherCA.KeyPEM), t0, true, false},
		{"CA cert is not a CA", with(CACertKey, s.CertPEM), t0, true, true},
		{"serving signed by another CA", with(TLSCertKey, foreign.CertPEM), t0, false, true},
		{"serving key mismatch", with(TLSKeyKey, foreign.KeyPEM), t0, false, true},
		{"serving for other names", map[string][]byte{CACertKey: ca.CertPEM, CAKeyKey: ca.KeyPEM, TLSCertKey: wrongNames.CertPEM, TLSKeyKey: wrongNames.KeyPEM}, t0, false, true},
		{"serving garbage", with(TLSCertKey, []byte("not pem")), t0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(tc.data, names, tc.at, DefaultPropagationDelay)
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
	if p := Decide(data, names, t0, DefaultPropagationDelay); p.Needed() {
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
	rotated, err := Issue(data, Decide(data, names, later, DefaultPropagationDelay), "ca", names, later, 300*24*time.Hour, 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rotated[CACertKey], data[CACertKey]) || bytes.Equal(rotated[TLSCertKey], data[TLSCertKey]) {
		t.Errorf("serving rotation must keep the CA and replace the serving certificate")
	}

	// CA rotation moves the old CA to ca-previous.crt; the bundle trusts both
	// until the old one expires. The serving certificate (issued at day 61 for
	// 90 days) has expired by then, so it is replaced at once: there is no
	// trusted certificate to keep serving while the new CA propagates.
	caDue := t0.Add(201 * 24 * time.Hour)
	plan := Decide(rotated, names, caDue, DefaultPropagationDelay)
	if !plan.NewCA || !plan.NewServing {
		t.Fatalf("CA and serving rotation not planned: %+v", plan)
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
	if at, ok := NextCheck(next, DefaultPropagationDelay); !ok || !at.Equal(RenewalTime(newServing.Cert)) {
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

// TestCARotationWaitsForPropagation walks a CA rotation through Decide, Issue,
// CABundle and NextCheck while the serving certificate is still valid: the
// new CA only joins the bundle, the serving certificate moves to it once the
// bundle has been published for the propagation delay, and the old CA leaves
// the bundle when it expires.
func TestCARotationWaitsForPropagation(t *testing.T) {
	names := ServiceDNSNames("svc", "ns")
	const delay = 2 * time.Minute
	oldCA := mustCA(t, t0, 300*24*time.Hour)                                              // renewal due at day 200
	oldServing := mustServing(t, oldCA, names, t0.Add(190*24*time.Hour), 90*24*time.Hour) // valid to day 280
	data := secretData(oldCA, oldServing)
	data[CAPublishedAtKey] = fmtPublished(t0)

	caDue := t0.Add(201 * 24 * time.Hour)
	plan := Decide(data, names, caDue, delay)
	if !plan.NewCA || plan.NewServing {
		t.Fatalf("Decide at the CA's renewal = %+v, want a new CA and the serving certificate kept", plan)
	}
	step1, err := Issue(data, plan, "ca", names, caDue, 300*24*time.Hour, 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(step1[CACertKey], oldCA.CertPEM) || !bytes.Equal(step1[PreviousCAKey], oldCA.CertPEM) {
		t.Errorf("step 1: want a new CA with the old one as %s", PreviousCAKey)
	}
	if !bytes.Equal(step1[TLSCertKey], oldServing.CertPEM) || !bytes.Equal(step1[TLSKeyKey], oldServing.KeyPEM) {
		t.Errorf("step 1: the serving certificate changed before the new CA propagated")
	}
	if _, ok := step1[CAPublishedAtKey]; ok {
		t.Errorf("step 1: the new CA carries the old CA's publication time")
	}
	if n := countCerts(t, CABundle(step1, caDue)); n != 2 {
		t.Errorf("step 1: bundle has %d certificates, want old and new", n)
	}
	if !bytes.Equal(servingCA(step1), oldCA.CertPEM) {
		t.Errorf("step 1: the cert dir's ca.crt must stay the serving certificate's issuer")
	}
	// Until the Manager records the publication, nothing moves however late it is.
	if p := Decide(step1, names, caDue.Add(time.Hour), delay); p.Needed() {
		t.Errorf("unpublished new CA: Decide = %+v, want nothing", p)
	}
	newCA, err := ParseKeyPair("CA", step1[CACertKey], step1[CAKeyKey])
	if err != nil {
		t.Fatal(err)
	}
	if at, _ := NextCheck(step1, delay); !at.Equal(RenewalTime(newCA.Cert)) {
		t.Errorf("unpublished new CA: NextCheck = %v, want the new CA's renewal %v", at, RenewalTime(newCA.Cert))
	}

	step1[CAPublishedAtKey] = fmtPublished(caDue)
	if at, _ := NextCheck(step1, delay); !at.Equal(caDue.Add(delay)) {
		t.Errorf("published new CA: NextCheck = %v, want the end of the delay %v", at, caDue.Add(delay))
	}
	if p := Decide(step1, names, caDue.Add(delay-time.Second), delay); p.Needed() {
		t.Errorf("before the delay: Decide = %+v, want nothing", p)
	}
	plan = Decide(step1, names, caDue.Add(delay), delay)
	if plan.NewCA || !plan.NewServing {
		t.Fatalf("after the delay: Decide = %+v, want a new serving certificate only", plan)
	}
	moved := caDue.Add(delay)
	step2, err := Issue(step1, plan, "ca", names, moved, 300*24*time.Hour, 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	newServing, err := ParseKeyPair("serving", step2[TLSCertKey], step2[TLSKeyKey])
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(newCA.Cert, newServing.Cert, names, moved); err != nil {
		t.Errorf("step 2: serving certificate not from the new CA: %v", err)
	}
	if !bytes.Equal(servingCA(step2), step2[CACertKey]) {
		t.Errorf("step 2: the cert dir's ca.crt must be the new CA")
	}
	if p := Decide(step2, names, moved, delay); p.Needed() {
		t.Errorf("step 2 done: Decide = %+v, want nothing", p)
	}
	if at, _ := NextCheck(step2, delay); !at.Equal(RenewalTime(newServing.Cert)) {
		t.Errorf("step 2 done: NextCheck = %v, want the serving renewal %v", at, RenewalTime(newServing.Cert))
	}
	// Step 3: the old CA stays trusted until it expires, then leaves the bundle.
	if n := countCerts(t, CABundle(step2, oldCA.Cert.NotAfter.Add(-time.Second))); n != 2 {
		t.Errorf("before the old CA expires: bundle has %d certificates, want 2", n)
	}
	if cas, err := ParseCertificates(CABundle(step2, oldCA.Cert.NotAfter.Add(time.Second))); err != nil || len(cas) != 1 || !cas[0].Equal(newCA.Cert) {
		t.Errorf("after the old CA expired: bundle = %d certificates (err %v), want the new CA only", len(cas), err)
	}
}

// TestCARotationEdgeCases covers a pending move that meets an expired serving
// certificate, a serving certificate due for renewal, and another new CA.
func TestCARotationEdgeCases(t *testing.T) {
	names := ServiceDNSNames("svc", "ns")
	const delay = 2 * time.Minute
	oldCA := mustCA(t, t0, 300*24*time.Hour)
	oldServing := mustServing(t, oldCA, names, t0.Add(190*24*time.Hour), 90*24*time.Hour) // renew at day 250, expires day 280
	caDue := t0.Add(201 * 24 * time.Hour)
	pending, err := Issue(secretData(oldCA, oldServing), Plan{NewCA: true}, "ca", names, caDue, 300*24*time.Hour, 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("serving expired while waiting", func(t *testing.T) {
		// Nothing served is trusted any more: there is nothing to protect.
		d := clone(pending)
		at := t0.Add(281 * 24 * time.Hour)
		d[CAPublishedAtKey] = fmtPublished(at)
		if p := Decide(d, names, at, delay); p.NewCA || !p.NewServing {
			t.Errorf("Decide = %+v, want a new serving certificate at once", p)
		}
	})
	t.Run("serving due for renewal while waiting", func(t *testing.T) {
		// Past its renewal time but valid: it waits for the move, and the
		// next check is the end of the delay, not the (past) renewal time.
		d := clone(pending)
		at := t0.Add(260 * 24 * time.Hour)
		d[CAPublishedAtKey] = fmtPublished(at)
		if p := Decide(d, names, at, delay); p.Needed() {
			t.Errorf("Decide = %+v, want nothing before the delay", p)
		}
		if next, _ := NextCheck(d, delay); !next.Equal(at.Add(delay)) {
			t.Errorf("NextCheck = %v, want %v", next, at.Add(delay))
		}
	})
	t.Run("another new CA while waiting", func(t *testing.T) {
		// The CA key is lost before the move: the next CA keeps the serving
		// certificate's issuer (the old CA) in the bundle, not the CA that
		// never signed anything served.
		d := clone(pending)
		d[CAPublishedAtKey] = fmtPublished(caDue)
		delete(d, CAKeyKey)
		p := Decide(d, names, caDue, delay)
		if !p.NewCA || p.NewServing {
			t.Fatalf("Decide = %+v, want a new CA and the serving certificate kept", p)
		}
		next, err := Issue(d, p, "ca", names, caDue, 300*24*time.Hour, 90*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(next[PreviousCAKey], oldCA.CertPEM) || !bytes.Equal(next[TLSCertKey], oldServing.CertPEM) {
			t.Errorf("want the serving certificate kept with its issuer as %s", PreviousCAKey)
		}
		if bytes.Equal(next[CACertKey], pending[CACertKey]) {
			t.Errorf("CA not replaced")
		}
	})
	t.Run("plan keeping an unusable serving certificate", func(t *testing.T) {
		// Issue does not trust a hand-made plan to keep a certificate no
		// stored CA vouches for.
		d := clone(secretData(oldCA, oldServing))
		d[TLSCertKey] = []byte("garbage")
		next, err := Issue(d, Plan{NewCA: true}, "ca", names, caDue, 300*24*time.Hour, 90*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if p := Decide(next, names, caDue, delay); p.Needed() {
			t.Errorf("after Issue: Decide = %+v, want nothing", p)
		}
	})
}

func clone(d map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(d))
	for k, v := range d {
		out[k] = v
	}
	return out
}
