package certs

import (
	"bytes"
	"fmt"
	"time"
)

// Keys of the Secret the Manager keeps, beyond cert-manager's three: the CA's
// key (to sign the next serving certificate), the CA it replaced, kept in the
// caBundle until it expires so certificates signed by it stay trusted during a
// CA rotation, and when the bundle holding the current CA was published.
const (
	CAKeyKey      = "ca.key"
	PreviousCAKey = "ca-previous.crt"
	// CAPublishedAtKey holds the time (RFC 3339) at which a caBundle holding
	// the current CA was confirmed in the webhook configurations. It lives in
	// the Secret, not in memory, so every replica counts the propagation delay
	// from the same moment and a restart does not start it again.
	CAPublishedAtKey = "ca-published-at"
)

// DefaultPropagationDelay is how long a new CA is trusted in the caBundle
// before the serving certificate moves to it. The API server picks up a
// changed webhook configuration asynchronously, from an informer; serving a
// certificate from the new CA before it uses the new bundle fails every new
// connection in between (a failed admission with failurePolicy Fail). Two
// minutes is far more than an informer's usual lag and still short next to
// the months a serving certificate lives.
const DefaultPropagationDelay = 2 * time.Minute

// Plan says what must be issued, and why (for the log).
type Plan struct {
	NewCA      bool
	NewServing bool
	Reason     string
}

// Needed reports whether anything must be issued.
func (p Plan) Needed() bool { return p.NewCA || p.NewServing }

// Decide looks at the stored Secret data and says what to reissue at now.
//
// The CA is reissued when it is missing, unreadable or in its last third of
// validity. A new CA does not bring a new serving certificate while the
// stored one is still valid: a rotation goes in steps, so that the API server
// never meets a certificate it does not trust yet:
//
//  1. the new CA is added to the caBundle next to the old one (Issue keeps the
//     old one as ca-previous.crt); the serving certificate stays as it is;
//  2. once the bundle has been published for delay (CAPublishedAtKey), the
//     serving certificate is reissued from the new CA;
//  3. the old CA leaves the bundle when it expires (CABundle).
//
// When the stored serving certificate is already unusable (missing, expired,
// not for every name, from a CA that is not stored) there is nothing to
// protect, and it is reissued from the new CA at once.
//
// Otherwise the serving certificate is reissued when it is missing,
// unreadable, not chained to the CA, not valid for every name, or in its last
// third of validity.
func Decide(data map[string][]byte, names []string, now time.Time, delay time.Duration) Plan {
	issuer := servingIssuer(data, names, now)
	newCA := func(reason string) Plan {
		return Plan{NewCA: true, NewServing: issuer == "", Reason: reason}
	}
	ca, err := ParseKeyPair("CA", data[CACertKey], data[CAKeyKey])
	if err != nil {
		return newCA("no usable CA: " + err.Error())
	}
	if !ca.Cert.IsCA {
		return newCA("stored CA certificate is not a CA")
	}
	if NeedsRenewal(ca.Cert, now) {
		return newCA(fmt.Sprintf("CA is due for renewal (renew at %s, expires %s)", fmtTime(RenewalTime(ca.Cert)), fmtTime(ca.Cert.NotAfter)))
	}
	serving, err := ParseKeyPair("serving", data[TLSCertKey], data[TLSKeyKey])
	if err != nil {
		return Plan{NewServing: true, Reason: "no usable serving certificate: " + err.Error()}
	}
	if err := Verify(ca.Cert, serving.Cert, names, now); err != nil {
		if issuer != PreviousCAKey {
			return Plan{NewServing: true, Reason: err.Error()}
		}
		// Step 2 of a CA rotation: still served from the previous CA.
		at, ok := publishedAt(data)
		if !ok || now.Before(at.Add(delay)) {
			// Not published yet (the Manager records it once the bundle is
			// injected) or not long enough: keep serving from the old CA, which
			// every version of the bundle trusts.
			return Plan{}
		}
		return Plan{NewServing: true, Reason: fmt.Sprintf("moving the serving certificate to the new CA (trusted in the caBundle since %s)", fmtTime(at))}
	}
	if NeedsRenewal(serving.Cert, now) {
		return Plan{NewServing: true, Reason: fmt.Sprintf("serving certificate is due for renewal (renew at %s, expires %s)", fmtTime(RenewalTime(serving.Cert)), fmtTime(serving.Cert.NotAfter))}
	}
	return Plan{}
}

