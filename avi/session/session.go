// Package session connects vipgate to the Avi Controller through alb-sdk.
//
// It owns the few things alb-sdk leaves to its caller and that a reconciler
// needs: a small pool of logged-in sessions (an alb-sdk session must not be
// used by two goroutines at once), context cancellation for every request,
// no hidden retry loops (the reconciler does its own backoff; alb-sdk's
// controller-status polling can sleep for minutes), transparent re-login when
// the controller expires a session, and errors that say whether to retry,
// whether the request itself was wrong, and what the controller said —
// without ever carrying credentials or session cookies.
package session

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	albsession "github.com/vmware/alb-sdk/go/session"

	"github.com/vipgate/vipgate/avi"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/metrics"
)

// DefaultVersion is the X-Avi-Version sent when ControllerSettings.controllerVersion
// is empty and the controller cannot tell its own version.
const DefaultVersion = "22.1.3"

// Options tune the connection. Zero values pick defaults sized for a reconciler.
type Options struct {
	// Timeout bounds one HTTP request (default 20s).
	Timeout time.Duration
	// PoolSize is the number of concurrent sessions (default 8). Each is its
	// own login on the controller.
	PoolSize int
	// Transport overrides the HTTP transport (tests). Its TLS settings are used
	// as given: certificateAuthorityData and insecureSkipVerify do not apply.
	Transport http.RoundTripper

	// now and jitter drive the login backoff (tests make them deterministic).
	now    func() time.Time
	jitter func() float64
}

// Client is a pool of alb-sdk sessions to one controller and tenant.
// It is safe for concurrent use, and implements avi.Client.
type Client struct {
	host     string
	tenant   string
	version  string
	insecure bool
	timeout  time.Duration
	poolSize int
	fixedRT  http.RoundTripper
	src      config.CredentialSource
	gate     *loginGate
	log      logr.Logger
	pool     chan *slot
	closeMu  sync.Mutex

	// mu guards the credentials last seen and the HTTP client built for
	// their certificateAuthorityData.
	mu     sync.Mutex
	creds  config.Credentials
	hc     *http.Client
	hcErr  error
	srcErr string // the credential source's last reported problem
}

// slot is one alb-sdk session with its recording HTTP client. A slot is used
// by one goroutine at a time, which is what makes the recorder's fields safe.
type slot struct {
	rc    *recordingClient
	sess  *albsession.AviSession // nil until first use
	creds config.Credentials     // what sess logs in with
}

// New connects to the controller named by cs with the credentials src gives
// (a config.Credentials value, or a config.CredentialsDir that follows a
// mounted Secret: every login uses what src says at that moment). It logs in
// once (so wrong credentials, an untrusted certificate or an unreachable
// controller fail here, with a classified error) and resolves the API version
// when none is configured.
//
// The controller's certificate is verified against the system roots plus the
// credentials' certificateAuthorityData, unless cs.InsecureSkipVerify.
// Refused logins (401/403) pause further logins of this client, 1s doubling
// up to a minute with jitter, so that stale credentials do not trip the
// controller's account lockout; a success or changed credentials end the pause.
func New(ctx context.Context, cs config.ControllerSettings, src config.CredentialSource, opts Options) (*Client, error) {
	log := logr.FromContextOrDiscard(ctx).WithValues("controller", cs.ControllerHost, "tenant", cs.TenantName)
	quietGlog()
	if opts.Timeout <= 0 {
		opts.Timeout = 20 * time.Second
	}
	if opts.PoolSize <= 0 {
		opts.PoolSize = 8
	}
	if src == nil {
		return nil, &Error{Op: "login", Message: "no controller credentials"}
	}
	creds := src.Current()
	if creds.Username == "" || (creds.Password == "" && creds.AuthToken == "") {
		return nil, &Error{Op: "login", Status: 0, Message: "credentials need a username and a password or authtoken"}
	}
	c := &Client{
		host: cs.ControllerHost, tenant: cs.TenantName, version: cs.ControllerVersion,
		insecure: bool(cs.InsecureSkipVerify), timeout: opts.Timeout, poolSize: opts.PoolSize,
		fixedRT: opts.Transport, src: src, log: log,
		gate: newLoginGate(opts.now, opts.jitter),
	}
	if c.tenant == "" {
		c.tenant = "admin"
	}
	if _, _, err := c.current(); err != nil {
		return nil, err
	}
	c.pool = make(chan *slot, opts.PoolSize)
	for i := 0; i < opts.PoolSize; i++ {
		c.pool <- &slot{rc: &recordingClient{gate: c.gate}}
	}
	// Log in eagerly once so that configuration problems surface at start-up.
	if c.version == "" {
		var ver string
		err := c.Do(ctx, "GET initial-data", func(s *albsession.AviSession) error {
			var e error
			ver, e = initialDataVersion(s)
			return e
		})
		if err != nil {
			return nil, err
		}
		if ver == "" {
			ver = DefaultVersion
		}
		c.version = ver
		// Sessions already created keep the default header; refresh them.
		c.forEachIdle(func(sl *slot) {
			if sl.sess != nil {
				_ = albsession.SetVersion(ver)(sl.sess)
			}
		})
		log.V(1).Info("controller API version", "version", ver)
	} else if err := c.Do(ctx, "login", func(*albsession.AviSession) error { return nil }); err != nil {
		return nil, err
	}
	return c, nil
}

