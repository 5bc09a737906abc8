package avisim

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipgate/vipgate/avisim/dataplane"
)

// Options configures a simulator.
type Options struct {
	// Seed is the initial inventory; nil starts with only the admin tenant
	// and the objects a fresh controller ships (System-* profiles, ...), on
	// the ENTERPRISE tier.
	Seed *Seed
	// Username and Password are accepted by POST /login in addition to the
	// seed's users. Both empty and no seed users means admin/admin.
	Username, Password string
	// Version is reported by /api/initial-data and /login (default 22.1.3).
	Version string
	// SessionTimeout is the idle timeout of a session (default 15 minutes).
	SessionTimeout time.Duration
	// Host is the host[:port] used in urls and references when the
	// simulator is served through Handler; Start/StartTLS replace it with
	// the listener's address. Default "avisim.local".
	Host string
	// Scheme of urls and references when served through Handler
	// (default https).
	Scheme string
	// DataPlane, when set, makes virtual services answer on their VIPs
	// (package avisim/dataplane); Close stops it.
	DataPlane *dataplane.Options
}

// Sim is a simulated Avi Controller.
type Sim struct {
	opts    Options
	version string
	// users maps user names to passwords; usersMu guards it once serving,
	// since SetPassword changes it under running logins.
	usersMu sync.RWMutex
	users   map[string]string

	store    *store
	sessions *sessions
	faults   *Faults
	counts   counters
	logins   atomic.Int64
	// loginFailures counts refused logins (wrong user or password).
	loginFailures atomic.Int64

	mu   sync.Mutex
	srv  *httptest.Server
	host string

	// clusterUUID identifies the controller cluster (GET /api/cluster);
	// upSince is the leader's start time in /api/cluster/runtime, which AKO
	// watches to notice a controller restart.
	clusterUUID string
	upSince     string
	dp          *dataplane.DataPlane
}

// New builds a simulator and loads opts.Seed.
func New(opts Options) (*Sim, error) {
	if opts.Version == "" {
		opts.Version = "22.1.3"
	}
	if opts.SessionTimeout == 0 {
		opts.SessionTimeout = 15 * time.Minute
	}
	if opts.Host == "" {
		opts.Host = "avisim.local"
	}
	if opts.Scheme == "" {
		opts.Scheme = "https"
	}
	s := &Sim{
		opts:     opts,
		version:  opts.Version,
		users:    map[string]string{},
		store:    newStore(opts.Scheme + "://" + opts.Host),
		sessions: newSessions(opts.SessionTimeout),
		host:     opts.Host,

		clusterUUID: newUUID("cluster"),
		upSince:     time.Now().UTC().Format("2006-01-02 15:04:05"),
	}
	s.faults = newFaults(s.sessions)
	s.counts.reset()
	if opts.Seed != nil && opts.Seed.Version != "" && opts.Version == "22.1.3" {
		s.version = opts.Seed.Version
	}
	if err := s.load(opts.Seed); err != nil {
		return nil, err
	}
	if opts.Username != "" {
		s.users[opts.Username] = opts.Password
	}
	if len(s.users) == 0 {
		s.users["admin"] = "admin"
	}
	if opts.DataPlane != nil {
		s.dp = dataplane.New(storeView{s.store}, *opts.DataPlane)
	}
	return s, nil
}

// Start serves the simulator over plain HTTP on a loopback port (use
// session.SetScheme("http") in alb-sdk).
func (s *Sim) Start() *httptest.Server { return s.start(false) }

// StartTLS serves the simulator over HTTPS with a self-signed certificate
// on a loopback port; clients trust it through CACertPEM.
func (s *Sim) StartTLS() *httptest.Server { return s.start(true) }

func (s *Sim) start(tls bool) *httptest.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return s.srv
	}
	srv := httptest.NewUnstartedServer(s)
	// Clients that go away mid-handshake (test clean-up) are not news.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	u, _ := url.Parse(srv.URL)
	s.host = u.Host
	s.rebase(u.Scheme + "://" + u.Host)
	s.srv = srv
	return srv
}

