package rules

import (
	"fmt"
	"strings"

	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// RouteRule is what vipgate programs of one HTTPRoute rule: its matches and
// filters as Avi can express them (backendRefs are resolved by the caller).
type RouteRule struct {
	Matches []RouteMatch
	Filters RouteFilters
}

// RouteMatch is one match of a rule. PathExact false is a PathPrefix.
type RouteMatch struct {
	Path      string
	PathExact bool
	// Headers are Exact matches (names case-insensitive, values not).
	Headers []RouteHeader
	// Method is the required method, "" for any.
	Method string
}

// RouteHeader is a header name and value.
type RouteHeader struct{ Name, Value string }

// RouteFilters are a rule's filters vipgate programs.
type RouteFilters struct {
	// Redirect answers the rule's requests with a redirect; the other
	// filters are then left out (an Avi redirect action cannot be stacked
	// with other actions, and no backend sees the request).
	Redirect *RouteRedirect
	// RequestHeaders and ResponseHeaders are the header modifiers, nil when
	// the rule has none.
	RequestHeaders, ResponseHeaders *HeaderModifier
	// Rewrite is a URLRewrite filter, nil when the rule has none.
	Rewrite *URLRewrite
}

// RouteRedirect is a RequestRedirect filter: "" and 0 keep the request's
// scheme, host and port; StatusCode is 301 or 302.
type RouteRedirect struct {
	Scheme, Hostname string
	Port             int32
	StatusCode       int
}

// HeaderModifier is a RequestHeaderModifier or ResponseHeaderModifier:
// Set replaces (or adds) a header, Add adds one more value, Remove drops
// every value. They apply in that order.
type HeaderModifier struct {
	Set, Add []RouteHeader
	Remove   []string
}

// URLRewrite is a URLRewrite filter. Hostname "" keeps the Host header;
// FullPath (ReplaceFullPath) or Prefix (ReplacePrefixMatch, of the rule's
// one PathPrefix match) replace the path when set.
type URLRewrite struct {
	Hostname string
	FullPath *string
	Prefix   *string
}

// ParseHTTPRouteRule converts one HTTPRoute rule (at is its field path, e.g.
// "spec.rules[0]") and lists what vipgate cannot express yet, one message
// each. The reconciler serves a route only when the list is empty (the
// route gets Accepted=False, UnsupportedValue, with these messages
// otherwise), and admission warns with them.
func ParseHTTPRouteRule(rule gatewayv1.HTTPRouteRule, at string) (RouteRule, []string) {
	var out RouteRule
	var unsupported []string
	for mi, m := range rule.Matches {
		rm := RouteMatch{Path: "/"}
		if m.Path != nil {
			if m.Path.Value != nil {
				rm.Path = *m.Path.Value
			}
			switch {
			case m.Path.Type == nil || *m.Path.Type == gatewayv1.PathMatchPathPrefix:
			case *m.Path.Type == gatewayv1.PathMatchExact:
				rm.PathExact = true
			default:
				unsupported = append(unsupported, fmt.Sprintf("%s.matches[%d].path: type %s is not supported (Exact and PathPrefix are)", at, mi, *m.Path.Type))
			}
		}
		for hi, h := range m.Headers {
			if h.Type != nil && *h.Type != gatewayv1.HeaderMatchExact {
				unsupported = append(unsupported, fmt.Sprintf("%s.matches[%d].headers[%d]: type %s is not supported (Exact is)", at, mi, hi, *h.Type))
				continue
			}
			rm.Headers = append(rm.Headers, RouteHeader{Name: string(h.Name), Value: h.Value})
		}
		if len(m.QueryParams) > 0 {
			unsupported = append(unsupported, fmt.Sprintf("%s.matches[%d].queryParams: query parameter matches are not supported", at, mi))
		}
		if m.Method != nil {
			rm.Method = string(*m.Method)
		}
		out.Matches = append(out.Matches, rm)
	}
	for fi, f := range rule.Filters {
		fat := fmt.Sprintf("%s.filters[%d]", at, fi)
		switch {
		case f.Type == gatewayv1.HTTPRouteFilterRequestRedirect && f.RequestRedirect != nil:
			rr := f.RequestRedirect
			if rr.Path != nil {
				unsupported = append(unsupported, fat+".requestRedirect.path: path rewriting in redirects is not supported yet")
				continue
			}
			rd := &RouteRedirect{StatusCode: 302}
			if rr.Scheme != nil {
				rd.Scheme = *rr.Scheme
			}
			if rr.Hostname != nil {
				rd.Hostname = string(*rr.Hostname)
			}
			if rr.Port != nil {
				rd.Port = int32(*rr.Port)
			}
			if rr.StatusCode != nil {
				rd.StatusCode = *rr.StatusCode
			}
			out.Filters.Redirect = rd
		case f.Type == gatewayv1.HTTPRouteFilterRequestHeaderModifier && f.RequestHeaderModifier != nil:
			out.Filters.RequestHeaders = headerModifier(f.RequestHeaderModifier)
		case f.Type == gatewayv1.HTTPRouteFilterResponseHeaderModifier && f.ResponseHeaderModifier != nil:
			out.Filters.ResponseHeaders = headerModifier(f.ResponseHeaderModifier)
		case f.Type == gatewayv1.HTTPRouteFilterURLRewrite && f.URLRewrite != nil:
			rw, problem := urlRewrite(f.URLRewrite, rule.Matches, fat)
			if problem != "" {
				unsupported = append(unsupported, problem)
				continue
			}
			out.Filters.Rewrite = rw
		default:
			unsupported = append(unsupported, fmt.Sprintf("%s: filter %s is not supported yet (%s are)", fat, f.Type, supportedFilters))
		}
	}
	if out.Filters.Redirect != nil {
		if out.Filters.ResponseHeaders != nil {
			// Whether the controller's response policy sees a redirect the
			// request policy answered is not known: refuse rather than guess.
			unsupported = append(unsupported, at+".filters: ResponseHeaderModifier together with RequestRedirect is not supported")
		}
		out.Filters.RequestHeaders, out.Filters.Rewrite = nil, nil
	}
	for bi, b := range rule.BackendRefs {
		if len(b.Filters) > 0 {
			unsupported = append(unsupported, fmt.Sprintf("%s.backendRefs[%d].filters: backend filters are not supported", at, bi))
		}
	}
	return out, unsupported
}

// supportedFilters lists the HTTPRoute filters vipgate programs, for messages.
const supportedFilters = "RequestRedirect, RequestHeaderModifier, ResponseHeaderModifier and URLRewrite"

// HTTPRouteUnsupported lists what vipgate cannot express yet in every rule
// of rt (ParseHTTPRouteRule's messages), for admission warnings.
func HTTPRouteUnsupported(rt *gatewayv1.HTTPRoute) []string {
	var out []string
	for ri, rule := range rt.Spec.Rules {
		_, u := ParseHTTPRouteRule(rule, fmt.Sprintf("spec.rules[%d]", ri))
		out = append(out, u...)
	}
	return out
}

func headerModifier(f *gatewayv1.HTTPHeaderFilter) *HeaderModifier {
	m := &HeaderModifier{Remove: append([]string(nil), f.Remove...)}
	for _, h := range f.Set {
		m.Set = append(m.Set, RouteHeader{Name: string(h.Name), Value: h.Value})
	}
	for _, h := range f.Add {
		m.Add = append(m.Add, RouteHeader{Name: string(h.Name), Value: h.Value})
	}
	return m
}

// urlRewrite converts a URLRewrite filter. ReplacePrefixMatch needs the
// rule's one PathPrefix match (the CRD's own validation requires it; a
// match that is not a prefix would make the prefix meaningless).
func urlRewrite(f *gatewayv1.HTTPURLRewriteFilter, matches []gatewayv1.HTTPRouteMatch, at string) (*URLRewrite, string) {
	rw := &URLRewrite{}
	if f.Hostname != nil {
		rw.Hostname = string(*f.Hostname)
	}
	if p := f.Path; p != nil {
		switch p.Type {
		case gatewayv1.FullPathHTTPPathModifier:
			if p.ReplaceFullPath == nil {
				return nil, at + ".urlRewrite.path: replaceFullPath is required with type ReplaceFullPath"
			}
			rw.FullPath = ptr.To(*p.ReplaceFullPath)
		case gatewayv1.PrefixMatchHTTPPathModifier:
			if p.ReplacePrefixMatch == nil {
				return nil, at + ".urlRewrite.path: replacePrefixMatch is required with type ReplacePrefixMatch"
			}
			if len(matches) != 1 || matches[0].Path == nil || (matches[0].Path.Type != nil && *matches[0].Path.Type != gatewayv1.PathMatchPathPrefix) {
				return nil, at + ".urlRewrite.path: ReplacePrefixMatch needs exactly one PathPrefix match in the rule"
			}
			rw.Prefix = ptr.To(*p.ReplacePrefixMatch)
		default:
			return nil, fmt.Sprintf("%s.urlRewrite.path: type %s is not supported (ReplaceFullPath and ReplacePrefixMatch are)", at, p.Type)
		}
	}
	return rw, ""
}

// RewritePath is the path a backend sees for a request to path after a
// ReplacePrefixMatch of prefix by repl, as Gateway API specifies: whole
// path elements, a trailing "/" of prefix or repl ignored, "" and "/"
// alike. The model and its tests use it as the reference for what the
// controller's tokenized rewrite must produce.
func RewritePath(path, prefix, repl string) string {
	p := strings.TrimRight(prefix, "/")
	rest := strings.TrimPrefix(path, p)
	r := strings.TrimRight(repl, "/")
	out := r + rest
	if !strings.HasPrefix(out, "/") {
		out = "/" + out
	}
	return out
}
