package rules

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipgate/vipgate/ownership"
)

// TLSSecretUsable reports whether the Secret summarized by s would pass the
// rule book as a server certificate at now (warnings allowed). A lookup that
// judges from a cache confirms a negative answer against the source before
// the rule book denies on it.
func TLSSecretUsable(s ownership.TLSSecretSummary, now time.Time) bool {
	problem, _ := JudgeTLSSecret("", s, now)
	return problem == ""
}

// JudgeTLSSecret says what makes the Secret summarized by s unusable as a
// server certificate (problem) or what the user should act on soon (warning).
// Messages name the Secret (ref) and the key in it, never key material.
func JudgeTLSSecret(ref string, s ownership.TLSSecretSummary, now time.Time) (problem, warning string) {
	if s.Type != corev1.SecretTypeTLS {
		typ := string(s.Type)
		if typ == "" {
			typ = string(corev1.SecretTypeOpaque)
		}
		return fmt.Sprintf("Secret %s is of type %s; it must be of type %s (kubectl create secret tls)", ref, typ, corev1.SecretTypeTLS), ""
	}
	if !s.HasCert {
		return fmt.Sprintf("Secret %s has no %s; put the PEM certificate chain there", ref, corev1.TLSCertKey), ""
	}
	if !s.HasKey {
		return fmt.Sprintf("Secret %s has no %s; put the PEM private key there", ref, corev1.TLSPrivateKeyKey), ""
	}
	if s.Problem == ownership.TLSCertNotPEM {
		return fmt.Sprintf("%s in Secret %s is not a PEM certificate; put the PEM certificate chain there", corev1.TLSCertKey, ref), ""
	}
	switch s.Problem {
	case ownership.TLSKeyMismatch:
		return fmt.Sprintf("the private key in %s of Secret %s does not match the certificate in %s; put the key the certificate was issued for",
			corev1.TLSPrivateKeyKey, ref, corev1.TLSCertKey), ""
	case ownership.TLSKeyNotPEM:
		return fmt.Sprintf("%s in Secret %s is not a PEM private key (PKCS#1, PKCS#8 or SEC 1); put the certificate's private key there", corev1.TLSPrivateKeyKey, ref), ""
	case "":
	default:
		// A summary from a newer or foreign writer: refuse rather than guess.
		return fmt.Sprintf("Secret %s could not be checked as a certificate; recreate it (kubectl create secret tls)", ref), ""
	}
	if now.After(s.NotAfter) {
		return fmt.Sprintf("the certificate in Secret %s expired on %s; renew it, or let cert-manager manage it",
			ref, s.NotAfter.UTC().Format(time.RFC3339)), ""
	}
	if now.Before(s.NotBefore) {
		return "", fmt.Sprintf("the certificate in Secret %s is not valid before %s; clients reject it until then",
			ref, s.NotBefore.UTC().Format(time.RFC3339))
	}
	if left := s.NotAfter.Sub(now); left < CertExpiryWarning {
		when := "in less than a day"
		if days := int(left / (24 * time.Hour)); days == 1 {
			when = "in 1 day"
		} else if days > 1 {
			when = fmt.Sprintf("in %d days", days)
		}
		return "", fmt.Sprintf("the certificate in Secret %s expires on %s (%s); renew it soon",
			ref, s.NotAfter.UTC().Format(time.RFC3339), when)
	}
	return "", ""
}
