package avisim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vmware/alb-sdk/go/session"
)

func TestLoginVersionAndCluster(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	v, err := c.AviSession.GetControllerVersion()
	must(t, err)
	if v != "22.1.3" {
		t.Fatalf("version %q", v)
	}
	var rt map[string]any
	must(t, c.AviSession.Get("api/cluster/runtime", &rt))
	if st := rt["cluster_state"].(map[string]any)["state"]; st != "CLUSTER_UP_NO_HA" {
		t.Fatalf("cluster state %v", st)
	}
	if sim.Logins() != 1 {
		t.Fatalf("logins = %d", sim.Logins())
	}
}

func TestLoginWrongPassword(t *testing.T) {
	sim := startSim(t, DemoSeed())
	_, err := session.NewAviSession(sim.Host(), "admin", session.SetPassword("nope"), session.SetInsecure, session.SetVersion("22.1.3"))
	wantAviErr(t, err, http.StatusUnauthorized, "Invalid credentials")
}

// After ExpireSessions the next call gets 401 and alb-sdk logs in again
// (twice: once on the 401 and once after its controller status check) and
// retries the call, which then succeeds.
func TestReloginAfterSessionExpiry(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	_, err := c.Cloud.GetByName("Default-Cloud")
	must(t, err)
	sim.Faults().ExpireSessions()
	cl, err := c.Cloud.GetByName("Default-Cloud")
	must(t, err)
	if *cl.Name != "Default-Cloud" {
		t.Fatalf("cloud %v", *cl.Name)
	}
	if sim.Logins() < 2 {
		t.Fatalf("want a re-login, logins = %d", sim.Logins())
	}
	if got := sim.Counts()["GET cloud"]; got != 2 {
		t.Fatalf("GET cloud counted %d, want 2 (401s are not counted)", got)
	}
}

// With DisableControllerStatusCheckOnFailure alb-sdk logs in again on 401
// but does not retry: the caller gets a plain error and must retry itself.
func TestExpiryWithStatusCheckDisabled(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim, session.DisableControllerStatusCheckOnFailure(true))
	sim.Faults().ExpireSessions()
	_, err := c.Cloud.GetByName("Default-Cloud")
	if err == nil {
		t.Fatal("want an error from alb-sdk")
	}
	if _, _, ok := aviErr(err); ok {
		t.Fatalf("alb-sdk returned an AviError: %v", err)
	}
	_, err = c.Cloud.GetByName("Default-Cloud")
	must(t, err)
}

// The session checks alb-sdk never fails are exercised with raw requests
// against the in-process handler.
func TestSessionRequirements(t *testing.T) {
	sim, err := New(Options{Seed: DemoSeed()})
	must(t, err)
	h := sim.Handler()
	login := httptest.NewRequest("POST", "/login", strings.NewReader(`{"username":"admin","password":"admin"}`))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, login)
	if rec.Code != 200 {
		t.Fatalf("login %d %s", rec.Code, rec.Body)
	}
	cookies := rec.Result().Cookies()
	var csrf, sid string
	for _, c := range cookies {
		switch c.Name {
		case "csrftoken":
			csrf = c.Value
		case "avi-sessionid":
			sid = c.Value
		}
	}
	if csrf == "" || sid == "" {
		t.Fatalf("cookies %v", cookies)
	}
	req := func(method, path string, mod func(*http.Request)) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(`{"name":"p1"}`))
		r.AddCookie(&http.Cookie{Name: "sessionid", Value: sid})
		r.Header.Set("X-CSRFToken", csrf)
		r.Header.Set("Referer", "https://avisim.local/")
		r.Header.Set("X-Avi-Version", "22.1.3")
		if mod != nil {
			mod(r)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	cases := []struct {
		name, method, path string
		mod                func(*http.Request)
		code               int
		msg                string
	}{
		{"ok", "GET", "/api/pool", nil, 200, `"count":0`},
		{"no cookie", "GET", "/api/pool", func(r *http.Request) { r.Header.Del("Cookie") }, 401, "credentials were not provided"},
		{"bad cookie", "GET", "/api/pool", func(r *http.Request) {
			r.Header.Del("Cookie")
			r.AddCookie(&http.Cookie{Name: "sessionid", Value: "x"})
		}, 401, "expired session"},
		{"no csrf on write", "POST", "/api/pool", func(r *http.Request) { r.Header.Del("X-CSRFToken") }, 403, "CSRF"},
		{"no referer on write", "POST", "/api/pool", func(r *http.Request) { r.Header.Del("Referer") }, 403, "Referer"},
		{"no version", "GET", "/api/pool", func(r *http.Request) { r.Header.Del("X-Avi-Version") }, 400, "X-Avi-Version"},
		{"unknown tenant", "GET", "/api/pool", func(r *http.Request) { r.Header.Set("X-Avi-Tenant", "nope") }, 400, "Tenant 'nope' not found"},
		{"unknown type", "GET", "/api/frobnicator", nil, 404, "Unsupported API path"},
		{"status needs no session", "GET", "/api/cluster/status", func(r *http.Request) { r.Header.Del("Cookie") }, 200, "CLUSTER_UP"},
		{"initial-data with double slash", "GET", "//api/initial-data", nil, 200, "22.1.3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := req(tc.method, tc.path, tc.mod)
			if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.msg) {
				t.Fatalf("got %d %s, want %d containing %q", w.Code, w.Body, tc.code, tc.msg)
			}
		})
	}
}
