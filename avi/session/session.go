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
	// Transport overrides the HTTP transport (tests). Its TLS settings are used as given.
	Transport http.RoundTripper
}

// Client is a pool of alb-sdk sessions to one controller and tenant.
// It is safe for concurrent use, and implements avi.Client.
type Client struct {
	host    string
	tenant  string
	version string
	newSess func(rc *recordingClient) (*albsession.AviSession, error)
	pool    chan *slot
	closeMu sync.Mutex
}

// slot is one alb-sdk session with its recording HTTP client. A slot is used
// by one goroutine at a time, which is what makes the recorder's fields safe.
type slot struct {
	rc   *recordingClient
	sess *albsession.AviSession // nil until first use
}

// New connects to the controller named by cs with creds. It logs in once
// (so wrong credentials or an unreachable controller fail here, with a
// classified error) and resolves the API version when none is configured.
func New(ctx context.Context, cs config.ControllerSettings, creds config.Credentials, opts Options) (*Client, error) {
	log := logr.FromContextOrDiscard(ctx).WithValues("controller", cs.ControllerHost, "tenant", cs.TenantName)
	quietGlog()
	if opts.Timeout <= 0 {
		opts.Timeout = 20 * time.Second
	}
	if opts.PoolSize <= 0 {
		opts.PoolSize = 8
	}
	if creds.Username == "" || (creds.Password == "" && creds.AuthToken == "") {
		return nil, &Error{Op: "login", Status: 0, Message: "credentials need a username and a password or authtoken"}
	}
	rt := opts.Transport
	if rt == nil {
		tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if creds.CertificateAuthorityData != "" {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM([]byte(creds.CertificateAuthorityData)) {
				return nil, &Error{Op: "login", Message: "certificateAuthorityData holds no PEM certificate"}
			}
			tlsCfg.RootCAs = pool
		} else {
			// AKO's behaviour: without CA data the controller's certificate is not verified.
			tlsCfg.InsecureSkipVerify = true
			log.Info("controller certificate is not verified: no certificateAuthorityData in the credentials")
		}
		rt = &http.Transport{
			TLSClientConfig:     tlsCfg,
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: opts.PoolSize * 2,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: opts.Timeout,
		}
	}
	hc := &http.Client{Transport: rt, Timeout: opts.Timeout}
	c := &Client{host: cs.ControllerHost, tenant: cs.TenantName, version: cs.ControllerVersion}
	if c.tenant == "" {
		c.tenant = "admin"
	}
	c.newSess = func(rc *recordingClient) (*albsession.AviSession, error) {
		o := []func(*albsession.AviSession) error{
			albsession.SetTenant(c.tenant),
			albsession.SetClient(rc),
			albsession.SetTimeout(opts.Timeout),
			// No retry loops inside alb-sdk: on 5xx / 401 it returns to us,
			// and we re-login once ourselves (see do).
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
	c.pool = make(chan *slot, opts.PoolSize)
	for i := 0; i < opts.PoolSize; i++ {
		c.pool <- &slot{rc: &recordingClient{hc: hc}}
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
	sl.rc.ctx = ctx
	for attempt := 0; ; attempt++ {
		sl.rc.reset()
		var err error
		if sl.sess == nil {
			sl.sess, err = c.newSess(sl.rc)
			if err != nil {
				sl.sess = nil
				return classify("login", err, sl.rc)
			}
			sl.rc.reset()
		}
		err = fn(sl.sess)
		if err == nil {
			return nil
		}
		if attempt == 0 && sl.rc.sawStatus(http.StatusUnauthorized) && sl.rc.lastStatus != http.StatusUnauthorized && ctx.Err() == nil {
			// Session expired: alb-sdk logged in again but does not repeat the
			// request when its status check is disabled. A 401 means the
			// request was not processed, so repeating it is safe.
			logr.FromContextOrDiscard(ctx).V(1).Info("controller session expired; logged in again", "op", op)
			continue
		}
		if attempt == 0 && sl.rc.sawStatus(419) && ctx.Err() == nil {
			// Some controller versions answer 419 to an expired session
			// without alb-sdk logging in again: start a fresh session.
			sl.sess = nil
			continue
		}
		if sl.rc.sawStatus(http.StatusUnauthorized) && sl.rc.lastStatus == http.StatusUnauthorized {
			// Re-login failed: drop the session so the next use starts clean.
			sl.sess = nil
		}
		return classify(op, err, sl.rc)
	}
}

// recordingClient is the http client handed to alb-sdk. It binds requests to
// the caller's context, remembers the status and body of error responses
// (alb-sdk drops them for 5xx when its retries are off) and strips cookies and
// CSRF headers from failed requests, because alb-sdk dumps failed requests to
// its log.
type recordingClient struct {
	hc         *http.Client
	ctx        context.Context
	lastStatus int
	statuses   []int
	lastBody   []byte
	lastErr    error
}

func (r *recordingClient) reset() {
	r.lastStatus, r.statuses, r.lastBody, r.lastErr = 0, r.statuses[:0], nil, nil
}

func (r *recordingClient) sawStatus(code int) bool {
	for _, s := range r.statuses {
		if s == code {
			return true
		}
	}
	return false
}

// Do implements alb-sdk's HttpClient.
func (r *recordingClient) Do(req *http.Request) (*http.Response, error) {
	out := req
	if r.ctx != nil {
		out = req.WithContext(r.ctx)
	}
	resp, err := r.hc.Do(out)
	if err != nil {
		r.lastErr = err
		r.lastStatus = 0
		scrub(req)
		return nil, err
	}
	r.lastStatus = resp.StatusCode
	r.statuses = append(r.statuses, resp.StatusCode)
	r.lastBody = nil
	if resp.StatusCode >= 400 && resp.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		r.lastBody = b
		resp.Body = io.NopCloser(bytes.NewReader(b))
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