// rebase rewrites stored urls and references to a new scheme://host, so
// that objects seeded before the listener existed carry its address.
func (s *Sim) rebase(base string) {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	old := st.base
	if old == base {
		return
	}
	for _, o := range st.all {
		_ = walkRefs(o.model, func(_ string, ref *string) error {
			if strings.HasPrefix(*ref, old+"/") {
				*ref = base + strings.TrimPrefix(*ref, old)
			}
			return nil
		})
		o.kind.setStr(o.model, o.kind.fURL, base+"/api/"+o.kind.name+"/"+o.uuid)
	}
	for i, r := range st.sysconf.DNSVirtualserviceRefs {
		if strings.HasPrefix(r, old+"/") {
			st.sysconf.DNSVirtualserviceRefs[i] = base + strings.TrimPrefix(r, old)
		}
	}
	st.base = base
}

// Close stops the server started by Start/StartTLS and the data plane.
func (s *Sim) Close() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
	if s.dp != nil {
		s.dp.Close()
	}
}

// URL is the base URL of the started server ("https://127.0.0.1:port").
func (s *Sim) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return ""
	}
	return s.srv.URL
}

// Host is "127.0.0.1:port", the form session.NewAviSession takes.
func (s *Sim) Host() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.host
}

// Handler returns the simulator as an http.Handler for in-process use.
func (s *Sim) Handler() http.Handler { return s }

// Faults returns the fault injector.
func (s *Sim) Faults() *Faults { return s.faults }

// Counts returns the number of authenticated /api/<type> calls keyed by
// "METHOD type" (e.g. "PUT vsvip"), including calls that then failed.
func (s *Sim) Counts() map[string]int { return s.counts.snapshot() }

// Writes returns the number of POST/PUT/PATCH/DELETE calls on /api objects.
func (s *Sim) Writes() int { return int(s.counts.writes.Load()) }

// ObjectWrites counts the writes (PUT, PATCH, DELETE) to each existing
// object since the last ResetCounts, by "type/uuid".
func (s *Sim) ObjectWrites() map[string]int { return s.counts.objectWrites() }

// ResetCounts zeroes the call counters.
func (s *Sim) ResetCounts() { s.counts.reset() }

// Objects returns the objects of one type in one tenant as generic maps,
// sorted by name, for assertions in tests.
func (s *Sim) Objects(tenant, typ string) []map[string]any {
	k := kinds[typ]
	if k == nil {
		return nil
	}
	st := s.store
	st.mu.RLock()
	defer st.mu.RUnlock()
	t := st.tenants[tenant][typ]
	if t == nil {
		return nil
	}
	objs := make([]*object, 0, len(t.byUUID))
	for _, o := range t.byUUID {
		objs = append(objs, o)
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].name < objs[j].name })
	out := make([]map[string]any, 0, len(objs))
	for _, o := range objs {
		b, err := json.Marshal(o.model)
		if err != nil {
			continue
		}
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// Logins returns the number of successful logins, which shows how often
// clients had to re-authenticate.
func (s *Sim) Logins() int { return int(s.logins.Load()) }

// LoginFailures returns the number of refused logins (unknown user or wrong
// password), which shows how hard a client with stale credentials pushes
// against the controller's account lockout.
func (s *Sim) LoginFailures() int { return int(s.loginFailures.Load()) }

// SetPassword sets user's password, adding the user if it is new, as an
// administrator rotating a password on the controller does. Sessions already
// logged in stay valid (ExpireSessions ends them); new logins need the new
// password.
func (s *Sim) SetPassword(user, password string) {
	s.usersMu.Lock()
	s.users[user] = password
	s.usersMu.Unlock()
}

// CACertPEM returns, PEM-encoded, the certificate a client must trust to
// verify the server StartTLS started (its self-signed certificate, which is
// its own CA): what goes into certificateAuthorityData of vipgate's
// credentials. It is nil before StartTLS and for a plain-HTTP server.
func (s *Sim) CACertPEM() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil || s.srv.TLS == nil || s.srv.Certificate() == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}

// Sessions returns the number of live sessions (for tests of re-login).
func (s *Sim) Sessions() int { return s.sessions.count() }

func writeJSON(w http.ResponseWriter, code int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func writeValue(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeErr(w, errf(http.StatusInternalServerError, "encoding response: %v", err))
		return
	}
	writeJSON(w, code, b)
}

