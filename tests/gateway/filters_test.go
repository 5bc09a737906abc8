package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/avisim/dataplane/echo"
	"github.com/vipgate/vipgate/rules"
	"github.com/vipgate/vipgate/tests/harness"
)

// send sends one request to addr (a VIP port) and returns the response and
// which backend answered ("" when none did). Redirects are not followed.
func send(addr, method, host, path string, header map[string]string) (*http.Response, string, error) {
	c := &http.Client{Timeout: 5 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest(method, "http://"+host+path, nil)
	if err != nil {
		return nil, "", err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a, err := echo.ParseAnswer(body)
	if err != nil {
		return resp, "", nil
	}
	return resp, a.Backend, nil
}

// TestHTTPRouteMatchesWeightsRedirect: header and method matches pick
// their rule, backendRef weights split requests in proportion (Avi pool
// group ratios), a RequestRedirect filter answers with the redirect, and a
// filter vipgate cannot express yet leaves the route unaccepted with the
// reason UnsupportedValue instead of half-serving it.
func TestHTTPRouteMatchesWeightsRedirect(t *testing.T) {
	sim := harness.StartTrafficSim(t)
	start(t, sim, nil)
	ensureClass(t)
	ns := newNamespace(t)
	stable := harness.StartEchos(t, 0, "stable-1")
	canary := harness.StartEchos(t, 0, "canary-1")
	api := harness.StartEchos(t, 0, "api-1")
	beta := harness.StartEchos(t, 0, "beta-1")
	backendService(t, ns, "beta", beta...)
	backendService(t, ns, "stable", stable...)
	backendService(t, ns, "canary", canary...)
	backendService(t, ns, "api", api...)
	env.Create(t, gateway(ns, "gw", "http:80:HTTP"))

	rt := httpRoute(ns, "app", "gw", []string{"app.example.com"},
		rule{"PathPrefix", "/", []string{"stable:3", "canary:1"}},
		rule{"PathPrefix", "/", []string{"beta"}},
		rule{"Exact", "/submit", []string{"api"}},
		rule{"PathPrefix", "/old", nil})
	rt.Spec.Rules[1].Matches[0].Headers = []gatewayv1.HTTPHeaderMatch{{Name: "X-Beta", Value: "yes"}}
	rt.Spec.Rules[2].Matches[0].Method = ptr.To(gatewayv1.HTTPMethodPost)
	rt.Spec.Rules[3].Filters = []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestRedirect,
		RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{Hostname: ptr.To(gatewayv1.PreciseHostname("new.example.com")), StatusCode: ptr.To(301)}}}
	env.CreateAndRemove(t, rt)
	addr := served(t, sim, waitProgrammed(t, ns, "gw").Status.Addresses[0].Value, 80)

	eventuallyAnsweredBy(t, addr, "app.example.com", "/", "stable-1", "canary-1")
	counts := map[string]int{}
	for i := 0; i < 40; i++ {
		_, b, err := send(addr, "GET", "app.example.com", "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		counts[b]++
	}
	if counts["stable-1"] != 30 || counts["canary-1"] != 10 {
		t.Errorf("40 requests with weights 3:1 were answered %v; want stable-1 30, canary-1 10", counts)
	}
	for i := 0; i < 5; i++ {
		if _, b, err := send(addr, "GET", "app.example.com", "/", map[string]string{"x-beta": "yes"}); err != nil || b != "beta-1" {
			t.Errorf("with x-beta: yes (header names are case-insensitive): answered by %q (%v); want beta-1", b, err)
		}
	}
	if _, b, err := send(addr, "GET", "app.example.com", "/", map[string]string{"X-Beta": "YES"}); err != nil || (b != "stable-1" && b != "canary-1") {
		t.Errorf("with X-Beta: YES (values are case-sensitive): answered by %q (%v); want the weighted rule", b, err)
	}
	if _, b, err := send(addr, "POST", "app.example.com", "/submit", nil); err != nil || b != "api-1" {
		t.Errorf("POST /submit answered by %q (%v); want api-1", b, err)
	}
	if _, b, err := send(addr, "GET", "app.example.com", "/submit", nil); err != nil || b == "api-1" {
		t.Errorf("GET /submit answered by %q (%v); want the weighted rule, not api-1", b, err)
	}
	resp, _, err := send(addr, "GET", "app.example.com", "/old/page?x=1", nil)
	if err != nil || resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "http://new.example.com/old/page?x=1" {
		t.Errorf("/old/page?x=1: %v %v; want 301 to http://new.example.com/old/page?x=1", resp, err)
	}
	waitRouteCondition(t, ns, "app", "gw", "Accepted", "True", "Accepted", "attached to Gateway "+ns+"/gw")

	mirror := httpRoute(ns, "mirror", "gw", []string{"rw.example.com"}, rule{"PathPrefix", "/", []string{"api"}})
	mirror.Spec.Rules[0].Filters = []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestMirror,
		RequestMirror: &gatewayv1.HTTPRequestMirrorFilter{BackendRef: gatewayv1.BackendObjectReference{Name: "beta", Port: ptr.To(gatewayv1.PortNumber(80))}}}}
	env.CreateAndRemove(t, mirror)
	waitRouteCondition(t, ns, "mirror", "gw", "Accepted", "False", "UnsupportedValue",
		"spec.rules[0].filters[0]: filter RequestMirror is not supported yet (RequestRedirect, RequestHeaderModifier, ResponseHeaderModifier and URLRewrite are)")
	if r := echo.Get(addr, "rw.example.com", "/"); r.Answer.Backend != "" {
		t.Errorf("the unaccepted route was served by %s", r.Answer.Backend)
	}
}

