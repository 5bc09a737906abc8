package certs

import (
	"bytes"
	"fmt"
	"time"
)

// Keys of the Secret the Manager keeps, beyond cert-manager's three: the CA's
// key (to sign the next serving certificate) and the CA it replaced, kept in
// the caBundle until it expires so pods still serving a certificate signed by
// it stay trusted during a CA rotation.
const (
	CAKeyKey      = "ca.key"
	PreviousCAKey = "ca-previous.crt"
)

// Plan says what must be issued, and why (for the log).
type Plan struct {
	NewCA      bool
	NewServing bool
	Reason     string
}

// Needed reports whether anything must be issued.
func (p Plan) Needed() bool { return p.NewCA || p.NewServing }

// Decide looks at the stored Secret data and says what to reissue at now:
// the CA when it is missing, unreadable or in its last third of validity
// (a new CA always comes with a new serving certificate), and the serving
// certificate when it is missing, unreadable, not chained to the CA, not valid
// for every name, or in its last third of validity.
func Decide(data map[string][]byte, names []string, now time.Time) Plan {
	ca, err := ParseKeyPair("CA", data[CACertKey], data[CAKeyKey])
	if err != nil {
		return Plan{NewCA: true, NewServing: true, Reason: "no usable CA: " + err.Error()}
	}
	if !ca.Cert.IsCA {
		return Plan{NewCA: true, NewServing: true, Reason: "stored CA certificate is not a CA"}
	}
	if NeedsRenewal(ca.Cert, now) {
		return Plan{NewCA: true, NewServing: true, Reason: fmt.Sprintf("CA is due for renewal (renew at %s, expires %s)", fmtTime(RenewalTime(ca.Cert)), fmtTime(ca.Cert.NotAfter))}
	}
	serving, err := ParseKeyPair("serving", data[TLSCertKey], data[TLSKeyKey])
	if err != nil {
		return Plan{NewServing: true, Reason: "no usable serving certificate: " + err.Error()}
	}
	if err := Verify(ca.Cert, serving.Cert, names, now); err != nil {
		return Plan{NewServing: true, Reason: err.Error()}
	}
	if NeedsRenewal(serving.Cert, now) {
		return Plan{NewServing: true, Reason: fmt.Sprintf("serving certificate is due for renewal (renew at %s, expires %s)", fmtTime(RenewalTime(serving.Cert)), fmtTime(serving.Cert.NotAfter))}
	}
	return Plan{}
}

// Issue carries out a plan on the stored data and returns the new Secret data.
// The input map is not modified. When the CA is replaced, the old CA (if it is
// still valid) moves to ca-previous.crt.
func Issue(data map[string][]byte, plan Plan, commonName string, names []string, now time.Time, caValidity, servingValidity time.Duration) (map[string][]byte, error) {
	out := make(map[string][]byte, 5)
	for k, v := range data {
		out[k] = v
	}
	var ca KeyPair
	var err error
	if plan.NewCA {
		delete(out, PreviousCAKey)
		if old, err := parseCert(data[CACertKey]); err == nil && old.IsCA && now.Before(old.NotAfter) {
			out[PreviousCAKey] = data[CACertKey]
		}
		if ca, err = NewCA(commonName, now, caValidity); err != nil {
			return nil, err
		}
		out[CACertKey], out[CAKeyKey] = ca.CertPEM, ca.KeyPEM
	} else if ca, err = ParseKeyPair("CA", data[CACertKey], data[CAKeyKey]); err != nil {
		return nil, err
	}
	if plan.NewCA || plan.NewServing {
		serving, err := NewServing(ca, names, now, servingValidity)
		if err != nil {
			return nil, err
		}
		out[TLSCertKey], out[TLSKeyKey] = serving.CertPEM, serving.KeyPEM
	}
	return out, nil
}

// CABundle is what the API server must trust: the current CA, plus the
// previous one while it is still valid (see PreviousCAKey).
func CABundle(data map[string][]byte, now time.Time) []byte {
	bundle := bytes.TrimRight(data[CACertKey], "\n")
	if prev, err := parseCert(data[PreviousCAKey]); err == nil && now.Before(prev.NotAfter) {
		bundle = append(append(bytes.Clone(bundle), '\n'), bytes.TrimRight(data[PreviousCAKey], "\n")...)
	}
	return append(bytes.Clone(bundle), '\n')
}

// NextCheck is when the stored certificates next need attention: the earlier
// of the CA's and the serving certificate's renewal times.
func NextCheck(data map[string][]byte) (time.Time, bool) {
	var next time.Time
	for _, key := range []string{CACertKey, TLSCertKey} {
		c, err := parseCert(data[key])
		if err != nil {
			return time.Time{}, false
		}
		if t := RenewalTime(c); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next, true
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
