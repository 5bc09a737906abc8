package rules

import (
	"encoding/json"
	"slices"
	"testing"

	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestParseHTTPRouteRule(t *testing.T) {
	prefix := func(p string) []gatewayv1.HTTPRouteMatch {
		return []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To(p)}}}
	}
	exact := func(p string) []gatewayv1.HTTPRouteMatch {
		return []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchExact), Value: ptr.To(p)}}}
	}
	hdrs := &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: "X-Env", Value: "prod"}}, Add: []gatewayv1.HTTPHeader{{Name: "X-Trace", Value: "1"}}, Remove: []string{"X-Debug"}}
	f := func(t gatewayv1.HTTPRouteFilterType) gatewayv1.HTTPRouteFilter {
		return gatewayv1.HTTPRouteFilter{Type: t}
	}
	reqHdrs := f(gatewayv1.HTTPRouteFilterRequestHeaderModifier)
	reqHdrs.RequestHeaderModifier = hdrs
	rspHdrs := f(gatewayv1.HTTPRouteFilterResponseHeaderModifier)
	rspHdrs.ResponseHeaderModifier = &gatewayv1.HTTPHeaderFilter{Remove: []string{"Server"}}
	rewrite := func(host string, path *gatewayv1.HTTPPathModifier) gatewayv1.HTTPRouteFilter {
		r := f(gatewayv1.HTTPRouteFilterURLRewrite)
		r.URLRewrite = &gatewayv1.HTTPURLRewriteFilter{Path: path}
		if host != "" {
			r.URLRewrite.Hostname = ptr.To(gatewayv1.PreciseHostname(host))
		}
		return r
	}
	redirect := f(gatewayv1.HTTPRouteFilterRequestRedirect)
	redirect.RequestRedirect = &gatewayv1.HTTPRequestRedirectFilter{Hostname: ptr.To(gatewayv1.PreciseHostname("new.example.com")), StatusCode: ptr.To(301)}
	mirror := f(gatewayv1.HTTPRouteFilterRequestMirror)
	mirror.RequestMirror = &gatewayv1.HTTPRequestMirrorFilter{}
	for _, tc := range []struct {
		name        string
		rule        gatewayv1.HTTPRouteRule
		want        string // RouteFilters as JSON
		unsupported []string
	}{
		{"header modifiers", gatewayv1.HTTPRouteRule{Filters: []gatewayv1.HTTPRouteFilter{reqHdrs, rspHdrs}},
			`{"Redirect":null,"RequestHeaders":{"Set":[{"Name":"X-Env","Value":"prod"}],"Add":[{"Name":"X-Trace","Value":"1"}],"Remove":["X-Debug"]},"ResponseHeaders":{"Set":null,"Add":null,"Remove":["Server"]},"Rewrite":null}`, nil},
		{"rewrite host and full path", gatewayv1.HTTPRouteRule{Filters: []gatewayv1.HTTPRouteFilter{rewrite("in.example.com", &gatewayv1.HTTPPathModifier{Type: gatewayv1.FullPathHTTPPathModifier, ReplaceFullPath: ptr.To("/status")})}},
			`{"Redirect":null,"RequestHeaders":null,"ResponseHeaders":null,"Rewrite":{"Hostname":"in.example.com","FullPath":"/status","Prefix":null}}`, nil},
		{"rewrite prefix", gatewayv1.HTTPRouteRule{Matches: prefix("/api"), Filters: []gatewayv1.HTTPRouteFilter{rewrite("", &gatewayv1.HTTPPathModifier{Type: gatewayv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr.To("/v2")})}},
			`{"Redirect":null,"RequestHeaders":null,"ResponseHeaders":null,"Rewrite":{"Hostname":"","FullPath":null,"Prefix":"/v2"}}`, nil},
		{"rewrite prefix of an Exact match", gatewayv1.HTTPRouteRule{Matches: exact("/api"), Filters: []gatewayv1.HTTPRouteFilter{rewrite("", &gatewayv1.HTTPPathModifier{Type: gatewayv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr.To("/v2")})}},
			`{"Redirect":null,"RequestHeaders":null,"ResponseHeaders":null,"Rewrite":null}`,
			[]string{"spec.rules[2].filters[0].urlRewrite.path: ReplacePrefixMatch needs exactly one PathPrefix match in the rule"}},
		{"redirect drops request filters", gatewayv1.HTTPRouteRule{Filters: []gatewayv1.HTTPRouteFilter{redirect, reqHdrs}},
			`{"Redirect":{"Scheme":"","Hostname":"new.example.com","Port":0,"StatusCode":301},"RequestHeaders":null,"ResponseHeaders":null,"Rewrite":null}`, nil},
		{"redirect with a response modifier", gatewayv1.HTTPRouteRule{Filters: []gatewayv1.HTTPRouteFilter{redirect, rspHdrs}},
			`{"Redirect":{"Scheme":"","Hostname":"new.example.com","Port":0,"StatusCode":301},"RequestHeaders":null,"ResponseHeaders":{"Set":null,"Add":null,"Remove":["Server"]},"Rewrite":null}`,
			[]string{"spec.rules[2].filters: ResponseHeaderModifier together with RequestRedirect is not supported"}},
		{"redirect path", gatewayv1.HTTPRouteRule{Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{
			Path: &gatewayv1.HTTPPathModifier{Type: gatewayv1.FullPathHTTPPathModifier, ReplaceFullPath: ptr.To("/x")}}}}},
			`{"Redirect":null,"RequestHeaders":null,"ResponseHeaders":null,"Rewrite":null}`,
			[]string{"spec.rules[2].filters[0].requestRedirect.path: path rewriting in redirects is not supported yet"}},
		{"mirror and backend filters", gatewayv1.HTTPRouteRule{Filters: []gatewayv1.HTTPRouteFilter{mirror}, BackendRefs: []gatewayv1.HTTPBackendRef{{Filters: []gatewayv1.HTTPRouteFilter{reqHdrs}}}},
			`{"Redirect":null,"RequestHeaders":null,"ResponseHeaders":null,"Rewrite":null}`,
			[]string{"spec.rules[2].filters[0]: filter RequestMirror is not supported yet (RequestRedirect, RequestHeaderModifier, ResponseHeaderModifier and URLRewrite are)",
				"spec.rules[2].backendRefs[0].filters: backend filters are not supported"}},
		{"regex and query matches", gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{{
			Path:        &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchRegularExpression), Value: ptr.To("/a.*")},
			Headers:     []gatewayv1.HTTPHeaderMatch{{Type: ptr.To(gatewayv1.HeaderMatchRegularExpression), Name: "X", Value: "y"}},
			QueryParams: []gatewayv1.HTTPQueryParamMatch{{Name: "q", Value: "1"}}}}},
			`{"Redirect":null,"RequestHeaders":null,"ResponseHeaders":null,"Rewrite":null}`,
			[]string{"spec.rules[2].matches[0].path: type RegularExpression is not supported (Exact and PathPrefix are)",
				"spec.rules[2].matches[0].headers[0]: type RegularExpression is not supported (Exact is)",
				"spec.rules[2].matches[0].queryParams: query parameter matches are not supported"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, unsupported := ParseHTTPRouteRule(tc.rule, "spec.rules[2]")
			b, _ := json.Marshal(got.Filters)
			if string(b) != tc.want {
				t.Errorf("filters\n got %s\nwant %s", b, tc.want)
			}
			if !slices.Equal(unsupported, tc.unsupported) {
				t.Errorf("unsupported\n got %q\nwant %q", unsupported, tc.unsupported)
			}
		})
	}
}

// RewritePath follows the table of Gateway API's ReplacePrefixMatch.
func TestRewritePath(t *testing.T) {
	for _, tc := range []struct{ path, prefix, repl, want string }{
		{"/foo/bar", "/foo", "/xyz", "/xyz/bar"},
		{"/foo/bar", "/foo", "/xyz/", "/xyz/bar"},
		{"/foo/bar", "/foo/", "/xyz", "/xyz/bar"},
		{"/foo/bar", "/foo/", "/xyz/", "/xyz/bar"},
		{"/foo", "/foo", "/xyz", "/xyz"},
		{"/foo/", "/foo", "/xyz", "/xyz/"},
		{"/foo/bar", "/foo", "", "/bar"},
		{"/foo/", "/foo", "", "/"},
		{"/foo", "/foo", "", "/"},
		{"/foo/", "/foo", "/", "/"},
		{"/foo", "/foo", "/", "/"},
	} {
		if got := RewritePath(tc.path, tc.prefix, tc.repl); got != tc.want {
			t.Errorf("RewritePath(%q, %q, %q) = %q, want %q", tc.path, tc.prefix, tc.repl, got, tc.want)
		}
	}
}