// newSession logs in a new alb-sdk session with creds over rc.
func (c *Client) newSession(rc *recordingClient, creds config.Credentials) (*albsession.AviSession, error) {
	o := []func(*albsession.AviSession) error{
		albsession.SetTenant(c.tenant),
		albsession.SetClient(rc),
		albsession.SetTimeout(c.timeout),
		// No retry loops inside alb-sdk: on 5xx / 401 it returns to us,
		// and we re-login once ourselves (see Do).
		albsession.DisableControllerStatusCheckOnFailure(true),
		albsession.SetMaxApiRetries(1),
		albsession.SetApiRetryInterval(1),
	}
	if v := c.version; v != "" {
		o = append(o, albsession.SetVersion(v))
	} else {
		o = append(o, albsession.SetVersion(DefaultVersion))
	}
	if creds.AuthToken != "" {
		o = append(o, albsession.SetAuthToken(creds.AuthToken))
	} else {
		o = append(o, albsession.SetPassword(creds.Password))
	}
	return albsession.NewAviSession(c.host, creds.Username, o...)
}

// current returns the credentials to log in with now and the HTTP client
// that trusts their certificateAuthorityData, rebuilding it when that
// changed. New credentials end a login pause: the pause protects the
// account from the same wrong password, not from a corrected one.
func (c *Client) current() (config.Credentials, *http.Client, error) {
	cur := c.src.Current()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.src.(interface{ Err() error }); ok {
		// A Secret edited into something unusable: say so once, and keep
		// logging in with the last good credentials.
		msg := ""
		if err := e.Err(); err != nil {
			msg = err.Error()
		}
		if msg != c.srcErr && msg != "" {
			c.log.Info("controller credentials unusable; keeping the last good ones", "error", msg)
		}
		c.srcErr = msg
	}
	first := c.hc == nil && c.hcErr == nil
	if !first && cur == c.creds {
		return c.creds, c.hc, c.hcErr
	}
	if !first {
		c.log.Info("controller credentials changed; new logins use them", "username", cur.Username)
		c.gate.reset()
	}
	if first || cur.CertificateAuthorityData != c.creds.CertificateAuthorityData {
		hc, err := c.newHTTPClient(cur.CertificateAuthorityData)
		if c.hc != nil {
			c.hc.CloseIdleConnections()
		}
		c.hc, c.hcErr = hc, err
	}
	c.creds = cur
	return c.creds, c.hc, c.hcErr
}

// newHTTPClient builds the HTTP client for one certificateAuthorityData.
func (c *Client) newHTTPClient(caPEM string) (*http.Client, error) {
	if c.fixedRT != nil {
		return &http.Client{Transport: c.fixedRT, Timeout: c.timeout}, nil
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case c.insecure:
		tlsCfg.InsecureSkipVerify = true //nolint:gosec // asked for by ControllerSettings.insecureSkipVerify, logged at start-up
	case caPEM != "":
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(caPEM)) {
			return nil, &Error{Op: "login", Message: "certificateAuthorityData in the controller credentials holds no PEM certificate"}
		}
		tlsCfg.RootCAs = pool
	}
	rt := &http.Transport{
		TLSClientConfig:     tlsCfg,
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: c.poolSize * 2,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: c.timeout,
	}
	return &http.Client{Transport: rt, Timeout: c.timeout}, nil
}

