package echo

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Reply is what a client got from a VIP: the echo backend's Answer, or the
// status and headers of another answer (a redirect, a local response), or
// the error (a reset when nothing could serve the request).
type Reply struct {
	Code   int
	Answer Answer
	Header http.Header
	// Cert is the certificate the VIP served (HTTPS).
	Cert *x509.Certificate
	Err  error
}

// String summarizes a reply for test messages and the demo.
func (r Reply) String() string {
	switch {
	case r.Err != nil:
		return "error: " + r.Err.Error()
	case r.Answer.Backend != "":
		s := fmt.Sprintf("%d from backend %s (host %s, path %s", r.Code, r.Answer.Backend, r.Answer.Host, r.Answer.Path)
		if r.Answer.SNI != "" {
			s += ", sni " + r.Answer.SNI
		}
		return s + ")"
	case r.Header.Get("Location") != "":
		return fmt.Sprintf("%d redirect to %s", r.Code, r.Header.Get("Location"))
	}
	return strconv.Itoa(r.Code)
}

// Get sends GET http://host/path to addr over a new connection (as a new
// client would; like curl --connect-to host:80:addr) and does not follow
// redirects.
func Get(addr, host, path string) Reply { return get(addr, host, path, false, "", nil) }

// GetWithHeader is Get with extra request headers (a consistent hash on a header).
func GetWithHeader(addr, host, path string, h http.Header) Reply {
	return get(addr, host, path, false, "", h)
}

// GetTLS is Get over HTTPS with sni as the TLS server name ("" sends none).
// The certificate is not verified; Reply.Cert lets the caller check it.
func GetTLS(addr, host, path, sni string) Reply { return get(addr, host, path, true, sni, nil) }

func get(addr, host, path string, secure bool, sni string, h http.Header) Reply {
	var d net.Dialer
	tr := &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) },
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true}) //nolint:gosec // the caller checks Reply.Cert
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, err
			}
			return tc, nil
		}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	scheme := "http"
	if secure {
		scheme = "https"
	}
	req, err := http.NewRequest(http.MethodGet, scheme+"://"+host+path, nil)
	if err != nil {
		return Reply{Err: err}
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		return Reply{Err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := Reply{Code: resp.StatusCode, Header: resp.Header}
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		r.Cert = resp.TLS.PeerCertificates[0]
	}
	if resp.StatusCode == http.StatusOK && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		r.Answer, r.Err = ParseAnswer(body)
	}
	return r
}

// Line sends one line over a new TCP connection to addr and returns the
// backend's name from its answer ("<name>: <line>").
func Line(addr, line string) (backend string, err error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return splitAnswer(strings.TrimSuffix(got, "\n"), line)
}

// Datagram sends one UDP datagram to addr and returns the name of the
// backend that echoed it; no answer within a second is an error.
func Datagram(addr, payload string) (backend string, err error) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(payload)); err != nil {
		return "", err
	}
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return splitAnswer(string(buf[:n]), payload)
}

func splitAnswer(got, sent string) (string, error) {
	name, rest, ok := strings.Cut(got, ": ")
	if !ok || rest != sent {
		return "", fmt.Errorf("not an echo of %q: %q", sent, got)
	}
	return name, nil
}

// IsReset reports whether err is what a client sees when the VIP closes
// the connection without an answer: a reset, or EOF before any answer.
func IsReset(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "reset") || strings.Contains(s, "EOF") || strings.Contains(s, "broken pipe")
}
