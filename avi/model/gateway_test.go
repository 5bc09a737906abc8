package model

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/objects"
)

// ruleSummary is "<criteria> <path> -> <pool group or redirect>" of a policy rule.
func ruleSummary(r *objects.HTTPRequestRule) string {
	s := *r.Match.Path.MatchCriteria + " " + r.Match.Path.MatchStr[0]
	if r.Match.HostHdr != nil {
		s = *r.Match.HostHdr.MatchCriteria + ":" + strings.Join(r.Match.HostHdr.Value, ",") + " " + s
	}
	if r.Match.Method != nil {
		s += " " + r.Match.Method.Methods[0]
	}
	for _, h := range r.Match.Hdrs {
		s += " " + *h.Hdr + "=" + h.Value[0]
	}
	if r.RedirectAction != nil {
		return s + " -> redirect " + *r.RedirectAction.Protocol + " " + *r.RedirectAction.StatusCode
	}
	return s + " -> " + strings.TrimPrefix(*r.SwitchingAction.PoolGroupRef, "/api/poolgroup/?name=c1--ns-gw-EVH_")
}

func TestBuildGateway(t *testing.T) {
	in := GatewayInput{Settings: settings(), Namespace: "ns", Name: "gw",
		Listeners: []GatewayListener{
			{Name: "http", Port: 80, Protocol: "HTTP"},
			{Name: "shop", Port: 443, Protocol: "HTTPS", Hostname: "shop.example.com", Certs: []*Cert{{Certificate: []byte("CRT"), Key: []byte("KEY")}}},
		},
		L4Listeners: []GatewayL4Listener{{Name: "dns", Port: 53, Protocol: "UDP", Backend: &GatewayBackend{Namespace: "ns", Name: "dns", Port: 53}}},
		Routes: []GatewayHTTPRoute{
			{Namespace: "ns", Name: "site", Attachments: []GatewayAttachment{{Listener: "http", Ports: []int32{80}}},
				Rules: []GatewayRouteRule{
					{Matches: []GatewayHTTPMatch{{Path: "/", PathMatch: MatchBeginsWith}}, Backends: []GatewayBackend{{Namespace: "ns", Name: "a", Port: 80, Weight: 3}, {Namespace: "ns", Name: "b", Port: 80, Weight: 1}, {Namespace: "ns", Name: "c", Port: 80, Weight: 0}}},
					{Matches: []GatewayHTTPMatch{{Path: "/api/", PathMatch: MatchBeginsWith}, {Path: "/login", PathMatch: MatchEquals, Method: "POST"}}, Backends: []GatewayBackend{{Namespace: "ns", Name: "api", Port: 80, Weight: 1}}},
					{Matches: []GatewayHTTPMatch{{Path: "/", PathMatch: MatchBeginsWith, Headers: []GatewayHeader{{Name: "X-Beta", Value: "1"}}}}, Backends: []GatewayBackend{{Namespace: "ns", Name: "beta", Port: 80, Weight: 1}}},
					{Matches: []GatewayHTTPMatch{{Path: "/old", PathMatch: MatchBeginsWith}}, Redirect: &GatewayRedirect{Scheme: "https", StatusCode: 301}},
				}},
			{Namespace: "ns", Name: "shop", Attachments: []GatewayAttachment{{Listener: "shop", Ports: []int32{443}, Hosts: []string{"shop.example.com"}}},
				Rules: []GatewayRouteRule{{Backends: []GatewayBackend{{Namespace: "ns", Name: "shop", Port: 80, Weight: 1}}}}},
		},
	}
	set, err := BuildGateway(in)
	if err != nil {
		t.Fatal(err)
	}
	if set.Owner != "c1--ns-gw-EVH" || set.OwnedBy != "Gateway/ns/gw" || !set.L7 {
		t.Errorf("owner %q, owned by %q, L7 %v", set.Owner, set.OwnedBy, set.L7)
	}
	var vsNames []string
	for _, v := range set.VirtualServices {
		vsNames = append(vsNames, *v.Name+" "+ptr.Deref(v.Type, "(no type: normal)"))
	}
	if want := []string{"c1--ns-gw-EVH VS_TYPE_VH_PARENT", "c1--ns-gw-EVH_shop VS_TYPE_VH_CHILD", "c1--ns-gw-EVH-L4 (no type: normal)"}; !slices.Equal(vsNames, want) {
		t.Errorf("virtual services %q, want %q", vsNames, want)
	}
	parent, child, l4 := set.VirtualServices[0], set.VirtualServices[1], set.VirtualServices[2]
	if len(parent.Services) != 2 || *parent.Services[0].Port != 80 || parent.Services[0].EnableSsl != nil || *parent.Services[1].Port != 443 || !*parent.Services[1].EnableSsl {
		t.Errorf("parent ports %+v; want 80 plain and 443 SSL", parent.Services)
	}
	if !slices.Equal(parent.SslKeyAndCertificateRefs, []string{"/api/sslkeyandcertificate/?name=System-Default-Cert"}) {
		t.Errorf("parent certificates %v; want the controller's default (every HTTPS listener has a hostname)", parent.SslKeyAndCertificateRefs)
	}
	if !slices.Equal(child.VhDomainName, []string{"shop.example.com"}) || !slices.Equal(child.SslKeyAndCertificateRefs, []string{"/api/sslkeyandcertificate/?name=c1--ns-gw-EVH_shop-0"}) ||
		*child.VhParentVsRef != "/api/virtualservice/?name=c1--ns-gw-EVH" {
		t.Errorf("SNI child %+v", child)
	}
	if *l4.VsvipRef != "/api/vsvip/?name=c1--ns-gw-EVH" || len(l4.ServicePoolSelect) != 1 || *l4.ServicePoolSelect[0].ServicePoolRef != "/api/pool/?name=c1--ns-gw-EVH_dns-UDP-53" {
		t.Errorf("L4 virtual service %+v", l4)
	}
	var got []string
	for _, r := range set.HTTPPolicySets[0].HTTPRequestPolicy.Rules {
		got = append(got, ruleSummary(r))
	}
	want := []string{
		"EQUALS /login HTTP_METHOD_POST -> ns-site-1",
		"EQUALS /api -> ns-site-1", // the longer prefix ("/api/") first
		"BEGINS_WITH /api/ -> ns-site-1",
		"EQUALS /old -> redirect HTTPS HTTP_REDIRECT_STATUS_CODE_301",
		"BEGINS_WITH /old/ -> redirect HTTPS HTTP_REDIRECT_STATUS_CODE_301",
		"BEGINS_WITH / X-Beta=1 -> ns-site-2",
		"BEGINS_WITH / -> ns-site-0",
	}
	if *set.HTTPPolicySets[0].Name != "c1--ns-gw-EVH" || !slices.Equal(got, want) {
		t.Errorf("parent policy %s rules\n got %q\nwant %q", *set.HTTPPolicySets[0].Name, got, want)
	}
	var childRules []string
	for _, r := range set.HTTPPolicySets[1].HTTPRequestPolicy.Rules {
		childRules = append(childRules, ruleSummary(r))
	}
	if *set.HTTPPolicySets[1].Name != "c1--ns-gw-EVH_shop" || !slices.Equal(childRules, []string{"HDR_EQUALS:shop.example.com BEGINS_WITH / -> ns-shop-0"}) {
		t.Errorf("child policy %s rules %q", *set.HTTPPolicySets[1].Name, childRules)
	}
	for _, pg := range set.PoolGroups {
		if *pg.Name != "c1--ns-gw-EVH_ns-site-0" {
			continue
		}
		var ratios []uint32
		for _, m := range pg.Members {
			ratios = append(ratios, *m.Ratio)
		}
		if !slices.Equal(ratios, []uint32{3, 1}) {
			t.Errorf("weighted pool group ratios %v, want [3 1] (weight 0 left out)", ratios)
		}
	}
	for _, o := range set.VirtualServices {
		owner := ""
		for _, m := range o.Markers {
			if *m.Key == MarkerOwner && len(m.Values) == 1 {
				owner = m.Values[0]
			}
		}
		if owner != "Gateway/ns/gw" {
			t.Errorf("%s: owner marker %q, want Gateway/ns/gw", *o.Name, owner)
		}
	}
}

func TestPathMatches(t *testing.T) {
	for _, tc := range []struct {
		m    GatewayHTTPMatch
		want []string
	}{
		{GatewayHTTPMatch{Path: "/", PathMatch: MatchBeginsWith}, []string{"BEGINS_WITH /"}},
		{GatewayHTTPMatch{Path: "/api", PathMatch: MatchBeginsWith}, []string{"EQUALS /api", "BEGINS_WITH /api/"}},
		{GatewayHTTPMatch{Path: "/api/", PathMatch: MatchBeginsWith}, []string{"EQUALS /api", "BEGINS_WITH /api/"}},
		{GatewayHTTPMatch{Path: "/api", PathMatch: MatchEquals}, []string{"EQUALS /api"}},
	} {
		var got []string
		for _, p := range pathMatches(tc.m) {
			got = append(got, *p.MatchCriteria+" "+p.MatchStr[0])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%+v: got %q, want %q", tc.m, got, tc.want)
		}
	}
}
