package dataplane

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/alb-sdk/go/models"
)

// monitorConf is a health monitor with the controller's defaults applied.
type monitorConf struct {
	uuid, name, typ string
	interval        time.Duration
	timeout         time.Duration
	successes       int
	failures        int
	port            int // monitor_port; 0 is the server's port
	quickstart      bool
	// TCP and UDP: what to send, what the answer must contain, and the
	// maintenance string that marks a server down.
	send, expect, maint string
	// HTTP and HTTPS.
	request    string // http_request
	exact      bool
	body       string
	codes      []string
	maintCodes []int64
	sni        string
	// unsupported says why this monitor cannot be run (servers stay down).
	unsupported string
	// sig changes whenever anything a running check uses changes.
	sig string
}

// Monitor types.
const (
	hmTCP   = "HEALTH_MONITOR_TCP"
	hmHTTP  = "HEALTH_MONITOR_HTTP"
	hmHTTPS = "HEALTH_MONITOR_HTTPS"
	hmUDP   = "HEALTH_MONITOR_UDP"
	hmPing  = "HEALTH_MONITOR_PING"
)

func newMonitorConf(uuid string, m *models.HealthMonitor, scale float64) *monitorConf {
	interval := intOr(m.SendInterval, 10)
	// The controller requires receive_timeout < send_interval; a check
	// never outlives its interval here either.
	timeout := min(intOr(m.ReceiveTimeout, 4), interval)
	hm := &monitorConf{uuid: uuid, name: str(m.Name), typ: str(m.Type),
		interval: scaled(interval, scale), timeout: scaled(timeout, scale),
		successes: max(intOr(m.SuccessfulChecks, 2), 1), failures: max(intOr(m.FailedChecks, 2), 1),
		port: intOr(m.MonitorPort, 0), quickstart: !boolOr(m.DisableQuickstart, false)}
	if hm.timeout >= hm.interval && hm.interval > 20*time.Millisecond {
		hm.timeout = hm.interval - hm.interval/5
	}
	switch hm.typ {
	case hmTCP:
		if t := m.TCPMonitor; t != nil {
			hm.send, hm.expect, hm.maint = str(t.TCPRequest), str(t.TCPResponse), str(t.MaintenanceResponse)
			if boolOr(t.TCPHalfOpen, false) {
				// A half-open check is a SYN/SYN-ACK; a full connect
				// answers the same question on loopback.
				hm.send, hm.expect = "", ""
			}
		}
	case hmPing:
		// ICMP needs privileges avisim should not need; a TCP connect to
		// the server's port stands in for it.
	case hmUDP:
		if u := m.UDPMonitor; u != nil {
			hm.send, hm.expect, hm.maint = str(u.UDPRequest), str(u.UDPResponse), str(u.MaintenanceResponse)
		}
	case hmHTTP, hmHTTPS:
		h := m.HTTPMonitor
		if hm.typ == hmHTTPS {
			h = m.HTTPSMonitor
		}
		hm.request = "GET / HTTP/1.0"
		if h != nil {
			hm.request = cmp.Or(str(h.HTTPRequest), hm.request)
			hm.exact = boolOr(h.ExactHTTPRequest, false)
			hm.body = str(h.HTTPRequestBody)
			hm.expect = str(h.HTTPResponse)
			hm.codes = h.HTTPResponseCode
			hm.maintCodes = h.MaintenanceCode
			hm.maint = str(h.MaintenanceResponse)
			if h.SslAttributes != nil {
				hm.sni = str(h.SslAttributes.ServerName)
			}
		}
		if len(hm.codes) == 0 {
			hm.codes = []string{"HTTP_2XX"}
		}
	case "":
		hm.unsupported = "no type"
	default:
		hm.unsupported = "type " + hm.typ + " is not supported by avisim"
	}
	hm.sig = fmt.Sprintf("%+v", *hm)
	return hm
}

// ckey identifies one health check: a monitor on a pool's server.
type ckey struct {
	pool, server, monitor string
}

// checker runs one monitor against one server until stopped.
type checker struct {
	key    ckey
	sig    string
	st     *serverState
	cancel context.CancelFunc
	done   chan struct{}
}

