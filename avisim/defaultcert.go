package avisim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/vmware/alb-sdk/go/models"
)

// fillDefaultCert gives System-Default-Cert a self-signed certificate and
// key, as every controller has one (made at install time), so SSL ports that
// name it (shared L7 parents) complete TLS handshakes for names no SNI child
// claims.
func fillDefaultCert(c *models.SSLKeyAndCertificate) error {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("avisim seed: System-Default-Cert: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return fmt.Errorf("avisim seed: System-Default-Cert: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "System Default Cert", Organization: []string{"avisim"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return fmt.Errorf("avisim seed: System-Default-Cert: %w", err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return fmt.Errorf("avisim seed: System-Default-Cert: %w", err)
	}
	c.Certificate = &models.SSLCertificate{Certificate: ptr(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))}
	c.Key = ptr(string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})))
	return nil
}