// initialDataVersion reads the controller's version from /api/initial-data
// without panicking on an unexpected shape (alb-sdk's GetControllerVersion does).
func initialDataVersion(s *albsession.AviSession) (string, error) {
	var resp struct {
		Version struct {
			Version string `json:"Version"`
		} `json:"version"`
	}
	if err := s.Get("api/initial-data", &resp); err != nil {
		return "", err
	}
	v := resp.Version.Version
	// "22.1.3(9096) 2023-01-01 ..." → "22.1.3"
	if i := strings.IndexAny(v, "( -"); i > 0 {
		v = v[:i]
	}
	return v, nil
}

func (c *Client) forEachIdle(fn func(*slot)) {
	n := cap(c.pool)
	var taken []*slot
	for i := 0; i < n; i++ {
		select {
		case sl := <-c.pool:
			fn(sl)
			taken = append(taken, sl)
		default:
		}
	}
	for _, sl := range taken {
		c.pool <- sl
	}
}

var _ avi.Client = (*Client)(nil)

// Host is the controller address the client talks to.
func (c *Client) Host() string { return c.host }

// Tenant is the default tenant of every request.
func (c *Client) Tenant() string { return c.tenant }

// Version is the X-Avi-Version the client sends.
func (c *Client) Version() string { return c.version }

// Do runs fn with an exclusive, logged-in alb-sdk session. Requests made by fn
// are bound to ctx. If the controller expired the session (401), alb-sdk has
// already logged in again and fn is run once more; every other failure is
// returned as an *Error so callers can classify it. op names the operation in
// errors (e.g. "POST vsvip").
func (c *Client) Do(ctx context.Context, op string, fn func(s *albsession.AviSession) error) (err error) {
	defer func() { metrics.ControllerCall(op, Outcome(err)) }()
	var sl *slot
	select {
	case sl = <-c.pool:
	case <-ctx.Done():
		return &Error{Op: op, Message: "waiting for a controller session: " + ctx.Err().Error(), Retryable: true, Err: ctx.Err()}
	}
	defer func() { sl.rc.ctx = nil; c.pool <- sl }()
	creds, hc, err := c.current()
	if err != nil {
		return err
	}
	sl.rc.ctx, sl.rc.hc = ctx, hc
	if sl.sess != nil && sl.creds != creds {
		if sl.creds.Username != creds.Username {
			// alb-sdk cannot change a session's user: start over.
			sl.sess = nil
		} else {
			// The session stays logged in; alb-sdk's next login (after the
			// controller expires it) uses the new secret.
			_ = albsession.SetAuthToken(creds.AuthToken)(sl.sess)
			_ = albsession.SetPassword(creds.Password)(sl.sess)
			sl.creds = creds
		}
	}
	for attempt := 0; ; attempt++ {
		sl.rc.reset()
		var err error
		if sl.sess == nil {
			sl.sess, err = c.newSession(sl.rc, creds)
			if err != nil {
				sl.sess = nil
				return classify("login", err, sl.rc)
			}
			sl.creds = creds
			sl.rc.reset()
		}
		err = fn(sl.sess)
		if err == nil {
			return nil
		}
		if sl.rc.loginFailed() {
			// The controller expired the session and logging in again
			// failed: say so, and start the next use from a fresh session.
			sl.sess = nil
			return classify("login", err, sl.rc)
		}
		if attempt == 0 && sl.rc.sawStatus(http.StatusUnauthorized) && sl.rc.loginOK() && ctx.Err() == nil {
			// Session expired: alb-sdk logged in again but does not repeat the
			// request when its status check is disabled. A 401 means the
			// request was not processed, so repeating it is safe.
			c.log.V(1).Info("controller session expired; logged in again", "op", op)
			continue
		}
		if attempt == 0 && sl.rc.sawStatus(419) && ctx.Err() == nil {
			// Some controller versions answer 419 to an expired session
			// without alb-sdk logging in again: start a fresh session.
			sl.sess = nil
			continue
		}
		return classify(op, err, sl.rc)
	}
}

