package model

import (
	"encoding/json"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/objects"
	"github.com/vipgate/vipgate/rules"
)

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHdrActions(t *testing.T) {
	got := jsonOf(t, hdrActions(&rules.HeaderModifier{
		Set:    []rules.RouteHeader{{Name: "X-Env", Value: "prod"}},
		Add:    []rules.RouteHeader{{Name: "X-Trace", Value: "a"}, {Name: "X-Trace", Value: "b"}},
		Remove: []string{"X-Debug"},
	}))
	want := `[{"action":"HTTP_REPLACE_HDR","hdr":{"name":"X-Env","value":{"val":"prod"}},"hdr_index":0},` +
		`{"action":"HTTP_ADD_HDR","hdr":{"name":"X-Trace","value":{"val":"a"}},"hdr_index":1},` +
		`{"action":"HTTP_ADD_HDR","hdr":{"name":"X-Trace","value":{"val":"b"}},"hdr_index":2},` +
		`{"action":"HTTP_REMOVE_HDR","hdr":{"name":"X-Debug"},"hdr_index":3}]`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestRewriteAction(t *testing.T) {
	const (
		q    = `,"query":{"keep_query":true}}`
		eq   = MatchEquals
		pref = MatchBeginsWith
	)
	for _, tc := range []struct {
		name      string
		rw        rules.URLRewrite
		matchPath string
		criteria  string
		want      string
	}{
		{"hostname only", rules.URLRewrite{Hostname: "internal.example.com"}, "/", pref,
			`{"host_hdr":{"type":"URI_PARAM_TYPE_TOKENIZED","tokens":[{"type":"URI_TOKEN_TYPE_STRING","str_value":"internal.example.com"}]}}`},
		{"full path", rules.URLRewrite{FullPath: ptr.To("/v2/status")}, "/", pref,
			`{"path":{"type":"URI_PARAM_TYPE_TOKENIZED","tokens":[{"type":"URI_TOKEN_TYPE_STRING","str_value":"v2/status"}]}` + q},
		{"full path root", rules.URLRewrite{FullPath: ptr.To("/")}, "/x", eq,
			`{"path":{"type":"URI_PARAM_TYPE_TOKENIZED","tokens":[{"type":"URI_TOKEN_TYPE_STRING","str_value":"/"}]}` + q},
		{"prefix, the prefix itself", rules.URLRewrite{Prefix: ptr.To("/v2")}, "/api", eq,
			`{"path":{"type":"URI_PARAM_TYPE_TOKENIZED","tokens":[{"type":"URI_TOKEN_TYPE_STRING","str_value":"v2"}]}` + q},
		{"prefix, below it", rules.URLRewrite{Prefix: ptr.To("/v2/")}, "/api/", pref,
			`{"path":{"type":"URI_PARAM_TYPE_TOKENIZED","tokens":[{"type":"URI_TOKEN_TYPE_STRING","str_value":"v2/"},{"type":"URI_TOKEN_TYPE_PATH","start_index":1,"end_index":65535}]}` + q},
		{"two-segment prefix stripped", rules.URLRewrite{Prefix: ptr.To("")}, "/api/v1", pref,
			`{"path":{"type":"URI_PARAM_TYPE_TOKENIZED","tokens":[{"type":"URI_TOKEN_TYPE_PATH","start_index":2,"end_index":65535}]}` + q},
		{"prefix stripped to root", rules.URLRewrite{Prefix: ptr.To("/")}, "/api", eq,
			`{"path":{"type":"URI_PARAM_TYPE_TOKENIZED","tokens":[{"type":"URI_TOKEN_TYPE_STRING","str_value":"/"}]}` + q},
		{"root prefix and host", rules.URLRewrite{Hostname: "in", Prefix: ptr.To("/app")}, "/", pref,
			`{"host_hdr":{"type":"URI_PARAM_TYPE_TOKENIZED","tokens":[{"type":"URI_TOKEN_TYPE_STRING","str_value":"in"}]},"path":{"type":"URI_PARAM_TYPE_TOKENIZED","tokens":[{"type":"URI_TOKEN_TYPE_STRING","str_value":"app/"},{"type":"URI_TOKEN_TYPE_PATH","start_index":0,"end_index":65535}]}` + q},
		{"nothing to rewrite", rules.URLRewrite{}, "/", pref, `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pm := &objects.PathMatch{MatchCriteria: ptr.To(tc.criteria), MatchStr: []string{tc.matchPath}}
			got := jsonOf(t, rewriteAction(&tc.rw, GatewayHTTPMatch{Path: tc.matchPath, PathMatch: tc.criteria}, pm))
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// Filters land on the rule that routes the request; response rules mirror
// every request rule in order, so a more specific route without a response
// modifier stops a less specific one's from reaching its answers; a
// redirect carries no other action.
func TestBuildGatewayFilters(t *testing.T) {
	att := []GatewayAttachment{{Listener: "http", Ports: []int32{80}}}
	be := []GatewayBackend{{Namespace: "ns", Name: "a", Port: 80, Weight: 1}}
	in := GatewayInput{Settings: settings(), Namespace: "ns", Name: "gw",
		Listeners: []GatewayListener{{Name: "http", Port: 80, Protocol: "HTTP"}},
		Routes: []GatewayHTTPRoute{{Namespace: "ns", Name: "r", Attachments: att, Rules: []GatewayRouteRule{
			{Matches: []GatewayHTTPMatch{{Path: "/", PathMatch: MatchBeginsWith}}, Backends: be,
				RequestHeaders:  &rules.HeaderModifier{Set: []rules.RouteHeader{{Name: "X-Env", Value: "prod"}}},
				ResponseHeaders: &rules.HeaderModifier{Remove: []string{"Server"}}},
			{Matches: []GatewayHTTPMatch{{Path: "/api", PathMatch: MatchBeginsWith}}, Backends: be, Rewrite: &rules.URLRewrite{Prefix: ptr.To("/v2")}},
			{Matches: []GatewayHTTPMatch{{Path: "/old", PathMatch: MatchEquals}}, Redirect: &GatewayRedirect{Hostname: "new", StatusCode: 302},
				RequestHeaders: &rules.HeaderModifier{Set: []rules.RouteHeader{{Name: "X-Lost", Value: "1"}}}},
		}}}}
	set, err := BuildGateway(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.HTTPPolicySets) != 1 {
		t.Fatalf("%d policy sets, want 1", len(set.HTTPPolicySets))
	}
	ps := set.HTTPPolicySets[0]
	type summary struct {
		path    string
		hdrs    int
		rewrite bool
	}
	var req []summary
	for _, r := range ps.HTTPRequestPolicy.Rules {
		req = append(req, summary{*r.Match.Path.MatchCriteria + " " + r.Match.Path.MatchStr[0], len(r.HdrAction), r.RewriteURLAction != nil})
		if r.RedirectAction != nil && (r.HdrAction != nil || r.RewriteURLAction != nil || r.SwitchingAction != nil) {
			t.Errorf("redirect rule %s stacks other actions", *r.Name)
		}
	}
	wantReq := []summary{{"EQUALS /old", 0, false}, {"EQUALS /api", 0, true}, {"BEGINS_WITH /api/", 0, true}, {"BEGINS_WITH /", 1, false}}
	if jsonOf(t, req) != jsonOf(t, wantReq) {
		t.Errorf("request rules %+v, want %+v", req, wantReq)
	}
	if ps.HTTPResponsePolicy == nil {
		t.Fatal("no response policy")
	}
	var rsp []string
	for i, r := range ps.HTTPResponsePolicy.Rules {
		q := ps.HTTPRequestPolicy.Rules[i]
		if *r.Index != int32(i+1) || *r.Name != *q.Name || jsonOf(t, r.Match) != jsonOf(t, q.Match) {
			t.Errorf("response rule %d (%s, index %d) does not mirror request rule %s", i, *r.Name, *r.Index, *q.Name)
		}
		rsp = append(rsp, jsonOf(t, r.HdrAction))
	}
	wantRsp := []string{"null", "null", "null", `[{"action":"HTTP_REMOVE_HDR","hdr":{"name":"Server"},"hdr_index":0}]`}
	if jsonOf(t, rsp) != jsonOf(t, wantRsp) {
		t.Errorf("response actions %q, want %q", rsp, wantRsp)
	}

	// Without any response modifier, no response policy at all.
	in.Routes[0].Rules[0].ResponseHeaders = nil
	set, err = BuildGateway(in)
	if err != nil {
		t.Fatal(err)
	}
	if set.HTTPPolicySets[0].HTTPResponsePolicy != nil {
		t.Errorf("response policy without response modifiers: %s", jsonOf(t, set.HTTPPolicySets[0].HTTPResponsePolicy))
	}
}
