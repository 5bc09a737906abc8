package install

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/vipgate/vipgate/certs"
)

// issueServing makes a serving certificate for the test webhook address.
func issueServing(t *testing.T, ca certs.KeyPair) certs.KeyPair {
	t.Helper()
	s, err := certs.NewServing(ca, servingNames(), time.Now(), certs.DefaultServingValidity)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newCA(t *testing.T, name string) certs.KeyPair {
	t.Helper()
	ca, err := certs.NewCA(name, time.Now(), certs.DefaultCAValidity)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func bundleOf(cas ...certs.KeyPair) []byte {
	var b []byte
	for _, ca := range cas {
		b = append(b, bytes.TrimRight(ca.CertPEM, "\n")...)
		b = append(b, '\n')
	}
	return b
}

// TestServingCertRotationUnderLoad serves vipgate's webhooks with a chain made
// by the certs package, laid out as a mounted cert-manager Secret, and
// replaces the serving certificate (same CA) several times while goroutines
// keep sending Services through the API server: every request must get
// vipgate's answer (denied with the rule book's message, or admitted), none a
// TLS or connection error, and each new certificate must be served.
func TestServingCertRotationUnderLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "webhook-certs")
	ca := newCA(t, "vipgate-install-ca")
	serving := issueServing(t, ca)
	if err := certs.WriteDir(dir, ca.CertPEM, serving); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restoreConfigurations(t) })
	setCABundle(t, ca.CertPEM)
	startVipgateWithCerts(t, dir, ca.CertPEM)
	waitServed(t, serving.Cert, ca.CertPEM)

	l := startLoad(t, 4)
	l.flow(t, 60)
	const rotations = 5
	for i := 1; i <= rotations; i++ {
		next := issueServing(t, ca)
		if err := certs.WriteDir(dir, ca.CertPEM, next); err != nil {
			t.Fatal(err)
		}
		waitServed(t, next.Cert, ca.CertPEM)
		t.Logf("rotation %d: serving serial %x after %d requests", i, next.Cert.SerialNumber, l.total())
		l.flow(t, 60)
	}
	l.finish(t)
}

// TestCARotationUnderLoad rotates the CA the way cert-manager's CA issuer and
// cainjector (or the self-managed Manager) must: trust the new CA next to the
// old one, then serve a certificate from the new CA, then drop the old CA,
// while the admission load runs. No request may fail at any step.
func TestCARotationUnderLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "webhook-certs")
	oldCA := newCA(t, "vipgate-install-ca-1")
	serving := issueServing(t, oldCA)
	if err := certs.WriteDir(dir, oldCA.CertPEM, serving); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restoreConfigurations(t) })
	setCABundle(t, oldCA.CertPEM)
	startVipgateWithCerts(t, dir, oldCA.CertPEM)
	waitServed(t, serving.Cert, oldCA.CertPEM)

	l := startLoad(t, 4)
	l.flow(t, 60)

	// 1. The API server trusts both CAs.
	newCA := newCA(t, "vipgate-install-ca-2")
	both := bundleOf(oldCA, newCA)
	setCABundle(t, both)
	t.Logf("caBundle old+new in use after %d requests", l.total())
	l.flow(t, 60)

	// 2. The webhook serves a certificate from the new CA.
	next := issueServing(t, newCA)
	if err := certs.WriteDir(dir, both, next); err != nil {
		t.Fatal(err)
	}
	waitServed(t, next.Cert, newCA.CertPEM)
	t.Logf("serving from the new CA after %d requests", l.total())
	l.flow(t, 60)

	// 3. The old CA is dropped.
	setCABundle(t, newCA.CertPEM)
	t.Logf("caBundle new only in use after %d requests", l.total())
	l.flow(t, 60)

	// A certificate from the old CA would now be refused: the rotation really
	// moved trust (checked on a fresh dial, not through the API server).
	if _, err := servedCert(oldCA.CertPEM); err == nil {
		t.Errorf("the webhook still presents a certificate the old CA verifies")
	}
	l.finish(t)
}
