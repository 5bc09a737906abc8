package session

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"

	albsession "github.com/vmware/alb-sdk/go/session"
)

// Error is a failed controller call, classified for the reconciler. It never
// holds credentials or session cookies: only the operation, the HTTP status
// and the controller's own message.
type Error struct {
	// Op is the operation, e.g. "POST vsvip" or "login".
	Op string
	// Object names the object concerned, when known.
	Object string
	// Status is the HTTP status; 0 when no response arrived.
	Status int
	// Message is what the controller said (its "error" field), or a
	// description of the transport failure.
	Message string
	// Retryable says that trying again later may succeed (5xx, timeouts,
	// connection failures, conflicts).
	Retryable bool
	// Err is the underlying error, for errors.Is/As.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("avi ")
	b.WriteString(e.Op)
	if e.Object != "" {
		b.WriteString(" ")
		b.WriteString(e.Object)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap gives access to the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// WithObject returns a copy of e naming obj; other errors are returned as they are.
func WithObject(err error, obj string) error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Object = obj
		return &c
	}
	return err
}

// classify turns whatever alb-sdk returned into an *Error, using what the
// recording client saw on the wire when alb-sdk dropped it.
func classify(op string, err error, rc *recordingClient) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	out := &Error{Op: op, Err: err}
	var ae albsession.AviError
	var aep *albsession.AviError
	switch {
	case errors.As(err, &ae):
		out.Status = ae.HttpStatusCode
	case errors.As(err, &aep):
		out.Status = aep.HttpStatusCode
	}
	if out.Status == 0 && rc != nil && rc.lastStatus >= 400 {
		out.Status = rc.lastStatus
	}
	if rc != nil && rc.lastStatus >= 400 && rc.lastStatus == out.Status {
		out.Message = controllerMessage(rc.lastBody)
	}
	if out.Status == 0 {
		// Transport failure: no response. Describe it without the URL's
		// query or any header.
		out.Message, out.Retryable = transportError(err, rc)
		if errors.Is(err, context.Canceled) || (rc != nil && errors.Is(rc.lastErr, context.Canceled)) {
			out.Message = "canceled"
		}
		return out
	}
	if out.Message == "" {
		out.Message = http.StatusText(out.Status)
	}
	out.Retryable = retryableStatus(out.Status)
	return out
}

// transportError describes a failure without a response, without the URL's
// query or any header, and says whether it may pass by itself.
func transportError(err error, rc *recordingClient) (string, bool) {
	src := err
	if rc != nil && rc.lastErr != nil {
		src = rc.lastErr
	}
	if why := untrusted(src); why != "" {
		// A configuration problem: trying again cannot help.
		return "the controller's TLS certificate is not trusted (" + why + "): put the certificate of the CA that signed it " +
			"in certificateAuthorityData of the controller credentials Secret, or set ControllerSettings.insecureSkipVerify " +
			"to true to skip verification", false
	}
	switch {
	case errors.Is(src, context.DeadlineExceeded) || errors.Is(src, os.ErrDeadlineExceeded):
		return "timed out", true
	case errors.Is(src, syscall.ECONNREFUSED):
		return "connection refused", true
	case errors.Is(src, syscall.ECONNRESET):
		return "connection reset", true
	}
	var ne net.Error
	if errors.As(src, &ne) && ne.Timeout() {
		return "timed out", true
	}
	var oe *net.OpError
	if errors.As(src, &oe) {
		return oe.Op + ": " + oe.Err.Error(), true
	}
	if errors.Is(err, errOpaque) || err.Error() == errOpaque.Error() {
		return "request failed", true
	}
	return err.Error(), true
}

// untrusted explains a failed verification of the controller's certificate,
// or returns "" when err is something else.
func untrusted(err error) string {
	var (
		cve *tls.CertificateVerificationError
		uae x509.UnknownAuthorityError
		he  x509.HostnameError
		cie x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &he):
		return he.Error()
	case errors.As(err, &uae):
		return uae.Error()
	case errors.As(err, &cie):
		return cie.Error()
	case errors.As(err, &cve):
		return cve.Err.Error()
	}
	return ""
}

func retryableStatus(code int) bool {
	switch {
	case code >= 500:
		return true
	case code == http.StatusConflict, code == http.StatusTooManyRequests, code == http.StatusRequestTimeout, code == 419:
		return true
	}
	return false
}

// statusOf returns the HTTP status carried by err, or 0.
func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	var ae albsession.AviError
	if errors.As(err, &ae) {
		return ae.HttpStatusCode
	}
	var aep *albsession.AviError
	if errors.As(err, &aep) {
		return aep.HttpStatusCode
	}
	return 0
}

// IsNotFound reports a 404.
func IsNotFound(err error) bool { return err != nil && statusOf(err) == http.StatusNotFound }

// IsConflict reports a 409 (concurrent modification, or a name already taken).
func IsConflict(err error) bool { return err != nil && statusOf(err) == http.StatusConflict }

// IsBadRequest reports a 400: the request itself is wrong (e.g. "No available
// free IPs", an address outside the network); retrying the same request will
// not help until something changes. Message(err) has the controller's words.
func IsBadRequest(err error) bool { return err != nil && statusOf(err) == http.StatusBadRequest }

// IsUnauthorized reports a 401/403 that survived a re-login: wrong credentials or permissions.
func IsUnauthorized(err error) bool {
	s := statusOf(err)
	return err != nil && (s == http.StatusUnauthorized || s == http.StatusForbidden)
}

// IsRetryable reports an error that may go away by itself: 5xx, 409, 429,
// timeouts, connection refused or reset, a canceled wait for a session.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable
	}
	if s := statusOf(err); s != 0 {
		return retryableStatus(s)
	}
	var ne net.Error
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// Message returns the controller's message for err (e.g. "No available free
// IPs"), or err.Error() when there is none.
func Message(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return err.Error()
}

// Outcome classifies err for metrics: ok, not_found, bad_request, conflict,
// unauthorized, retryable or error.
func Outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case IsNotFound(err):
		return "not_found"
	case IsBadRequest(err):
		return "bad_request"
	case IsConflict(err):
		return "conflict"
	case IsUnauthorized(err):
		return "unauthorized"
	case IsRetryable(err):
		return "retryable"
	}
	return "error"
}