// recordingClient is the http client handed to alb-sdk. It binds requests to
// the caller's context, remembers the status and body of error responses
// (alb-sdk drops them for 5xx when its retries are off), strips cookies and
// CSRF headers from failed requests, because alb-sdk dumps failed requests to
// its log, and passes every login through the client's login gate, including
// the ones alb-sdk makes by itself when a session expired.
type recordingClient struct {
	hc         *http.Client
	gate       *loginGate
	ctx        context.Context
	lastStatus int
	statuses   []int
	lastBody   []byte
	lastErr    error
	// login is the outcome of the last login of this round: 0 none,
	// -1 no answer (transport error or paused), else the HTTP status.
	login int
}

func (r *recordingClient) reset() {
	r.lastStatus, r.statuses, r.lastBody, r.lastErr, r.login = 0, r.statuses[:0], nil, nil, 0
}

func (r *recordingClient) sawStatus(code int) bool {
	for _, s := range r.statuses {
		if s == code {
			return true
		}
	}
	return false
}

func (r *recordingClient) loginOK() bool     { return r.login >= 200 && r.login < 300 }
func (r *recordingClient) loginFailed() bool { return r.login != 0 && !r.loginOK() }

// isLogin tells alb-sdk's login request (POST <prefix>login) from API calls.
func isLogin(req *http.Request) bool {
	return req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/login")
}

// Do implements alb-sdk's HttpClient.
func (r *recordingClient) Do(req *http.Request) (*http.Response, error) {
	ctx := r.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	login := isLogin(req)
	if login {
		r.login = -1
		if err := r.gate.enter(ctx); err != nil {
			r.lastErr, r.lastStatus = err, 0
			scrub(req)
			return nil, err
		}
	}
	resp, err := r.hc.Do(req.WithContext(ctx))
	if err != nil {
		if login {
			r.gate.done(0, "")
		}
		r.lastErr = err
		r.lastStatus = 0
		scrub(req)
		return nil, err
	}
	r.lastStatus = resp.StatusCode
	r.statuses = append(r.statuses, resp.StatusCode)
	r.lastBody = nil
	if resp.StatusCode == http.StatusNoContent && resp.Body != nil {
		// alb-sdk neither reads nor closes a 204's body (every DELETE): the
		// client's timeout timer and its contexts stayed for the whole
		// timeout after each answered request. Closed here, they end now.
		resp.Body.Close()
		resp.Body = http.NoBody
	}
	if resp.StatusCode >= 400 && resp.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		r.lastBody = b
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	if login {
		r.login = resp.StatusCode
		r.gate.done(resp.StatusCode, controllerMessage(r.lastBody))
	}
	return resp, nil
}

// scrub removes secrets from a request alb-sdk is about to dump into its log.
func scrub(req *http.Request) {
	req.Header.Del("Cookie")
	req.Header.Del("X-CSRFToken")
	req.Header.Del("Authorization")
	req.Body = http.NoBody
	req.GetBody = nil
	req.ContentLength = 0
}

// controllerMessage extracts the human message from an Avi error body
// ({"error": "..."}), falling back to the raw text.
func controllerMessage(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		for _, k := range []string{"error", "detail", "message", "msg"} {
			if s, ok := m[k].(string); ok && s != "" {
				return s
			}
		}
	}
	s := string(body)
	if len(s) > 512 {
		s = s[:512] + "…"
	}
	return s
}

var glogOnce sync.Once

// quietGlog keeps alb-sdk's glog from writing log files. glog's default is to
// create files under the temp directory and to exit the process when it
// cannot (read-only root filesystems); logging to stderr avoids both. It also
// marks the standard flag set as parsed, because alb-sdk calls flag.Parse()
// otherwise, which exits on flags it does not know (ours are pflag's).
// Explicit settings of -logtostderr by the program are left alone.
func quietGlog() {
	glogOnce.Do(func() {
		set := false
		flag.Visit(func(f *flag.Flag) {
			if f.Name == "logtostderr" || f.Name == "log_dir" {
				set = true
			}
		})
		if !set && flag.Lookup("logtostderr") != nil {
			_ = flag.Set("logtostderr", "true")
		}
		if !flag.Parsed() {
			_ = flag.CommandLine.Parse(nil)
		}
	})
}