func writeErr(w http.ResponseWriter, e *apiError) {
	b, _ := json.Marshal(map[string]string{"error": e.msg})
	writeJSON(w, e.code, b)
}

// namesOf returns the object names a call is about, for FailNamed: the
// name filters of a collection read, the object of a uuid path, the name in
// a create's body (the body is put back for the handler).
func (s *Sim) namesOf(r *http.Request, k *kind, tenant, uuid string) []string {
	q := r.URL.Query()
	names := []string{q.Get("name"), q.Get("name.contains")}
	if k != nil && uuid != "" {
		s.store.mu.RLock()
		if o := s.store.byUUID(tenant, k, uuid); o != nil {
			names = append(names, o.name)
		}
		s.store.mu.RUnlock()
	}
	if r.Method == http.MethodPost && r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err == nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			var m struct {
				Name string `json:"name"`
			}
			if json.Unmarshal(body, &m) == nil {
				names = append(names, m.Name)
			}
		}
	}
	return names
}

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	// alb-sdk joins "https://host/" with "/api/..." in a few helpers
	// (GetControllerVersion), producing "//api/...".
	for strings.HasPrefix(path, "//") {
		path = path[1:]
	}
	if strings.HasPrefix(path, "/admin/") {
		s.serveAdmin(w, r, path)
		return
	}
	if s.faults.isDown() {
		writeErr(w, errf(http.StatusServiceUnavailable, "Controller is not ready (avisim: down)"))
		return
	}
	if d := s.faults.delay(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case path == "/login":
		s.login(w, r)
	case path == "/logout":
		s.logout(w, r)
	case path == "/api/initial-data":
		writeValue(w, http.StatusOK, map[string]any{"version": s.versionInfo()})
	case path == "/api/cluster/status" || path == "/api/cluster/runtime":
		writeValue(w, http.StatusOK, map[string]any{
			"cluster_state": map[string]any{"state": "CLUSTER_UP_NO_HA", "progress": 100},
			"node_states":   []any{map[string]any{"name": s.Host(), "role": "CLUSTER_LEADER", "state": "CLUSTER_ACTIVE", "up_since": s.upSince}},
		})
	case strings.HasPrefix(path, "/api/"):
		s.serveAPI(w, r, path)
	default:
		writeErr(w, errf(http.StatusNotFound, "Not found: %s", path))
	}
}

func (s *Sim) versionInfo() map[string]any {
	return map[string]any{"Version": s.version, "ProductName": "Avi Cloud Controller (avisim)", "Tag": s.version + "-avisim"}
}

func (s *Sim) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeErr(w, errf(http.StatusMethodNotAllowed, "Method %s not allowed", r.Method))
		return
	}
	var cred struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		q, _ := url.ParseQuery(string(body))
		cred.Username, cred.Password = q.Get("username"), q.Get("password")
	} else if err := json.Unmarshal(body, &cred); err != nil {
		writeErr(w, errf(http.StatusBadRequest, "Invalid login body"))
		return
	}
	s.usersMu.RLock()
	pw, ok := s.users[cred.Username]
	s.usersMu.RUnlock()
	if !ok || cred.Username == "" || pw != cred.Password {
		s.loginFailures.Add(1)
		writeErr(w, errf(http.StatusUnauthorized, "Invalid credentials"))
		return
	}
	s.logins.Add(1)
	id, sess := s.sessions.create(cred.Username)
	secure := r.TLS != nil
	http.SetCookie(w, &http.Cookie{Name: "csrftoken", Value: sess.csrf, Path: "/", Secure: secure})
	http.SetCookie(w, &http.Cookie{Name: "sessionid", Value: id, Path: "/", HttpOnly: true, Secure: secure})
	http.SetCookie(w, &http.Cookie{Name: "avi-sessionid", Value: id, Path: "/", HttpOnly: true, Secure: secure})
	writeValue(w, http.StatusOK, map[string]any{
		"user":    map[string]any{"username": cred.Username, "name": cred.Username, "local": true},
		"version": s.versionInfo(),
	})
}