// Issue carries out a plan on the stored data and returns the new Secret data.
// The input map is not modified. When the CA is replaced, the CA that signed
// the serving certificate being kept (or the old CA, if the serving
// certificate is replaced too and the old CA is still valid) moves to
// ca-previous.crt, and the publication time is cleared: the new CA is not in
// any caBundle yet.
func Issue(data map[string][]byte, plan Plan, commonName string, names []string, now time.Time, caValidity, servingValidity time.Duration) (map[string][]byte, error) {
	out := make(map[string][]byte, 6)
	for k, v := range data {
		out[k] = v
	}
	newServing := plan.NewServing
	var ca KeyPair
	var err error
	if plan.NewCA {
		delete(out, PreviousCAKey)
		delete(out, CAPublishedAtKey)
		keep := servingIssuer(data, names, now)
		if keep == "" {
			// A plan that keeps a serving certificate no stored CA vouches for
			// would leave the webhook untrusted: replace it too.
			newServing = true
		}
		if newServing {
			if old, err := parseCert(data[CACertKey]); err == nil && old.IsCA && now.Before(old.NotAfter) {
				out[PreviousCAKey] = data[CACertKey]
			}
		} else {
			// The kept certificate's issuer is ca.crt, or ca-previous.crt if
			// a move to the CA being replaced had not happened yet; a CA that
			// never signed what is served needs no place in the bundle.
			out[PreviousCAKey] = data[keep]
		}
		if ca, err = NewCA(commonName, now, caValidity); err != nil {
			return nil, err
		}
		out[CACertKey], out[CAKeyKey] = ca.CertPEM, ca.KeyPEM
	} else if ca, err = ParseKeyPair("CA", data[CACertKey], data[CAKeyKey]); err != nil {
		return nil, err
	}
	if newServing {
		serving, err := NewServing(ca, names, now, servingValidity)
		if err != nil {
			return nil, err
		}
		out[TLSCertKey], out[TLSKeyKey] = serving.CertPEM, serving.KeyPEM
	}
	return out, nil
}

// CABundle is what the API server must trust: the current CA, plus the
// previous one while it is still valid (see PreviousCAKey). A serving
// certificate never outlives its CA, so the previous CA leaves the bundle
// only once nothing signed by it can still be served. It is not dropped
// earlier, when the serving certificate has moved on: other replicas pick up
// the move on their own schedule (up to CheckInterval later), and a valid CA
// whose key is gone costs nothing to keep.
func CABundle(data map[string][]byte, now time.Time) []byte {
	bundle := bytes.TrimRight(data[CACertKey], "\n")
	if prev, err := parseCert(data[PreviousCAKey]); err == nil && now.Before(prev.NotAfter) {
		bundle = append(append(bytes.Clone(bundle), '\n'), bytes.TrimRight(data[PreviousCAKey], "\n")...)
	}
	return append(bytes.Clone(bundle), '\n')
}

// servingCA is the stored CA certificate (PEM) that signed the serving
// certificate: ca.crt, or ca-previous.crt while the serving certificate waits
// to move to a new CA. It is what the cert dir's ca.crt holds, since
// cert-manager's ca.crt is the issuer of tls.crt; it also keeps the cert dir
// unchanged until the serving certificate moves.
func servingCA(data map[string][]byte) []byte {
	if pendingMove(data) {
		return data[PreviousCAKey]
	}
	return data[CACertKey]
}

// NextCheck is when the stored certificates next need attention: the earlier
// of the CA's and the serving certificate's renewal times or, while the
// serving certificate waits to move to a new CA, the end of the propagation
// delay (which then replaces the serving certificate's renewal: the move
// reissues it anyway).
func NextCheck(data map[string][]byte, delay time.Duration) (time.Time, bool) {
	ca, err := parseCert(data[CACertKey])
	if err != nil {
		return time.Time{}, false
	}
	serving, err := parseCert(data[TLSCertKey])
	if err != nil {
		return time.Time{}, false
	}
	next := RenewalTime(ca)
	if pendingMove(data) {
		if at, ok := publishedAt(data); ok && at.Add(delay).Before(next) {
			next = at.Add(delay)
		}
		return next, true
	}
	if t := RenewalTime(serving); t.Before(next) {
		next = t
	}
	return next, true
}

// servingIssuer says which stored CA the serving certificate is valid under at
// now for every name: CACertKey, PreviousCAKey, or "" when neither (missing,
// unreadable, key not matching, expired, for other names, from another CA).
func servingIssuer(data map[string][]byte, names []string, now time.Time) string {
	serving, err := ParseKeyPair("serving", data[TLSCertKey], data[TLSKeyKey])
	if err != nil {
		return ""
	}
	for _, key := range []string{CACertKey, PreviousCAKey} {
		// IsCA matters: x509 accepts a leaf that is itself in the root pool.
		if ca, err := parseCert(data[key]); err == nil && ca.IsCA && Verify(ca, serving.Cert, names, now) == nil {
			return key
		}
	}
	return ""
}

// pendingMove reports whether the serving certificate is signed by the
// previous CA, not the current one: step 2 of a CA rotation has not happened.
func pendingMove(data map[string][]byte) bool {
	return signedBy(data[TLSCertKey], data[PreviousCAKey]) && !signedBy(data[TLSCertKey], data[CACertKey])
}

func signedBy(certPEM, caPEM []byte) bool {
	c, err := parseCert(certPEM)
	if err != nil {
		return false
	}
	ca, err := parseCert(caPEM)
	if err != nil || !ca.IsCA {
		return false
	}
	return c.CheckSignatureFrom(ca) == nil
}

// publishedAt reads CAPublishedAtKey.
func publishedAt(data map[string][]byte) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, string(data[CAPublishedAtKey]))
	return t, err == nil
}

func fmtPublished(t time.Time) []byte { return []byte(t.UTC().Format(time.RFC3339Nano)) }

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
