package chaos

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync/atomic"
	"time"
)

var serial atomic.Int64

// tlsPair makes a self-signed certificate for host and returns it and a
// private key, PEM-encoded: "valid" (90 days, its own key), "expired"
// (ended yesterday) or "mismatch" (another certificate's key).
func tlsPair(host, variant string) (crt, key []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	from, to := time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour)
	if variant == "expired" {
		from, to = time.Now().Add(-60*24*time.Hour), time.Now().Add(-24*time.Hour)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1000 + serial.Add(1)), Subject: pkix.Name{CommonName: host},
		DNSNames: []string{host}, NotBefore: from, NotAfter: to}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return nil, nil, err
	}
	if variant == "mismatch" {
		if k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, nil, err
		}
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), nil
}