func (s *Sim) logout(w http.ResponseWriter, r *http.Request) {
	for _, name := range []string{"avi-sessionid", "sessionid"} {
		if c, err := r.Cookie(name); err == nil {
			s.sessions.drop(c.Value)
		}
	}
	writeJSON(w, http.StatusOK, []byte("{}"))
}

func isWrite(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch || method == http.MethodDelete
}

func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request, path string) {
	sess, why := s.sessions.lookup(r)
	if sess == nil {
		writeErr(w, errf(http.StatusUnauthorized, "%s", why))
		return
	}
	write := isWrite(r.Method)
	if write {
		if tok := r.Header.Get("X-CSRFToken"); tok == "" || tok != sess.csrf {
			writeErr(w, errf(http.StatusForbidden, "CSRF Failed: CSRF token missing or incorrect."))
			return
		}
		if r.Header.Get("Referer") == "" {
			writeErr(w, errf(http.StatusForbidden, "CSRF Failed: Referer checking failed - no Referer."))
			return
		}
	}
	if r.Header.Get("X-Avi-Version") == "" {
		writeErr(w, errf(http.StatusBadRequest, "X-Avi-Version header is required"))
		return
	}
	tenant := r.Header.Get("X-Avi-Tenant")
	if tenant == "" {
		tenant = adminTenant
	}
	rest := strings.Trim(strings.TrimPrefix(path, "/api/"), "/")
	typ, uuid, _ := strings.Cut(rest, "/")
	k := kinds[typ]
	if (k == nil && !specialTypes[typ]) || strings.Contains(uuid, "/") {
		writeErr(w, errf(http.StatusNotFound, "Unsupported API path %s (avisim serves /api/<type>[/<uuid>] for %s, and /api/%s, /api/%s, /api/%s)", path, strings.Join(KindNames(), ", "), typeSystemConfiguration, typeCluster, typeDomainList))
		return
	}
	s.counts.inc(r.Method, typ)
	if uuid != "" && r.Method != http.MethodGet {
		s.counts.incObject(typ, uuid)
	}

	st := s.store
	st.mu.RLock()
	okTenant := st.hasTenant(tenant)
	st.mu.RUnlock()
	if tenant == allTenants {
		// The controller lets an admin read collections across every tenant
		// with "X-Avi-Tenant: *"; nothing else is valid for it.
		if uuid != "" || r.Method != http.MethodGet {
			writeErr(w, errf(http.StatusBadRequest, "Tenant '*' is valid only for reading collections"))
			return
		}
		okTenant = true
	}
	if !okTenant {
		writeErr(w, errf(http.StatusBadRequest, "Tenant '%s' not found", tenant))
		return
	}
	if code := s.faults.injectedError(); code != 0 {
		writeErr(w, errf(code, "Service unavailable (avisim: injected error)"))
		return
	}
	if code := s.faults.kindError(typ); code != 0 {
		writeErr(w, errf(code, "Service unavailable (avisim: injected error for %s)", typ))
		return
	}
	if s.faults.hasNamed() {
		if code := s.faults.namedError(s.namesOf(r, k, tenant, uuid)...); code != 0 {
			writeErr(w, errf(code, "Service unavailable (avisim: injected error for this object)"))
			return
		}
	}
	if write && s.faults.takeConflict(typ) {
		writeErr(w, errf(http.StatusConflict, "Conflict: object is being modified by another request (avisim: injected conflict)"))
		return
	}

	if write && k != nil && s.faults.takeLost(typ) {
		// Done, but the answer never reaches the client.
		real := w
		w = httptest.NewRecorder()
		defer writeErr(real, errf(http.StatusGatewayTimeout, "Gateway Timeout (avisim: the write was done, its answer lost)"))
	}
	q := r.URL.Query()
	switch {
	case k == nil:
		s.serveSpecial(w, r, tenant, typ, uuid, q)
	case uuid == "" && r.Method == http.MethodGet:
		s.list(w, r, tenant, k, q)
	case uuid == "" && r.Method == http.MethodPost:
		s.create(w, r, tenant, k, q)
	case uuid != "" && r.Method == http.MethodGet:
		s.get(w, tenant, k, uuid, q)
	case uuid != "" && (r.Method == http.MethodPut || r.Method == http.MethodPatch):
		s.update(w, r, tenant, k, uuid, q)
	case uuid != "" && r.Method == http.MethodDelete:
		if aerr := checkObjectParams(q); aerr != nil {
			writeErr(w, aerr)
			return
		}
		s.delete(w, tenant, k, uuid)
	default:
		writeErr(w, errf(http.StatusMethodNotAllowed, "Method %s not allowed on %s", r.Method, path))
	}
}

