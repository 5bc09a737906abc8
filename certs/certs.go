// Package certs issues and rotates the webhook's serving certificate without
// cert-manager. It has two halves: pure helpers (create a CA and a serving
// certificate, decide when to rotate, write a cert-manager-shaped folder) that
// tests and the demo use directly, and a Manager that keeps the CA and serving
// certificate in a Secret, writes them for the webhook server's certwatcher and
// injects the CA into the webhook configurations.
//
// Private keys never appear in logs or error messages: errors name the key
// (e.g. "tls.key"), never its content.
package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// File and Secret key names, the ones cert-manager writes into a TLS Secret,
// so the same mount layout works with either issuer.
const (
	CACertKey  = "ca.crt"
	TLSCertKey = "tls.crt"
	TLSKeyKey  = "tls.key"
)

// Default lifetimes. The serving certificate is short-lived like cert-manager's
// default (90 days); the CA lives long enough that its rotation is rare.
const (
	DefaultCAValidity      = 5 * 365 * 24 * time.Hour
	DefaultServingValidity = 90 * 24 * time.Hour
)

// backdate keeps a freshly issued certificate valid on nodes whose clock is
// slightly behind ours.
const backdate = 5 * time.Minute

// KeyPair is a certificate with its private key, both PEM encoded. The
// parsed certificate is kept alongside for checks.
type KeyPair struct {
	CertPEM []byte
	KeyPEM  []byte
	Cert    *x509.Certificate
}

// String never prints the private key, so a KeyPair is safe in logs.
func (k KeyPair) String() string {
	if k.Cert == nil {
		return "KeyPair{<empty>}"
	}
	return fmt.Sprintf("KeyPair{subject: %q, notAfter: %s, key: <redacted>}", k.Cert.Subject.CommonName, k.Cert.NotAfter.UTC().Format(time.RFC3339))
}

// GoString keeps %#v from printing the private key too.
func (k KeyPair) GoString() string { return k.String() }

// NewCA creates a self-signed ECDSA P-256 CA valid from now for validity.
func NewCA(commonName string, now time.Time, validity time.Duration) (KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generating CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return KeyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("signing CA certificate: %w", err)
	}
	return encode(der, key)
}

// NewServing creates an ECDSA P-256 serving certificate for dnsNames (IP
// addresses among them become IP SANs), signed by ca. Its NotAfter never
// passes the CA's, since a certificate cannot outlive its issuer.
func NewServing(ca KeyPair, dnsNames []string, now time.Time, validity time.Duration) (KeyPair, error) {
	if len(dnsNames) == 0 {
		return KeyPair{}, errors.New("serving certificate needs at least one DNS name")
	}
	caKey, err := ca.privateKey()
	if err != nil {
		return KeyPair{}, fmt.Errorf("CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generating serving key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return KeyPair{}, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: dnsNames[0]},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range dnsNames {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, caKey)
	if err != nil {
		return KeyPair{}, fmt.Errorf("signing serving certificate: %w", err)
	}
	return encode(der, key)
}

// ServiceDNSNames are the names the API server uses to reach a Service:
// <svc>.<ns>.svc (what it dials) and the cluster.local form.
func ServiceDNSNames(service, namespace string) []string {
	return []string{
		fmt.Sprintf("%s.%s.svc", service, namespace),
		fmt.Sprintf("%s.%s.svc.cluster.local", service, namespace),
	}
}

// ParseKeyPair decodes a PEM certificate and key and checks they belong together.
// name says which pair it is in errors ("CA", "serving").
func ParseKeyPair(name string, certPEM, keyPEM []byte) (KeyPair, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return KeyPair{}, fmt.Errorf("%s certificate: %w", name, err)
	}
	kp := KeyPair{CertPEM: certPEM, KeyPEM: keyPEM, Cert: cert}
	key, err := kp.privateKey()
	if err != nil {
		return KeyPair{}, fmt.Errorf("%s: %w", name, err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return KeyPair{}, fmt.Errorf("%s: private key does not match certificate", name)
	}
	return kp, nil
}

// ParseCertificates decodes every CERTIFICATE block of a PEM bundle.
func ParseCertificates(bundle []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := bundle; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return out, nil
}

// Verify checks that serving chains to ca and is valid for every name at now.
func Verify(ca, serving *x509.Certificate, names []string, now time.Time) error {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, n := range names {
		if _, err := serving.Verify(x509.VerifyOptions{
			DNSName: n, Roots: pool, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}); err != nil {
			return fmt.Errorf("serving certificate for %s: %w", n, err)
		}
	}
	return nil
}

// WriteDir writes ca.crt, tls.crt and tls.key into dir, the layout of a
// mounted cert-manager Secret, so the webhook server reads the same files
// whichever issued them. Each file is replaced atomically (write to a
// temporary file, rename) so certwatcher never reads a half-written pair;
// unchanged files are left alone so no reload is triggered for nothing.
func WriteDir(dir string, caPEM []byte, serving KeyPair) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating cert dir: %w", err)
	}
	// Key before certificate: certwatcher reloads on the certificate's change
	// and then needs the matching key already in place.
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{TLSKeyKey, serving.KeyPEM, 0o600},
		{TLSCertKey, serving.CertPEM, 0o644},
		{CACertKey, caPEM, 0o644},
	} {
		if err := writeIfChanged(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

func writeIfChanged(path string, data []byte, mode os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	return nil
}

// NeedsRenewal reports whether a certificate has less than a third of its
// validity left at now (cert-manager's default renewBefore ratio), or is not
// yet valid. Renewing at two thirds leaves a long window to retry failures.
func NeedsRenewal(c *x509.Certificate, now time.Time) bool {
	return !now.Before(RenewalTime(c)) || now.Before(c.NotBefore)
}

// RenewalTime is when c enters its last third of validity.
func RenewalTime(c *x509.Certificate) time.Time {
	lifetime := c.NotAfter.Sub(c.NotBefore)
	return c.NotAfter.Add(-lifetime / 3)
}

func (k KeyPair) privateKey() (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(k.KeyPEM)
	if block == nil {
		return nil, errors.New("private key: no PEM block found")
	}
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			// The parser's error text never contains key bytes, but keep ours generic anyway.
			return nil, errors.New("private key: not a valid EC key")
		}
		return key, nil
	case "PRIVATE KEY":
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("private key: not a valid PKCS#8 key")
		}
		ec, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			return nil, errors.New("private key: not an ECDSA key")
		}
		return ec, nil
	}
	return nil, fmt.Errorf("private key: unsupported PEM block type %q", block.Type)
}

func parseCert(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate found")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing: %w", err)
	}
	return c, nil
}

func encode(der []byte, key *ecdsa.PrivateKey) (KeyPair, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return KeyPair{}, fmt.Errorf("parsing new certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return KeyPair{}, errors.New("encoding private key failed")
	}
	return KeyPair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		// SEC 1 "EC PRIVATE KEY", what cert-manager writes for ECDSA by default.
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		Cert:   cert,
	}, nil
}

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	return serial, nil
}