// TestHTTPRouteHeaderAndURLFilters: RequestHeaderModifier (set, add,
// remove) changes the headers the backend gets, ResponseHeaderModifier
// those of the answer (and not of a more specific route's answers), and
// URLRewrite the Host header and path the backend sees (ReplaceFullPath,
// ReplacePrefixMatch as Gateway API's table says, query kept), all
// checked through the Gateway's VIP against what the echo backend got.
func TestHTTPRouteHeaderAndURLFilters(t *testing.T) {
	sim := harness.StartTrafficSim(t)
	start(t, sim, nil)
	ensureClass(t)
	ns := newNamespace(t)
	web := harness.StartEchos(t, 0, "web-1")
	api := harness.StartEchos(t, 0, "api-1")
	backendService(t, ns, "web", web...)
	backendService(t, ns, "api", api...)
	env.Create(t, gateway(ns, "gw", "http:80:HTTP"))

	rt := httpRoute(ns, "app", "gw", []string{"app.example.com"},
		rule{"PathPrefix", "/", []string{"web"}},
		rule{"PathPrefix", "/api", []string{"api"}},
		rule{"PathPrefix", "/strip", []string{"api"}},
		rule{"Exact", "/status", []string{"api"}},
		rule{"PathPrefix", "/plain", []string{"web"}})
	rt.Spec.Rules[0].Filters = []gatewayv1.HTTPRouteFilter{
		{Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{
			Set: []gatewayv1.HTTPHeader{{Name: "X-Env", Value: "prod"}}, Add: []gatewayv1.HTTPHeader{{Name: "X-Trace", Value: "gw"}}, Remove: []string{"X-Debug"}}},
		{Type: gatewayv1.HTTPRouteFilterResponseHeaderModifier, ResponseHeaderModifier: &gatewayv1.HTTPHeaderFilter{
			Set: []gatewayv1.HTTPHeader{{Name: "X-Served-By", Value: "avi"}}, Remove: []string{echo.EchoHeader}}},
	}
	rt.Spec.Rules[1].Filters = []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterURLRewrite, URLRewrite: &gatewayv1.HTTPURLRewriteFilter{
		Hostname: ptr.To(gatewayv1.PreciseHostname("api.internal")),
		Path:     &gatewayv1.HTTPPathModifier{Type: gatewayv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr.To("/v2")}}}}
	rt.Spec.Rules[2].Filters = []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterURLRewrite, URLRewrite: &gatewayv1.HTTPURLRewriteFilter{
		Path: &gatewayv1.HTTPPathModifier{Type: gatewayv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr.To("")}}}}
	rt.Spec.Rules[3].Filters = []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterURLRewrite, URLRewrite: &gatewayv1.HTTPURLRewriteFilter{
		Path: &gatewayv1.HTTPPathModifier{Type: gatewayv1.FullPathHTTPPathModifier, ReplaceFullPath: ptr.To("/healthz")}}}}
	env.CreateAndRemove(t, rt)
	addr := served(t, sim, waitProgrammed(t, ns, "gw").Status.Addresses[0].Value, 80)
	waitRouteCondition(t, ns, "app", "gw", "Accepted", "True", "Accepted", "attached to Gateway "+ns+"/gw")
	eventuallyAnsweredBy(t, addr, "app.example.com", "/api/x", "api-1")

	in := http.Header{"X-Env": {"dev"}, "X-Trace": {"client"}, "X-Debug": {"1"}}
	for _, tc := range []struct {
		path, backend, host, gotPath, query string
		env, trace, debug                   []string
		echoHdr, servedBy                   string
	}{
		{"/page?q=1", "web-1", "app.example.com", "/page", "q=1", []string{"prod"}, []string{"client", "gw"}, nil, "", "avi"},
		{"/api/users/7?q=1", "api-1", "api.internal", rules.RewritePath("/api/users/7", "/api", "/v2"), "q=1", []string{"dev"}, []string{"client"}, []string{"1"}, "api-1", ""},
		{"/api", "api-1", "api.internal", rules.RewritePath("/api", "/api", "/v2"), "", []string{"dev"}, []string{"client"}, []string{"1"}, "api-1", ""},
		{"/strip/a/b", "api-1", "app.example.com", rules.RewritePath("/strip/a/b", "/strip", ""), "", []string{"dev"}, []string{"client"}, []string{"1"}, "api-1", ""},
		{"/strip", "api-1", "app.example.com", rules.RewritePath("/strip", "/strip", ""), "", []string{"dev"}, []string{"client"}, []string{"1"}, "api-1", ""},
		{"/status?v=2", "api-1", "app.example.com", "/healthz", "v=2", []string{"dev"}, []string{"client"}, []string{"1"}, "api-1", ""},
		// A more specific rule of the same route without filters: nothing changed.
		{"/plain/x", "web-1", "app.example.com", "/plain/x", "", []string{"dev"}, []string{"client"}, []string{"1"}, "web-1", ""},
	} {
		r := echo.GetWithHeader(addr, "app.example.com", tc.path, in)
		if r.Err != nil || r.Code != http.StatusOK || r.Answer.Backend != tc.backend {
			t.Errorf("GET %s: %v; want 200 from %s", tc.path, r, tc.backend)
			continue
		}
		a := r.Answer
		h := http.Header(a.Headers)
		if a.Host != tc.host || a.Path != tc.gotPath || a.Query != tc.query {
			t.Errorf("GET %s reached %s as host %q path %q query %q; want %q %q %q", tc.path, a.Backend, a.Host, a.Path, a.Query, tc.host, tc.gotPath, tc.query)
		}
		if !slices.Equal(h.Values("X-Env"), tc.env) || !slices.Equal(h.Values("X-Trace"), tc.trace) || !slices.Equal(h.Values("X-Debug"), tc.debug) {
			t.Errorf("GET %s: the backend got X-Env %q X-Trace %q X-Debug %q; want %q %q %q", tc.path, h.Values("X-Env"), h.Values("X-Trace"), h.Values("X-Debug"), tc.env, tc.trace, tc.debug)
		}
		if r.Header.Get(echo.EchoHeader) != tc.echoHdr || r.Header.Get("X-Served-By") != tc.servedBy {
			t.Errorf("GET %s: the answer has %s %q and X-Served-By %q; want %q and %q", tc.path, echo.EchoHeader, r.Header.Get(echo.EchoHeader), r.Header.Get("X-Served-By"), tc.echoHdr, tc.servedBy)
		}
	}

	// Filters taken off the route leave the controller too.
	var cur gatewayv1.HTTPRoute
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(rt), &cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.Rules[0].Filters = nil
	cur.Spec.Rules[1].Filters = nil
	if err := env.Client.Update(context.Background(), &cur); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "the removed filters are no longer applied", func() string {
		r := echo.GetWithHeader(addr, "app.example.com", "/page", in)
		h := http.Header(r.Answer.Headers)
		if r.Err != nil || h.Get("X-Env") != "dev" || r.Header.Get("X-Served-By") != "" || r.Header.Get(echo.EchoHeader) != "web-1" {
			return fmt.Sprintf("/page: %v, backend got X-Env %q, answer X-Served-By %q %s %q", r, h.Get("X-Env"), r.Header.Get("X-Served-By"), echo.EchoHeader, r.Header.Get(echo.EchoHeader))
		}
		r = echo.Get(addr, "app.example.com", "/api/x")
		if r.Err != nil || r.Answer.Path != "/api/x" || r.Answer.Host != "app.example.com" {
			return fmt.Sprintf("/api/x: %v reached the backend as %q %q", r, r.Answer.Host, r.Answer.Path)
		}
		return ""
	})
}