// maxBody bounds a request body.
const maxBody = 16 << 20

func readBody(r *http.Request) ([]byte, *apiError) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, errf(http.StatusBadRequest, "reading body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errf(http.StatusBadRequest, "Request body is empty")
	}
	return b, nil
}

func renderOpts(q url.Values) (bool, []string) {
	var fields []string
	if f := q.Get("fields"); f != "" {
		fields = strings.Split(f, ",")
	}
	return includeName(q), fields
}

func (s *Sim) respondObject(w http.ResponseWriter, code int, o *object, q url.Values) {
	inc, fields := renderOpts(q)
	st := s.store
	st.mu.RLock()
	b, err := st.render(o, inc, fields)
	st.mu.RUnlock()
	if err != nil {
		writeErr(w, errf(http.StatusInternalServerError, "encoding %s: %v", o.kind.name, err))
		return
	}
	writeJSON(w, code, b)
}

func (s *Sim) get(w http.ResponseWriter, tenant string, k *kind, uuid string, q url.Values) {
	if aerr := checkObjectParams(q, "cloud_uuid"); aerr != nil {
		writeErr(w, aerr)
		return
	}
	st := s.store
	st.mu.RLock()
	o := st.byUUID(tenant, k, uuid)
	if o != nil && q.Has("cloud_uuid") {
		// AKO reads networks as /api/network/<uuid>?cloud_uuid=<cloud>:
		// an object of another cloud is not found there.
		if k.fCloudRef < 0 || uuidOfRef(k.getStr(o.model, k.fCloudRef)) != q.Get("cloud_uuid") {
			o = nil
		}
	}
	st.mu.RUnlock()
	if o == nil {
		writeErr(w, errf(http.StatusNotFound, "%s object with uuid %s not found", k.name, uuid))
		return
	}
	s.respondObject(w, http.StatusOK, o, q)
}

func (s *Sim) create(w http.ResponseWriter, r *http.Request, tenant string, k *kind, q url.Values) {
	if aerr := checkObjectParams(q); aerr != nil {
		writeErr(w, aerr)
		return
	}
	body, aerr := readBody(r)
	if aerr != nil {
		writeErr(w, aerr)
		return
	}
	m, aerr := decodeStrict(k, body)
	if aerr != nil {
		writeErr(w, aerr)
		return
	}
	st := s.store
	st.mu.Lock()
	o, aerr := st.save(tenant, k, m, nil)
	st.mu.Unlock()
	if aerr != nil {
		writeErr(w, aerr)
		return
	}
	s.respondObject(w, http.StatusCreated, o, q)
}

func (s *Sim) update(w http.ResponseWriter, r *http.Request, tenant string, k *kind, uuid string, q url.Values) {
	if aerr := checkObjectParams(q); aerr != nil {
		writeErr(w, aerr)
		return
	}
	body, aerr := readBody(r)
	if aerr != nil {
		writeErr(w, aerr)
		return
	}
	var m any
	if r.Method == http.MethodPut {
		if m, aerr = decodeStrict(k, body); aerr != nil {
			writeErr(w, aerr)
			return
		}
	}
	st := s.store
	st.mu.Lock()
	defer func() {
		if st != nil {
			st.mu.Unlock()
		}
	}()
	old, aerr := st.writable(tenant, k, uuid, "modified")
	if aerr != nil {
		writeErr(w, aerr)
		return
	}
	if r.Method == http.MethodPatch {
		if m, aerr = patch(k, old.model, body); aerr != nil {
			writeErr(w, aerr)
			return
		}
	}
	o, aerr := st.save(tenant, k, m, old)
	st.mu.Unlock()
	st = nil
	if aerr != nil {
		writeErr(w, aerr)
		return
	}
	s.respondObject(w, http.StatusOK, o, q)
}