func (c *checker) stop() {
	c.cancel()
	<-c.done
}

// startChecker runs hm against addr and records verdicts in st.
func (d *DataPlane) startChecker(k ckey, hm *monitorConf, addr string, st *serverState) *checker {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checker{key: k, sig: hm.sig + "|" + addr, st: st, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		d.runChecks(ctx, k, hm, addr, st)
	}()
	return c
}

// quickGap separates the back-to-back checks of a quickstart.
const quickGap = 20 * time.Millisecond

func (d *DataPlane) runChecks(ctx context.Context, k ckey, hm *monitorConf, addr string, st *serverState) {
	st.mu.Lock()
	up := st.results[k.monitor]
	st.mu.Unlock()
	okRun, failRun := 0, 0
	quick := hm.quickstart
	for {
		err := hm.check(ctx, addr)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			okRun, failRun = okRun+1, 0
		} else {
			okRun, failRun = 0, failRun+1
		}
		reason := ""
		if err != nil {
			reason = err.Error()
		}
		switch {
		case !up && okRun >= hm.successes:
			up = true
		case up && failRun >= hm.failures:
			up = false
		}
		if st.setResult(k.monitor, up, reason) {
			why := ""
			if reason != "" {
				why = ": " + reason
			}
			d.logf("avisim dataplane: server %s is %s (monitor %s%s)", addr, upDown(up), hm.name, why)
			d.requestSync()
		}
		wait := hm.interval
		// Quickstart: a server not yet up whose last check passed is
		// checked again at once, so a new server comes up fast.
		if quick && !up && err == nil {
			wait = quickGap
		}
		if up {
			quick = false
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// checkAddr is where the monitor connects for a server at addr.
func (hm *monitorConf) checkAddr(addr string) string {
	if hm.port == 0 {
		return addr
	}
	host, _, _ := net.SplitHostPort(addr)
	return net.JoinHostPort(host, strconv.Itoa(hm.port))
}

// check runs one health check; nil means it passed.
func (hm *monitorConf) check(ctx context.Context, addr string) error {
	if hm.unsupported != "" {
		return errors.New(hm.unsupported)
	}
	ctx, cancel := context.WithTimeout(ctx, hm.timeout)
	defer cancel()
	addr = hm.checkAddr(addr)
	switch hm.typ {
	case hmUDP:
		return hm.checkUDP(ctx, addr)
	case hmHTTP, hmHTTPS:
		return hm.checkHTTP(ctx, addr)
	default:
		return hm.checkTCP(ctx, addr)
	}
}

func (hm *monitorConf) checkTCP(ctx context.Context, addr string) error {
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect %s: %v", addr, shortErr(err))
	}
	defer c.Close()
	defer abortOnDone(ctx, c)()
	if hm.send != "" {
		if _, err := io.WriteString(c, hm.send); err != nil {
			return fmt.Errorf("send: %v", shortErr(err))
		}
	}
	if hm.expect == "" && hm.maint == "" {
		return nil
	}
	got := readUpTo(c, 2048, hm.expect, hm.maint)
	return hm.judge(got)
}

// abortOnDone makes pending I/O on c fail once ctx ends (its timeout, or the
// checker being stopped), so a check never outlives either.
func abortOnDone(ctx context.Context, c net.Conn) (stop func() bool) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
}

// judge applies the expected and maintenance strings to an answer.
func (hm *monitorConf) judge(got []byte) error {
	if hm.maint != "" && bytes.Contains(got, []byte(hm.maint)) {
		return fmt.Errorf("maintenance response %q", hm.maint)
	}
	if hm.expect != "" && !bytes.Contains(got, []byte(hm.expect)) {
		return fmt.Errorf("response does not contain %q", hm.expect)
	}
	return nil
}

// readUpTo reads until one of the wanted strings appears, limit bytes, EOF
// or the deadline.
func readUpTo(c net.Conn, limit int, want ...string) []byte {
	var buf []byte
	tmp := make([]byte, 512)
	for len(buf) < limit {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for _, w := range want {
			if w != "" && bytes.Contains(buf, []byte(w)) {
				return buf
			}
		}
		if err != nil {
			break
		}
	}
	return buf
}

