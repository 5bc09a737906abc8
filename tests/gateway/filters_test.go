package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/avisim/dataplane/echo"
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

	rw := httpRoute(ns, "rewrite", "gw", []string{"rw.example.com"}, rule{"PathPrefix", "/", []string{"api"}})
	rw.Spec.Rules[0].Filters = []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterURLRewrite,
		URLRewrite: &gatewayv1.HTTPURLRewriteFilter{Hostname: ptr.To(gatewayv1.PreciseHostname("internal"))}}}
	env.CreateAndRemove(t, rw)
	waitRouteCondition(t, ns, "rewrite", "gw", "Accepted", "False", "UnsupportedValue",
		"spec.rules[0].filters[0]: filter URLRewrite is not supported yet (RequestRedirect is)")
	if r := echo.Get(addr, "rw.example.com", "/"); r.Answer.Backend != "" {
		t.Errorf("the unaccepted route was served by %s", r.Answer.Backend)
	}
}