func (s *Sim) delete(w http.ResponseWriter, tenant string, k *kind, uuid string) {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	o, aerr := st.writable(tenant, k, uuid, "deleted")
	if aerr != nil {
		writeErr(w, aerr)
		return
	}
	if k.name == "tenant" && o.name == adminTenant {
		writeErr(w, errf(http.StatusForbidden, "The admin tenant cannot be deleted"))
		return
	}
	if aerr := st.remove(o); aerr != nil {
		writeErr(w, aerr)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// patch applies an Avi PATCH body ({"add"|"replace"|"delete": {...}}) to
// the current model and strictly decodes the result. add appends to lists
// and sets scalars, replace overwrites fields, delete removes list
// elements equal to the given ones (or the field when the value is not a
// list).
func patch(k *kind, cur any, body []byte) (any, *apiError) {
	var ops map[string]map[string]any
	if err := json.Unmarshal(body, &ops); err != nil {
		return nil, errf(http.StatusBadRequest, "Invalid PATCH body: %v", err)
	}
	if len(ops) != 1 {
		return nil, errf(http.StatusBadRequest, "PATCH body must have exactly one of add, replace, delete")
	}
	b, _ := json.Marshal(cur)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for op, fields := range ops {
		for f, v := range fields {
			switch op {
			case "replace":
				m[f] = v
			case "add":
				if list, ok := v.([]any); ok {
					if have, ok := m[f].([]any); ok {
						m[f] = append(have, list...)
						continue
					}
				}
				m[f] = v
			case "delete":
				list, ok := v.([]any)
				have, ok2 := m[f].([]any)
				if !ok || !ok2 {
					delete(m, f)
					continue
				}
				var keep []any
				for _, h := range have {
					hb, _ := json.Marshal(h)
					drop := false
					for _, d := range list {
						if db, _ := json.Marshal(d); bytes.Equal(hb, db) {
							drop = true
						}
					}
					if !drop {
						keep = append(keep, h)
					}
				}
				m[f] = keep
			default:
				return nil, errf(http.StatusBadRequest, "Unknown PATCH operation '%s' (use add, replace or delete)", op)
			}
		}
	}
	nb, _ := json.Marshal(m)
	return decodeStrict(k, nb)
}

// list serves GET /api/<type> with the controller's filters and paging.
func (s *Sim) list(w http.ResponseWriter, r *http.Request, tenant string, k *kind, q url.Values) {
	page, pageSize := 1, 25
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeErr(w, errf(http.StatusBadRequest, "Invalid page '%s'", v))
			return
		}
		page = n
	}
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			writeErr(w, errf(http.StatusBadRequest, "Invalid page_size '%s': the page_size can range from 1 to 200", v))
			return
		}
		pageSize = n
	}
	includeName, fields := renderOpts(q)

	st := s.store
	st.mu.RLock()
	defer st.mu.RUnlock()
	listKey := tenant + "\x00" + k.name + "\x00" + withoutPage(q)
	matched, ok := st.listed.get(listKey, st.gen)
	if !ok {
		var aerr *apiError
		if matched, aerr = s.match(tenant, k, q); aerr != nil {
			writeErr(w, aerr)
			return
		}
		st.listed.put(listKey, st.gen, matched)
	}

	total := len(matched)
	start := (page - 1) * pageSize
	if start > total {
		start = total
	}
	end := min(start+pageSize, total)
	var buf bytes.Buffer
	buf.WriteString(`{"count":`)
	buf.WriteString(strconv.Itoa(total))
	buf.WriteString(`,"results":[`)
	for i, o := range matched[start:end] {
		b, err := st.render(o, includeName, fields)
		if err != nil {
			writeErr(w, errf(http.StatusInternalServerError, "encoding %s: %v", k.name, err))
			return
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(b)
	}
	buf.WriteByte(']')
	if end < total {
		nq := url.Values{}
		for key, v := range q {
			nq[key] = v
		}
		nq.Set("page", strconv.Itoa(page+1))
		next, _ := json.Marshal(st.base + "/api/" + k.name + "?" + nq.Encode())
		buf.WriteString(`,"next":`)
		buf.Write(next)
	}
	buf.WriteByte('}')
	writeJSON(w, http.StatusOK, buf.Bytes())
}