func (hm *monitorConf) checkUDP(ctx context.Context, addr string) error {
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "udp", addr)
	if err != nil {
		return fmt.Errorf("udp %s: %v", addr, shortErr(err))
	}
	defer c.Close()
	defer abortOnDone(ctx, c)()
	if _, err := c.Write([]byte(hm.send)); err != nil {
		return fmt.Errorf("udp send: %v", shortErr(err))
	}
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	var ne net.Error
	switch {
	case err != nil && errors.As(err, &ne) && ne.Timeout():
		// The controller's UDP monitor only sees a failure as an ICMP
		// unreachable: silence is up unless an answer was expected.
		if hm.expect != "" {
			return fmt.Errorf("no UDP answer containing %q", hm.expect)
		}
		return nil
	case err != nil:
		return fmt.Errorf("udp %s: %v", addr, shortErr(err))
	}
	return hm.judge(buf[:n])
}

func (hm *monitorConf) checkHTTP(ctx context.Context, addr string) error {
	var dl net.Dialer
	raw, err := dl.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect %s: %v", addr, shortErr(err))
	}
	defer raw.Close()
	defer abortOnDone(ctx, raw)()
	c := raw
	if hm.typ == hmHTTPS {
		// The controller does not verify server certificates unless the
		// monitor names a PKI profile.
		tc := tls.Client(raw, &tls.Config{ServerName: hm.sni, InsecureSkipVerify: true}) //nolint:gosec // as the SE does
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake: %v", shortErr(err))
		}
		c = tc
	}
	host, _, _ := net.SplitHostPort(addr)
	if _, err := io.WriteString(c, hm.rawRequest(host)); err != nil {
		return fmt.Errorf("send: %v", shortErr(err))
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return fmt.Errorf("reading the answer: %v", shortErr(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	if slices.Contains(hm.maintCodes, int64(resp.StatusCode)) {
		return fmt.Errorf("maintenance code %d", resp.StatusCode)
	}
	if !codeMatches(hm.codes, resp.StatusCode) {
		return fmt.Errorf("status %d not in %v", resp.StatusCode, hm.codes)
	}
	var head bytes.Buffer
	_ = resp.Header.Write(&head)
	return hm.judge(append(head.Bytes(), body...))
}

// rawRequest is http_request as the monitor sends it: the request line and
// any header lines given, a Host header unless exact_http_request or
// given, and the body.
func (hm *monitorConf) rawRequest(host string) string {
	req := strings.ReplaceAll(hm.request, `\r\n`, "\n")
	lines := strings.Split(strings.ReplaceAll(req, "\r\n", "\n"), "\n")
	var b strings.Builder
	hasHost, hasConn := false, false
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if i > 0 {
			name, _, _ := strings.Cut(l, ":")
			hasHost = hasHost || strings.EqualFold(strings.TrimSpace(name), "host")
			hasConn = hasConn || strings.EqualFold(strings.TrimSpace(name), "connection")
		}
		b.WriteString(l + "\r\n")
	}
	if !hm.exact {
		if !hasHost {
			b.WriteString("Host: " + host + "\r\n")
		}
		if !hasConn {
			b.WriteString("Connection: close\r\n")
		}
		if hm.body != "" {
			b.WriteString("Content-Length: " + strconv.Itoa(len(hm.body)) + "\r\n")
		}
	}
	b.WriteString("\r\n" + hm.body)
	return b.String()
}

func codeMatches(codes []string, code int) bool {
	for _, c := range codes {
		switch {
		case c == "HTTP_ANY":
			return true
		case len(c) == len("HTTP_2XX") && strings.HasPrefix(c, "HTTP_") && strings.HasSuffix(c, "XX"):
			if int(c[5]-'0') == code/100 {
				return true
			}
		}
	}
	return false
}

// shortErr drops the Go operation prefix ("dial tcp 1.2.3.4:5: ") so
// reasons read like the controller's ("connection refused").
func shortErr(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF):
		return "timed out"
	case errors.Is(err, io.EOF):
		return "connection closed"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	return err.Error()
}
