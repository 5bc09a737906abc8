package dataplane_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/vmware/alb-sdk/go/models"

	"github.com/vipgate/vipgate/avisim/dataplane/echo"
)

func hdr(action, name, val string) *models.HTTPHdrAction {
	a := &models.HTTPHdrAction{Action: s(action), Hdr: &models.HTTPHdrData{Name: s(name)}}
	if val != "" {
		a.Hdr.Value = &models.HTTPHdrValue{Val: s(val)}
	}
	return a
}

func strTok(v string) *models.URIParamToken {
	return &models.URIParamToken{Type: s("URI_TOKEN_TYPE_STRING"), StrValue: s(v)}
}

func pathTok(from, to uint32) *models.URIParamToken {
	return &models.URIParamToken{Type: s("URI_TOKEN_TYPE_PATH"), StartIndex: u32(from), EndIndex: u32(to)}
}

func tokenized(ts ...*models.URIParamToken) *models.URIParam {
	return &models.URIParam{Type: s("URI_PARAM_TYPE_TOKENIZED"), Tokens: ts}
}

// TestRequestAndResponseActions: the routing rule's header actions change
// the headers the backend gets (replace, add, remove, Host included), its
// URL rewrite the Host header, path and query the backend sees (path
// tokens from the request as the client sent it); the first response rule
// matching the original request changes the answer's headers. Actions of a
// request rule that matched but did not route are not applied.
func TestRequestAndResponseActions(t *testing.T) {
	e := newEnv(t, nil)
	a := backend(t, "a", "127.0.11.1")
	pg := e.poolGroup("pg-acts", a)
	keep := &models.URIParamQuery{KeepQuery: b(true)}
	req := []*models.HTTPRequestRule{
		// Matches every request but only changes headers: not applied.
		{Name: s("noise"), Index: i32(1), Enable: b(true), Match: &models.MatchTarget{Path: pathIs("BEGINS_WITH", "/")},
			HdrAction: []*models.HTTPHdrAction{hdr("HTTP_ADD_HDR", "X-Noise", "1")}},
		{Name: s("hdrs"), Index: i32(2), Enable: b(true), Match: &models.MatchTarget{Path: pathIs("BEGINS_WITH", "/hdrs")}, SwitchingAction: toGroup(pg),
			HdrAction: []*models.HTTPHdrAction{hdr("HTTP_REPLACE_HDR", "X-Env", "prod"), hdr("HTTP_ADD_HDR", "X-Trace", "b"), hdr("HTTP_REMOVE_HDR", "X-Debug", ""), hdr("HTTP_REPLACE_HDR", "Host", "set.example.com")}},
		{Name: s("full"), Index: i32(3), Enable: b(true), Match: &models.MatchTarget{Path: pathIs("EQUALS", "/full")}, SwitchingAction: toGroup(pg),
			RewriteURLAction: &models.HTTPRewriteURLAction{HostHdr: tokenized(strTok("internal.example.com")), Path: tokenized(strTok("v2/status")), Query: keep}},
		{Name: s("prefix"), Index: i32(4), Enable: b(true), Match: &models.MatchTarget{Path: pathIs("BEGINS_WITH", "/api/")}, SwitchingAction: toGroup(pg),
			RewriteURLAction: &models.HTTPRewriteURLAction{Path: tokenized(strTok("v2/"), pathTok(1, 65535)), Query: keep}},
		{Name: s("drop-query"), Index: i32(5), Enable: b(true), Match: &models.MatchTarget{Path: pathIs("BEGINS_WITH", "/strip/")}, SwitchingAction: toGroup(pg),
			RewriteURLAction: &models.HTTPRewriteURLAction{Path: tokenized(pathTok(1, 65535))}},
		{Name: s("rest"), Index: i32(6), Enable: b(true), Match: &models.MatchTarget{Path: pathIs("BEGINS_WITH", "/")}, SwitchingAction: toGroup(pg)},
	}
	rsp := []*models.HTTPResponseRule{
		// Matches the path the client sent (/api/...), not the rewritten one.
		{Name: s("api"), Index: i32(1), Enable: b(true), Match: &models.ResponseMatchTarget{Path: pathIs("BEGINS_WITH", "/api/")},
			HdrAction: []*models.HTTPHdrAction{hdr("HTTP_REMOVE_HDR", echo.EchoHeader, ""), hdr("HTTP_ADD_HDR", "X-Api", "v2")}},
		// First match wins: /v2 answers are not changed by "all".
		{Name: s("v2"), Index: i32(2), Enable: b(true), Match: &models.ResponseMatchTarget{Path: pathIs("BEGINS_WITH", "/v2/")}},
		{Name: s("all"), Index: i32(3), Enable: b(true), Match: &models.ResponseMatchTarget{Path: pathIs("BEGINS_WITH", "/")},
			HdrAction: []*models.HTTPHdrAction{hdr("HTTP_REPLACE_HDR", echo.EchoHeader, "hidden")}},
	}
	ps := e.create("httppolicyset", &models.HTTPPolicySet{Name: s("acts"), HTTPRequestPolicy: &models.HTTPRequestPolicy{Rules: req},
		HTTPResponsePolicy: &models.HTTPResponsePolicy{Rules: rsp}})
	ip, _ := e.httpVS("acts", func(vs *models.VirtualService) { vs.HTTPPolicies = policies(ps) }, &models.Service{Port: u32(80)})
	addr := e.addr(ip, 80, "tcp")

	in := http.Header{"X-Env": {"dev"}, "X-Trace": {"a"}, "X-Debug": {"1"}}
	for _, tc := range []struct {
		path                 string
		host, gotPath, query string
		env, trace, debug    []string
		echoHdr, api         string
	}{
		{"/hdrs/x?q=1", "set.example.com", "/hdrs/x", "q=1", []string{"prod"}, []string{"a", "b"}, nil, "hidden", ""},
		{"/full?q=1", "internal.example.com", "/v2/status", "q=1", []string{"dev"}, []string{"a"}, []string{"1"}, "hidden", ""},
		{"/api/users/7?q=1", "app.example.com", "/v2/users/7", "q=1", []string{"dev"}, []string{"a"}, []string{"1"}, "", "v2"},
		{"/api/?q=1", "app.example.com", "/v2/", "q=1", []string{"dev"}, []string{"a"}, []string{"1"}, "", "v2"},
		{"/strip/a/b?q=1", "app.example.com", "/a/b", "", []string{"dev"}, []string{"a"}, []string{"1"}, "hidden", ""},
		{"/v2/x", "app.example.com", "/v2/x", "", []string{"dev"}, []string{"a"}, []string{"1"}, "a", ""},
	} {
		r := echo.GetWithHeader(addr, "app.example.com", tc.path, in)
		if r.Err != nil || r.Code != 200 || r.Answer.Backend != "a" {
			t.Errorf("GET %s: %v", tc.path, r)
			continue
		}
		got := r.Answer
		h := http.Header(got.Headers)
		if got.Host != tc.host || got.Path != tc.gotPath || got.Query != tc.query {
			t.Errorf("GET %s reached the backend as host %q path %q query %q; want %q %q %q", tc.path, got.Host, got.Path, got.Query, tc.host, tc.gotPath, tc.query)
		}
		if !slices.Equal(h.Values("X-Env"), tc.env) || !slices.Equal(h.Values("X-Trace"), tc.trace) || !slices.Equal(h.Values("X-Debug"), tc.debug) || h.Get("X-Noise") != "" {
			t.Errorf("GET %s: backend got X-Env %q X-Trace %q X-Debug %q X-Noise %q; want %q %q %q and no X-Noise",
				tc.path, h.Values("X-Env"), h.Values("X-Trace"), h.Values("X-Debug"), h.Get("X-Noise"), tc.env, tc.trace, tc.debug)
		}
		if r.Header.Get(echo.EchoHeader) != tc.echoHdr || r.Header.Get("X-Api") != tc.api {
			t.Errorf("GET %s: answer has %s %q, X-Api %q; want %q, %q", tc.path, echo.EchoHeader, r.Header.Get(echo.EchoHeader), r.Header.Get("X-Api"), tc.echoHdr, tc.api)
		}
	}
}