// Path builds an API path "api/<type>[/<uuid>]" with query parameters,
// escaping values (alb-sdk's SetParams does not).
func Path(objType, uuid string, q url.Values) string {
	p := "api/" + objType
	if uuid != "" {
		p += "/" + url.PathEscape(uuid)
	}
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}

// List reads every object of a collection in pages of pageSize (default 200),
// calling fn for each raw object. q holds filters such as name, created_by,
// fields or include_name. tenant "" uses the client's tenant; "*" asks for all
// tenants (admin only).
func (c *Client) List(ctx context.Context, objType string, q url.Values, tenant string, pageSize int, fn func(json.RawMessage) error) error {
	if pageSize <= 0 {
		pageSize = 200
	}
	q2 := url.Values{}
	for k, v := range q {
		q2[k] = v
	}
	q2.Set("page_size", fmt.Sprint(pageSize))
	seen := 0
	for page := 1; ; page++ {
		if err := ctx.Err(); err != nil {
			return &Error{Op: "GET " + objType, Message: err.Error(), Retryable: true, Err: err}
		}
		q2.Set("page", fmt.Sprint(page))
		var res albsession.AviCollectionResult
		err := c.Do(ctx, "GET "+objType, func(s *albsession.AviSession) error {
			var opts []albsession.ApiOptionsParams
			if tenant != "" {
				opts = append(opts, albsession.SetOptTenant(tenant))
			}
			var e error
			res, e = s.GetCollectionRaw(Path(objType, "", q2), opts...)
			return e
		})
		if err != nil {
			return err
		}
		var items []json.RawMessage
		if len(res.Results) > 0 {
			if err := json.Unmarshal(res.Results, &items); err != nil {
				return &Error{Op: "GET " + objType, Message: "decoding collection: " + err.Error(), Err: err}
			}
		}
		for _, it := range items {
			if err := fn(it); err != nil {
				return err
			}
		}
		seen += len(items)
		if res.Next == "" || len(items) == 0 || seen >= res.Count {
			return nil
		}
	}
}

// Get reads api/<type>/<uuid> into out.
func (c *Client) Get(ctx context.Context, objType, uuid string, q url.Values, tenant string, out any) error {
	return c.Do(ctx, "GET "+objType, func(s *albsession.AviSession) error {
		return s.Get(Path(objType, uuid, q), out, tenantOpt(tenant)...)
	})
}

// Create POSTs obj to api/<type> and decodes the controller's answer into out.
func (c *Client) Create(ctx context.Context, objType string, obj any, tenant string, out any) error {
	return c.Do(ctx, "POST "+objType, func(s *albsession.AviSession) error {
		return s.Post(Path(objType, "", nil), obj, out, tenantOpt(tenant)...)
	})
}

// Update PUTs obj to api/<type>/<uuid> and decodes the controller's answer into out.
func (c *Client) Update(ctx context.Context, objType, uuid string, obj any, tenant string, out any) error {
	return c.Do(ctx, "PUT "+objType, func(s *albsession.AviSession) error {
		return s.Put(Path(objType, uuid, nil), obj, out, tenantOpt(tenant)...)
	})
}

// Delete removes api/<type>/<uuid>. A 404 is success: the object is gone either way.
func (c *Client) Delete(ctx context.Context, objType, uuid, tenant string) error {
	err := c.Do(ctx, "DELETE "+objType, func(s *albsession.AviSession) error {
		return s.DeleteObject(Path(objType, uuid, nil), tenantOpt(tenant)...)
	})
	if IsNotFound(err) {
		return nil
	}
	return err
}

func tenantOpt(tenant string) []albsession.ApiOptionsParams {
	if tenant == "" {
		return nil
	}
	return []albsession.ApiOptionsParams{albsession.SetOptTenant(tenant)}
}

// Close logs every idle session out. The client must not be used afterwards.
func (c *Client) Close() {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	c.forEachIdle(func(sl *slot) {
		if sl.sess != nil {
			_ = sl.sess.Logout()
			sl.sess = nil
		}
	})
}

// errOpaque matches alb-sdk's error when it gives up without details.
var errOpaque = errors.New("Rest request error, returning to caller")
