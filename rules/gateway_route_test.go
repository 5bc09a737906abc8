package rules

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestIntersectHosts(t *testing.T) {
	for _, tc := range []struct {
		listener string
		route    []gatewayv1.Hostname
		want     []string
		ok       bool
	}{
		{"", nil, nil, true},
		{"", []gatewayv1.Hostname{"a.example.com"}, []string{"a.example.com"}, true},
		{"a.example.com", nil, []string{"a.example.com"}, true},
		{"a.example.com", []gatewayv1.Hostname{"a.example.com", "b.example.com"}, []string{"a.example.com"}, true},
		{"*.example.com", []gatewayv1.Hostname{"a.example.com", "example.com", "a.other.com"}, []string{"a.example.com"}, true},
		{"a.example.com", []gatewayv1.Hostname{"*.example.com"}, []string{"a.example.com"}, true},
		{"*.example.com", []gatewayv1.Hostname{"*.a.example.com"}, []string{"*.a.example.com"}, true},
		{"a.example.com", []gatewayv1.Hostname{"b.example.com"}, nil, false},
	} {
		got, ok := intersectHosts(tc.listener, tc.route)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("listener %q route %v: got %v %v, want %v %v", tc.listener, tc.route, got, ok, tc.want, tc.ok)
		}
	}
}

// routeLookups adds Gateways and Services to fakeGatewayLookups.
type routeLookups struct {
	fakeGatewayLookups
	gateways map[string]*gatewayv1.Gateway
	services map[string]*corev1.Service
}

func (l routeLookups) Gateway(_ context.Context, ns, name string) (*gatewayv1.Gateway, error) {
	return l.gateways[ns+"/"+name], nil
}
func (l routeLookups) Service(_ context.Context, ns, name string) (*corev1.Service, error) {
	return l.services[ns+"/"+name], nil
}

func withFilter(rt *gatewayv1.HTTPRoute, f gatewayv1.HTTPRouteFilter) *gatewayv1.HTTPRoute {
	rt.Spec.Rules[0].Filters = append(rt.Spec.Rules[0].Filters, f)
	return rt
}

func TestValidateHTTPRoute(t *testing.T) {
	ours := gw("default", "gw", listener("shop", 8080, gatewayv1.HTTPProtocolType, "shop.example.com"))
	ours.Spec.Listeners = ours.Spec.Listeners[1:] // only the shop listener: no catch-all on port 80
	theirs := gw("default", "other", gwClass("other"))
	grant := &gatewayv1.ReferenceGrant{Spec: gatewayv1.ReferenceGrantSpec{
		From: []gatewayv1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "HTTPRoute", Namespace: "default"}},
		To:   []gatewayv1.ReferenceGrantTo{{Kind: "Service", Name: ptr.To(gatewayv1.ObjectName("api"))}}}}
	rl := routeLookups{
		fakeGatewayLookups: fakeGatewayLookups{classes: map[string]*gatewayv1.GatewayClass{
			"avi-lb": {Spec: gatewayv1.GatewayClassSpec{ControllerName: "ako.vmware.com/avi-lb"}},
			"other":  {Spec: gatewayv1.GatewayClassSpec{ControllerName: "example.com/gw"}}},
			grants: map[string][]*gatewayv1.ReferenceGrant{"shared": {grant}}},
		gateways: map[string]*gatewayv1.Gateway{"default/gw": ours, "default/other": theirs},
		services: map[string]*corev1.Service{"default/web": {}, "shared/api": {}, "shared/db": {}},
	}
	route := func(parent string, hosts []gatewayv1.Hostname, backends ...gatewayv1.BackendObjectReference) *gatewayv1.HTTPRoute {
		rt := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "r"}}
		rt.Spec.ParentRefs = []gatewayv1.ParentReference{{Name: gatewayv1.ObjectName(parent)}}
		rt.Spec.Hostnames = hosts
		rule := gatewayv1.HTTPRouteRule{}
		for _, b := range backends {
			rule.BackendRefs = append(rule.BackendRefs, gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: b}})
		}
		rt.Spec.Rules = []gatewayv1.HTTPRouteRule{rule}
		return rt
	}
	svc := func(ns, name string) gatewayv1.BackendObjectReference {
		r := gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(name), Port: ptr.To(gatewayv1.PortNumber(80))}
		if ns != "" {
			r.Namespace = ptr.To(gatewayv1.Namespace(ns))
		}
		return r
	}
	shop := []gatewayv1.Hostname{"shop.example.com"}
	for _, tc := range []struct {
		name      string
		rt        *gatewayv1.HTTPRoute
		wantErrs  []string
		wantWarns []string
	}{
		{name: "fine", rt: route("gw", shop, svc("", "web"))},
		{name: "another controller's Gateway passes untouched", rt: route("other", []gatewayv1.Hostname{"x.example.com"}, svc("elsewhere", "nope"))},
		{name: "granted cross-namespace backend", rt: route("gw", shop, svc("shared", "api"))},
		{name: "cross-namespace backend the grant does not name", rt: route("gw", shop, svc("shared", "db")),
			wantErrs: []string{`spec.rules[0].backendRefs[0]: Invalid value: "shared/db": Service shared/db is in another namespace and no ReferenceGrant in shared lets HTTPRoutes of namespace default use it; create one there (from: group gateway.networking.k8s.io, kind HTTPRoute, namespace default; to: group "", kind Service, name db)`}},
		{name: "missing backend warns", rt: route("gw", shop, svc("", "gone")),
			wantWarns: []string{`spec.rules[0].backendRefs[0]: Service default/gone does not exist; requests for this backend fail until it is created (ResolvedRefs=False, BackendNotFound)`}},
		{name: "hostname no listener serves warns", rt: route("gw", []gatewayv1.Hostname{"blog.example.com"}, svc("", "web")),
			wantWarns: []string{`spec.parentRefs[0]: none of the route's hostnames [blog.example.com] matches a listener hostname of Gateway default/gw; the route is not attached there (NoMatchingListenerHostname)`}},
		{name: "not a Service", rt: route("gw", shop, gatewayv1.BackendObjectReference{Kind: ptr.To(gatewayv1.Kind("Bucket")), Name: "b"}),
			wantErrs: []string{`spec.rules[0].backendRefs[0].kind: Unsupported value: "Bucket": supported values: "Service"`}},
		{name: "a filter vipgate does not program warns", rt: withFilter(route("gw", shop, svc("", "web")), gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterRequestMirror,
			RequestMirror: &gatewayv1.HTTPRequestMirrorFilter{BackendRef: svc("", "web")}}),
			wantWarns: []string{`spec.rules[0].filters[0]: filter RequestMirror is not supported yet (RequestRedirect, RequestHeaderModifier, ResponseHeaderModifier and URLRewrite are); the route is not served (Accepted=False, UnsupportedValue)`}},
		{name: "header modifiers are fine", rt: withFilter(route("gw", shop, svc("", "web")), gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
			RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: "X-Env", Value: "prod"}}}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ValidateHTTPRoute(tc.rt, Env{Settings: demoSettings(), Now: now}, rl)
			checkResult(t, res, tc.wantErrs, tc.wantWarns)
		})
	}
}
