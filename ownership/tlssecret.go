package ownership

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TLSProblem names what makes a Secret's certificate or key unusable, as a
// fixed code: the summary must carry no key material and no crypto error text
// (which could quote it), so the judge turns the code into the user's message.
type TLSProblem string

// The problems SummarizeTLSSecret finds in tls.crt and tls.key.
const (
	// TLSCertNotPEM: tls.crt holds no parsable PEM CERTIFICATE block.
	TLSCertNotPEM TLSProblem = "CertificateNotPEM"
	// TLSKeyMismatch: tls.key parses but is not the certificate's key.
	TLSKeyMismatch TLSProblem = "KeyDoesNotMatch"
	// TLSKeyNotPEM: tls.key is not a PEM private key Go can parse.
	TLSKeyNotPEM TLSProblem = "KeyNotPEM"
)

// TLSSecretSummary is everything the rule book needs to judge a Secret as an
// Ingress certificate, and nothing more: no certificate or key bytes. Caches
// keep it instead of the Secret's data, so admission reads no key material
// and makes no API call. It is JSON-encodable for that purpose.
type TLSSecretSummary struct {
	// Type is the Secret's type ("" reads as Opaque).
	Type corev1.SecretType `json:"type,omitempty"`
	// HasCert and HasKey say tls.crt and tls.key are present and non-empty.
	HasCert bool `json:"hasCert,omitempty"`
	HasKey  bool `json:"hasKey,omitempty"`
	// Problem is set when both are present but unusable together.
	Problem TLSProblem `json:"problem,omitempty"`
	// NotBefore, NotAfter and DNSNames are the leaf certificate's (the first
	// CERTIFICATE block of tls.crt), when it parses.
	NotBefore time.Time `json:"notBefore,omitzero"`
	NotAfter  time.Time `json:"notAfter,omitzero"`
	DNSNames  []string  `json:"dnsNames,omitempty"`
}

// SummarizeTLSSecret extracts from sec what judging it as a server
// certificate needs. It is pure and safe on any Secret: one without tls.crt
// and tls.key yields only its type.
func SummarizeTLSSecret(sec *corev1.Secret) TLSSecretSummary {
	s := TLSSecretSummary{Type: sec.Type}
	crt, key := sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey]
	s.HasCert, s.HasKey = len(crt) > 0, len(key) > 0
	if !s.HasCert {
		return s
	}
	var leaf *x509.Certificate
	for rest := crt; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			leaf, _ = x509.ParseCertificate(block.Bytes)
			break
		}
	}
	if leaf == nil {
		s.Problem = TLSCertNotPEM
		return s
	}
	s.NotBefore, s.NotAfter = leaf.NotBefore.UTC(), leaf.NotAfter.UTC()
	if len(leaf.DNSNames) > 0 {
		s.DNSNames = append([]string(nil), leaf.DNSNames...)
	}
	if !s.HasKey {
		return s
	}
	if _, err := tls.X509KeyPair(crt, key); err != nil {
		// Only the kind of failure is kept; the error text is never quoted.
		if strings.Contains(err.Error(), "does not match") {
			s.Problem = TLSKeyMismatch
		} else {
			s.Problem = TLSKeyNotPEM
		}
	}
	return s
}
