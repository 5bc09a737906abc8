package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vipgate/vipgate/avisim/dataplane/echo"
)

var certSerial atomic.Int64

// SelfSignedCert makes a self-signed ECDSA P-256 certificate for host, valid
// from an hour ago for 90 days, and returns it and its key PEM-encoded: what a
// TLS Secret holds. Serial numbers are unique within the process, so two
// certificates for one host are still told apart.
func SelfSignedCert(t testing.TB, host string) (crt, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(certSerial.Add(1)), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

// CertFingerprint is the SHA-256 of the certificate the server presented in
// r (zero when none): tests compare it with PEMFingerprint of the Secret's.
func CertFingerprint(r echo.Reply) [32]byte {
	if r.Cert == nil {
		return [32]byte{}
	}
	return sha256.Sum256(r.Cert.Raw)
}

// PEMFingerprint is the SHA-256 of the first certificate in p.
func PEMFingerprint(t testing.TB, p []byte) [32]byte {
	t.Helper()
	b, _ := pem.Decode(p)
	if b == nil {
		t.Fatal("certificate is not PEM")
	}
	return sha256.Sum256(b.Bytes)
}
