package avisim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// fuzzTypes are the /api/<type> paths FuzzAPI picks from by index: every
// stored type, then the singletons and computed resources.
var fuzzTypes = func() []string {
	special := make([]string, 0, len(specialTypes))
	for t := range specialTypes {
		special = append(special, t)
	}
	sort.Strings(special)
	return append(KindNames(), special...)
}()

// fuzzSeed is the demo seed, parsed once: New does not change it.
var fuzzSeed = sync.OnceValue(DemoSeed)

// Operations FuzzAPI applies with its second body (op % 4).
const (
	fuzzPut = iota
	fuzzPatch
	fuzzDelete
	fuzzPost
)

// FuzzAPI drives a fresh demo simulator through its HTTP handler, logged in
// as alb-sdk is: POST body to /api/<type>, then PUT or PATCH the created
// object (or the type's first seeded one) with body2, or DELETE it, or POST
// body2; then GET the collection and the object with query. With no fault
// configured the simulator never answers 5xx (a client would retry an
// error that is the simulator's own), every 4xx body is {"error": "..."}
// as alb-sdk expects, and every other body is JSON.
func FuzzAPI(f *testing.F) {
	f.Fuzz(func(t *testing.T, typeIdx, op uint8, body, body2 []byte, query string) {
		defer fuzzWatchdog(fmt.Sprintf("type %d, op %d, body %q, body2 %q, query %q", typeIdx, op, body, body2, query))()
		sim, err := New(Options{Seed: fuzzSeed()})
		if err != nil {
			t.Fatal(err)
		}
		c := fuzzLogin(t, sim)
		typ := fuzzTypes[int(typeIdx)%len(fuzzTypes)]
		coll := "/api/" + typ

		created := c.do(http.MethodPost, coll, "", body)
		target := ""
		if created.Code == http.StatusCreated {
			var o struct{ UUID string }
			if err := json.Unmarshal(created.Body.Bytes(), &o); err != nil || o.UUID == "" {
				t.Fatalf("POST %s: 201 without a uuid: %s", coll, created.Body)
			}
			target = o.UUID
		} else if list := c.do(http.MethodGet, coll, "page_size=1", nil); list.Code == http.StatusOK {
			var page struct{ Results []struct{ UUID string } }
			if json.Unmarshal(list.Body.Bytes(), &page) == nil && len(page.Results) > 0 {
				target = page.Results[0].UUID
			}
		}
		if target == "" {
			target = "none"
		}
		obj := coll + "/" + target
		switch op % 4 {
		case fuzzPut:
			c.do(http.MethodPut, obj, "", body2)
		case fuzzPatch:
			c.do(http.MethodPatch, obj, "", body2)
		case fuzzDelete:
			c.do(http.MethodDelete, obj, "", nil)
		case fuzzPost:
			c.do(http.MethodPost, coll, "", body2)
		}
		c.do(http.MethodGet, coll, query, nil)
		c.do(http.MethodGet, obj, query, nil)
	})
}

// fuzzClient is a logged-in session on an in-process simulator; every
// answer it gets is checked against FuzzAPI's properties.
type fuzzClient struct {
	t         *testing.T
	h         http.Handler
	sid, csrf string
}

func fuzzLogin(t *testing.T, sim *Sim) *fuzzClient {
	t.Helper()
	rec := httptest.NewRecorder()
	sim.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(`{"username":"admin","password":"admin"}`)))
	if rec.Code != http.StatusOK {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	c := &fuzzClient{t: t, h: sim.Handler()}
	for _, ck := range rec.Result().Cookies() {
		switch ck.Name {
		case "csrftoken":
			c.csrf = ck.Value
		case "sessionid":
			c.sid = ck.Value
		}
	}
	if c.sid == "" || c.csrf == "" {
		t.Fatalf("login set no session: %v", rec.Result().Cookies())
	}
	return c
}

// do sends one request as alb-sdk does (session cookie, CSRF token,
// Referer, X-Avi-Version) and checks the answer.
func (c *fuzzClient) do(method, path, rawQuery string, body []byte) *httptest.ResponseRecorder {
	c.t.Helper()
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	r.URL.RawQuery = rawQuery
	r.AddCookie(&http.Cookie{Name: "sessionid", Value: c.sid})
	r.Header.Set("X-CSRFToken", c.csrf)
	r.Header.Set("Referer", "https://avisim.local/")
	r.Header.Set("X-Avi-Version", "22.1.3")
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, r)

	what := method + " " + path + "?" + rawQuery
	out := rec.Body.Bytes()
	switch {
	case rec.Code >= 500:
		c.t.Fatalf("%s: %d with no fault configured: %s\nbody sent: %q", what, rec.Code, out, body)
	case rec.Code >= 400:
		var e map[string]any
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		if err := dec.Decode(&e); err != nil || dec.More() {
			c.t.Fatalf("%s: %d body is not JSON (%v): %q", what, rec.Code, err, out)
		}
		msg, ok := e["error"].(string)
		if len(e) != 1 || !ok || strings.TrimSpace(msg) == "" {
			c.t.Fatalf(`%s: %d body is not {"error": "<message>"}: %s`, what, rec.Code, out)
		}
	case rec.Code == http.StatusNoContent:
		if len(out) != 0 {
			c.t.Fatalf("%s: 204 with a body: %q", what, out)
		}
	default:
		if !json.Valid(out) {
			c.t.Fatalf("%s: %d body is not JSON: %q", what, rec.Code, out)
		}
	}
	if rec.Code != http.StatusNoContent && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		c.t.Fatalf("%s: %d with Content-Type %q", what, rec.Code, rec.Header().Get("Content-Type"))
	}
	return rec
}

// fuzzHangAfter bounds one fuzz input. Go's fuzzing engine has no per-input
// timeout: a hang would only show as executions stopping. Past the bound
// the process panics, and the engine records the input as a crasher.
const fuzzHangAfter = time.Minute

// fuzzWatchdog arms the hang bound for one input; call the result when done.
func fuzzWatchdog(input string) (stop func() bool) {
	return time.AfterFunc(fuzzHangAfter, func() {
		panic(fmt.Sprintf("fuzz input still running after %v, a hang: %s", fuzzHangAfter, input))
	}).Stop
}