// match returns the objects of kind k a listing with query q shows in
// tenant, sorted by name: every page of the listing is a slice of it.
// Called with the store's read lock held.
func (s *Sim) match(tenant string, k *kind, q url.Values) ([]*object, *apiError) {
	st := s.store
	var cands []*object
	addTable := func(t *table) {
		if t == nil {
			return
		}
		for _, o := range t.byUUID {
			cands = append(cands, o)
		}
	}
	filterTenant := tenant
	switch {
	case tenant == allTenants:
		filterTenant = adminTenant
		for _, tables := range st.tenants {
			addTable(tables[k.name])
		}
		if name := q.Get("name"); name != "" {
			matchName := cands[:0]
			for _, o := range cands {
				if o.name == name {
					matchName = append(matchName, o)
				}
			}
			cands = matchName
		}
	case q.Get("name") != "":
		if o := st.byName(tenant, k, q.Get("name")); o != nil {
			cands = append(cands, o)
		}
	default:
		addTable(st.tenants[tenant][k.name])
		if k.provider && tenant != adminTenant {
			addTable(st.tenants[adminTenant][k.name])
		}
	}
	filter, aerr := s.filters(filterTenant, k, q)
	if aerr != nil {
		return nil, aerr
	}
	matched := cands[:0]
	for _, o := range cands {
		if filter(o) {
			matched = append(matched, o)
		}
	}
	sort.Slice(matched, func(i, j int) bool { return matched[i].name < matched[j].name })
	return matched, nil
}

// withoutPage is q without the page number: the key of one listing's pages.
func withoutPage(q url.Values) string {
	rest := url.Values{}
	for k, v := range q {
		if k != "page" {
			rest[k] = v
		}
	}
	return rest.Encode()
}

// listCache keeps the matched objects of the last few listings, so reading
// a collection of n objects in pages costs one filter and sort, not one per
// page (a client paging through 15,000 pools asked for 75 sorts of 15,000).
// An entry holds while the store's write count is the one it was made at.
type listCache struct {
	mu      sync.Mutex
	entries map[string]listEntry
}

type listEntry struct {
	gen  uint64
	objs []*object
}

// maxListings bounds the listings kept (clients page through a few
// collections at once).
const maxListings = 16

func (c *listCache) get(key string, gen uint64) ([]*object, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || e.gen != gen {
		return nil, false
	}
	return e.objs, true
}

func (c *listCache) put(key string, gen uint64, objs []*object) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxListings {
		c.entries = map[string]listEntry{}
	}
	c.entries[key] = listEntry{gen, objs}
}

func (s *Sim) serveAdmin(w http.ResponseWriter, r *http.Request, path string) {
	switch path {
	case "/admin/faults":
		switch r.Method {
		case http.MethodGet:
		case http.MethodPost, http.MethodPut:
			var req FaultRequest
			dec := json.NewDecoder(r.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
				writeErr(w, errf(http.StatusBadRequest, "Invalid faults body: %v", err))
				return
			}
			s.faults.Apply(req)
		case http.MethodDelete:
			s.faults.Reset()
		default:
			writeErr(w, errf(http.StatusMethodNotAllowed, "Method %s not allowed", r.Method))
			return
		}
		writeValue(w, http.StatusOK, s.faults.State())
	case "/admin/counters":
		switch r.Method {
		case http.MethodGet:
		case http.MethodDelete, http.MethodPost:
			s.ResetCounts()
		default:
			writeErr(w, errf(http.StatusMethodNotAllowed, "Method %s not allowed", r.Method))
			return
		}
		writeValue(w, http.StatusOK, map[string]any{"counts": s.Counts(), "writes": s.Writes()})
	case "/admin/dataplane":
		s.serveDataPlane(w, r)
	case "/admin/objects":
		writeValue(w, http.StatusOK, s.Objects(orDefault(r.URL.Query().Get("tenant"), adminTenant), r.URL.Query().Get("type")))
	default:
		writeErr(w, errf(http.StatusNotFound, "Not found: %s (admin endpoints: /admin/faults, /admin/counters, /admin/objects, /admin/dataplane)", path))
	}
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// String describes the simulator for logs.
func (s *Sim) String() string { return fmt.Sprintf("avisim %s at %s", s.version, s.Host()) }
