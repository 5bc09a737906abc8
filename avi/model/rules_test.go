package model

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/objects"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

// l7Shard builds the single SMALL shard of: team-a/shop serving
// secure.example.com (/ and /api) with a certificate, and
// plain.example.com (/) insecure.
func l7Shard(t *testing.T) (*Set, *ShardPlan) {
	t.Helper()
	s := l7settings("SMALL")
	p := PlanL7(s, []L7Ingress{
		ing("team-a", "shop", 1, map[string][]path{
			"secure.example.com": {{path: "/", svc: "web", port: 80}, {path: "/api", svc: "api", port: 80}},
			"plain.example.com":  {{path: "/", svc: "web", port: 80}},
		}, networkingv1.IngressTLS{Hosts: []string{"secure.example.com"}, SecretName: "tls"}),
	})
	sp := p.Shards["c1--Shared-L7-0"]
	set, err := BuildL7(L7Input{Settings: s, Shard: sp, Certs: map[string]*Cert{"secure.example.com": {Certificate: []byte("C"), Key: []byte("K")}}})
	if err != nil {
		t.Fatal(err)
	}
	return set, sp
}

func vsNamed(set *Set, name string) *objects.VirtualService {
	for _, v := range set.VirtualServices {
		if *v.Name == name {
			return v
		}
	}
	return nil
}

func psNamed(set *Set, name string) *objects.HTTPPolicySet {
	for _, p := range set.HTTPPolicySets {
		if *p.Name == name {
			return p
		}
	}
	return nil
}

func newHostRule(name, fqdn, typ string, minute int, edit func(*v1beta1.HostRuleVirtualHost)) *v1beta1.HostRule {
	hr := &v1beta1.HostRule{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name,
		CreationTimestamp: metav1.NewTime(time.Date(2025, 1, 1, 0, minute, 0, 0, time.UTC))}}
	hr.Spec.VirtualHost = v1beta1.HostRuleVirtualHost{Fqdn: fqdn, FqdnType: typ}
	if edit != nil {
		edit(&hr.Spec.VirtualHost)
	}
	return hr
}

func TestApplyL7RulesHostRule(t *testing.T) {
	set, sp := l7Shard(t)
	child := "c1--secure.example.com"
	hr := newHostRule("secure", "secure.example.com", "Exact", 1, func(v *v1beta1.HostRuleVirtualHost) {
		v.WAFPolicy, v.ApplicationProfile, v.ErrorPageProfile = "demo-waf", "demo-http", "errors"
		v.Datascripts = []string{"ds1", "ds2"}
		v.HTTPPolicy = &v1beta1.HostRuleHTTPPolicy{PolicySets: []string{"extra"}}
		v.EnableVirtualHost = ptr.To(false)
		v.Aliases = []string{"www.example.com"}
		v.AnalyticsPolicy = &v1beta1.HostRuleAnalyticsPolicy{FullClientLogs: &v1beta1.HostRuleFullClientLogs{Enabled: ptr.To(true), Throttle: "LOW"}}
		v.TLS = &v1beta1.HostRuleTLS{SSLKeyCertificate: v1beta1.HostRuleSSLKeyCertificate{Type: "ref", Name: "admin-cert"}, SSLProfile: "strict"}
	})
	// A Wildcard and a Contains rule match too, but Exact wins; the shared
	// parent's Contains rule applies to the parent only.
	wild := newHostRule("wild", "*.example.com", "Wildcard", 0, func(v *v1beta1.HostRuleVirtualHost) { v.WAFPolicy = "wild-waf" })
	shard := newHostRule("shard", "Shared-L7-0", "Contains", 2, func(v *v1beta1.HostRuleVirtualHost) {
		v.WAFPolicy = "shard-waf"
		v.TCPSettings = &v1beta1.HostRuleTCPSettings{Listeners: []v1beta1.HostRuleListener{{Port: 8443, EnableSSL: true}, {Port: 8080}}, LoadBalancerIP: "10.50.0.77"}
	})
	effects := ApplyL7Rules(set, sp, l7settings("SMALL"), L7Rules{HostRules: []HostRuleInput{{Rule: shard}, {Rule: wild}, {Rule: hr}}})

	got := mustJSON(t, vsNamed(set, child))
	for _, want := range []string{
		`"waf_policy_ref": "/api/wafpolicy/?name=demo-waf"`,
		`"application_profile_ref": "/api/applicationprofile/?name=demo-http"`,
		`"error_page_profile_ref": "/api/errorpageprofile/?name=errors"`,
		`"enabled": false`,
		`"ssl_profile_ref": "/api/sslprofile/?name=strict"`,
		`"/api/sslkeyandcertificate/?name=admin-cert"`,
		`"vs_datascript_set_ref": "/api/vsdatascriptset/?name=ds2"`,
		`"http_policy_set_ref": "/api/httppolicyset/?name=extra"`,
		`"throttle": 50`,
		`"www.example.com"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("SNI child lacks %s:\n%s", want, got)
		}
	}
	if c := vsNamed(set, child); len(c.HTTPPolicies) != 2 || *c.HTTPPolicies[1].Index != 12 || len(c.SslKeyAndCertificateRefs) != 1 {
		t.Errorf("child policies %s certs %v", mustJSON(t, c.HTTPPolicies), c.SslKeyAndCertificateRefs)
	}
	// The child's routes match the alias; the parent redirects it to HTTPS.
	for _, r := range psNamed(set, "c1--team-a-secure.example.com").HTTPRequestPolicy.Rules {
		if !slices.Equal(r.Match.HostHdr.Value, []string{"secure.example.com", "www.example.com"}) {
			t.Errorf("child rule %s matches %v", *r.Name, r.Match.HostHdr.Value)
		}
	}
	if !strings.Contains(mustJSON(t, psNamed(set, "c1--Shared-L7-0")), `"name": "www.example.com-redirect-https"`) {
		t.Errorf("parent does not redirect the alias: %s", mustJSON(t, psNamed(set, "c1--Shared-L7-0")))
	}
	parent := vsNamed(set, "c1--Shared-L7-0")
	if ptr.Deref(parent.WafPolicyRef, "") != "/api/wafpolicy/?name=shard-waf" || len(parent.Services) != 2 || *parent.Services[0].Port != 8080 || !ptr.Deref(parent.Services[1].EnableSsl, false) {
		t.Errorf("parent %s", mustJSON(t, parent))
	}
	if a := ptr.Deref(set.VsVips[0].Vip[0].IPAddress, objects.IPAddr{}); ptr.Deref(a.Addr, "") != "10.50.0.77" {
		t.Errorf("VsVip %s", mustJSON(t, set.VsVips[0]))
	}
	want := []RuleEffect{
		{Rule: "HostRule team-a/secure", Objects: []string{"virtualservice/" + child}},
		{Rule: "HostRule team-a/shard", Objects: []string{"virtualservice/c1--Shared-L7-0"}},
	}
	if mustJSON(t, effects) != mustJSON(t, want) {
		t.Errorf("effects %s", mustJSON(t, effects))
	}
}

func TestApplyL7RulesHeldAndDefaults(t *testing.T) {
	set, sp := l7Shard(t)
	child := "c1--secure.example.com"
	hr := newHostRule("secure", "secure.example.com", "Exact", 1, func(v *v1beta1.HostRuleVirtualHost) { v.WAFPolicy = "gone" })
	httpRule := &v1beta1.HTTPRule{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "api"}}
	httpRule.Spec = v1beta1.HTTPRuleSpec{Fqdn: "secure.example.com", Paths: []v1beta1.HTTPRulePath{{Target: "/api", HealthMonitors: []string{"gone"}}}}
	effects := ApplyL7Rules(set, sp, l7settings("SMALL"), L7Rules{HostRules: []HostRuleInput{{Rule: hr, Hold: true}}, HTTPRules: []HTTPRuleInput{{Rule: httpRule, Hold: true}}})

	vs := vsNamed(set, child)
	if vs.WafPolicyRef != nil {
		t.Errorf("a held rule's WAF policy is not written: %v", *vs.WafPolicyRef)
	}
	if !slices.Equal(set.Held["virtualservice/"+child], sortedCopy(HeldHostVS)) {
		t.Errorf("held %v", set.Held)
	}
	apiPool := ""
	for _, r := range sp.Routes {
		if r.Path == "/api" {
			apiPool = r.Pool
		}
	}
	if !slices.Equal(set.Held["pool/"+apiPool], sortedCopy(HeldPool)) {
		t.Errorf("held %v", set.Held)
	}
	for _, r := range psNamed(set, "c1--team-a-secure.example.com").HTTPRequestPolicy.Rules {
		if r.Match.HostHdr != nil {
			t.Errorf("a held host's child rule still matches the host: %s", mustJSON(t, r))
		}
	}
	// Defaults are written on every object, so a removed rule's values go.
	for _, p := range set.Pools {
		if ptr.Deref(p.LbAlgorithm, "") != LBAlgorithmDefault || !ptr.Deref(p.Enabled, false) {
			t.Errorf("pool %s defaults %s", *p.Name, mustJSON(t, p))
		}
	}
	for _, v := range set.VirtualServices {
		if !ptr.Deref(v.Enabled, false) || ptr.Deref(v.AnalyticsProfileRef, "") != "/api/analyticsprofile/?name=System-Analytics-Profile" ||
			ptr.Deref(v.AnalyticsPolicy.FullClientLogs.Enabled, true) {
			t.Errorf("VS %s defaults %s", *v.Name, mustJSON(t, v))
		}
	}
	if len(effects) != 2 || !effects[0].Held || !effects[1].Held {
		t.Errorf("effects %s", mustJSON(t, effects))
	}
}

func TestApplyL7RulesHTTPRule(t *testing.T) {
	set, sp := l7Shard(t)
	rule := func(ns, name string, minute int, paths ...v1beta1.HTTPRulePath) *v1beta1.HTTPRule {
		r := &v1beta1.HTTPRule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(time.Date(2025, 1, 1, 0, minute, 0, 0, time.UTC))}}
		r.Spec = v1beta1.HTTPRuleSpec{Fqdn: "secure.example.com", Paths: paths}
		return r
	}
	root := rule("team-a", "root", 1, v1beta1.HTTPRulePath{Target: "/", LoadBalancerPolicy: &v1beta1.HTTPRuleLBPolicy{Algorithm: "LB_ALGORITHM_ROUND_ROBIN"}})
	api := rule("team-a", "api", 2, v1beta1.HTTPRulePath{Target: "/api",
		LoadBalancerPolicy:     &v1beta1.HTTPRuleLBPolicy{Algorithm: "LB_ALGORITHM_CONSISTENT_HASH", Hash: v1beta1.LBHashCustomHeader, HostHeader: "X-User"},
		HealthMonitors:         []string{"System-HTTP"},
		ApplicationPersistence: "System-Persistence-Client-IP",
		TLS:                    &v1beta1.HTTPRuleTLS{Type: "reencrypt", PKIProfile: "admin-pki"},
		EnableHTTP2:            ptr.To(true)})
	other := rule("team-b", "other", 0, v1beta1.HTTPRulePath{Target: "/", LoadBalancerPolicy: &v1beta1.HTTPRuleLBPolicy{Algorithm: "LB_ALGORITHM_FEWEST_SERVERS"}})
	ApplyL7Rules(set, sp, l7settings("SMALL"), L7Rules{HTTPRules: []HTTPRuleInput{{Rule: root}, {Rule: api}, {Rule: other}}})
	byPath := map[string]*objects.Pool{}
	for _, r := range sp.Routes {
		if r.Host == "secure.example.com" {
			byPath[r.Path] = findPool(set, r.Pool)
		}
	}
	if p := byPath["/"]; ptr.Deref(p.LbAlgorithm, "") != "LB_ALGORITHM_ROUND_ROBIN" || p.LbAlgorithmHash != nil {
		t.Errorf("/ pool %s", mustJSON(t, p))
	}
	wantAPI := `{
 "application_persistence_profile_ref": "/api/applicationpersistenceprofile/?name=System-Persistence-Client-IP",
 "enable_http2": true,
 "health_monitor_refs": ["/api/healthmonitor/?name=System-HTTP"],
 "lb_algorithm": "LB_ALGORITHM_CONSISTENT_HASH",
 "lb_algorithm_consistent_hash_hdr": "X-User",
 "lb_algorithm_hash": "LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_HEADER",
 "pki_profile_ref": "/api/pkiprofile/?name=admin-pki",
 "ssl_profile_ref": "/api/sslprofile/?name=System-Standard"}`
	p := *byPath["/api"]
	p.Name, p.CloudRef, p.VrfRef, p.CreatedBy, p.Servers, p.Markers, p.Enabled = nil, nil, nil, nil, nil, nil, nil
	if mustJSON(t, p) != normJSON(t, strings.Replace(wantAPI, `{`, `{"name": null,`, 1)) {
		t.Errorf("/api pool %s", mustJSON(t, p))
	}
}

func TestApplyL4Rule(t *testing.T) {
	s := settings()
	web := svc("web", corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP})
	dns := svc("dns", corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP})
	build := func(sv *corev1.Service) *Set {
		set, err := BuildL4(L4Input{Settings: s, Members: []Member{{Service: sv}}})
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	rule := &v1alpha2.L4Rule{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "edge"}}
	rule.Spec = v1alpha2.L4RuleSpec{
		AnalyticsProfileRef: v1alpha2.DefaultAnalyticsProfile, ApplicationProfileRef: v1alpha2.DefaultApplicationProfile, NetworkProfileRef: v1alpha2.DefaultNetworkProfile,
		LoadBalancerIP:     "10.50.0.42",
		ListenerProperties: []v1alpha2.ListenerProperties{{Port: 443, Protocol: "TCP", EnableSSL: ptr.To(true)}},
		SSLProfileRef:      "System-Standard", SSLKeyAndCertificateRefs: []string{"edge-cert"},
		PerformanceLimits: &v1alpha2.PerformanceLimits{MaxConcurrentConnections: ptr.To(int32(100))},
		BackendProperties: []v1alpha2.BackendProperties{
			{Port: 443, Protocol: "TCP", LBAlgorithm: "LB_ALGORITHM_CONSISTENT_HASH", LBAlgorithmHash: v1beta1.LBHashSourceIP, Enabled: ptr.To(false),
				HealthMonitorRefs: []string{"System-HTTPS"}, MinServersUp: ptr.To(int32(1))},
			{Port: 80, Protocol: "TCP", LBAlgorithm: "LB_ALGORITHM_ROUND_ROBIN"},
		},
	}
	set := build(web)
	effects := ApplyL4Rule(set, rule, false)
	vs := set.VirtualServices[0]
	if ptr.Deref(vs.ApplicationProfileRef, "") != "/api/applicationprofile/?name=System-SSL-Application" || !ptr.Deref(vs.Services[0].EnableSsl, false) ||
		ptr.Deref(vs.SslProfileRef, "") != "/api/sslprofile/?name=System-Standard" || len(vs.SslKeyAndCertificateRefs) != 1 ||
		*vs.PerformanceLimits.MaxConcurrentConnections != 100 {
		t.Errorf("VS %s", mustJSON(t, vs))
	}
	if a := set.VsVips[0].Vip[0].IPAddress; a == nil || *a.Addr != "10.50.0.42" {
		t.Errorf("VsVip %s", mustJSON(t, set.VsVips[0]))
	}
	var p *objects.Pool
	for _, x := range set.Pools {
		if strings.HasSuffix(*x.Name, "-TCP-443") {
			p = x
		}
	}
	if p == nil {
		t.Fatalf("no pool for 443/TCP in %s", mustJSON(t, set.Pools))
	}
	if *p.LbAlgorithm != "LB_ALGORITHM_CONSISTENT_HASH" || *p.LbAlgorithmHash != v1beta1.LBHashSourceIP || *p.Enabled || *p.MinServersUp != 1 ||
		!slices.Equal(p.HealthMonitorRefs, []string{"/api/healthmonitor/?name=System-HTTPS"}) {
		t.Errorf("pool %s", mustJSON(t, p))
	}
	if len(effects) != 1 || !slices.Equal(effects[0].Objects, []string{"pool/" + *p.Name, "virtualservice/" + *vs.Name}) {
		t.Errorf("effects %s", mustJSON(t, effects))
	}

	// The schema's default TCP profile is not forced on a UDP Service.
	udp := build(dns)
	ApplyL4Rule(udp, &v1alpha2.L4Rule{Spec: v1alpha2.L4RuleSpec{NetworkProfileRef: v1alpha2.DefaultNetworkProfile}}, false)
	if got := *udp.VirtualServices[0].NetworkProfileRef; got != "/api/networkprofile/?name="+NetProfileUDP {
		t.Errorf("UDP VS network profile %s", got)
	}

	// Held: nothing written, the fields are kept as the controller has them.
	held := build(web)
	ApplyL4Rule(held, rule, true)
	if held.VirtualServices[0].SslProfileRef != nil || !slices.Equal(held.Held["virtualservice/"+*vs.Name], sortedCopy(HeldL4VS)) ||
		!slices.Equal(held.Held["pool/"+*p.Name], sortedCopy(HeldPool)) {
		t.Errorf("held set %s", mustJSON(t, held))
	}

	// No rule: vipgate's defaults, nothing held.
	none := build(web)
	ApplyL4Rule(none, nil, false)
	if len(none.Held) != 0 || *none.Pools[0].LbAlgorithm != LBAlgorithmDefault || !*none.VirtualServices[0].Enabled {
		t.Errorf("no rule %s", mustJSON(t, none))
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// TestHostRuleCertNames: every certificate HostRules make vipgate build from
// Secrets, on an SNI child or a shared parent, alternate included, is among
// the names start-up orphan collection keeps.
func TestHostRuleCertNames(t *testing.T) {
	set, sp := l7Shard(t)
	secret := func(v *v1beta1.HostRuleVirtualHost) {
		v.TLS = &v1beta1.HostRuleTLS{SSLKeyCertificate: v1beta1.HostRuleSSLKeyCertificate{Type: "secret", Name: "rule-tls",
			AlternateCertificate: &v1beta1.HostRuleAlternateCertificate{Type: "secret", Name: "rule-ec"}}}
	}
	rs := L7Rules{
		HostRules: []HostRuleInput{{Rule: newHostRule("secure", "secure.example.com", "Exact", 1, secret)}, {Rule: newHostRule("shard", "Shared-L7-0", "Contains", 2, secret)}},
		Certs:     map[string]*Cert{"team-a/rule-tls": {Certificate: []byte("C"), Key: []byte("K")}, "team-a/rule-ec": {Certificate: []byte("E"), Key: []byte("K")}},
	}
	ApplyL7Rules(set, sp, l7settings("SMALL"), rs)
	var built []string
	for _, c := range set.SSLKeyAndCertificates {
		if strings.HasSuffix(*c.Name, "-hostrule") || strings.HasSuffix(*c.Name, "-hostrule-alt") {
			built = append(built, *c.Name)
		}
	}
	slices.Sort(built)
	if want := []string{"c1--Shared-L7-0-hostrule", "c1--Shared-L7-0-hostrule-alt", "c1--secure.example.com-hostrule", "c1--secure.example.com-hostrule-alt"}; !slices.Equal(built, want) {
		t.Fatalf("built %v, want %v", built, want)
	}
	names := HostRuleCertNames(l7settings("SMALL"), &L7Plan{Shards: map[string]*ShardPlan{sp.Name: sp}})
	for _, n := range built {
		if !names[TypeSSLKeyAndCertificate+"/"+n] {
			t.Errorf("HostRuleCertNames lacks %s: %v", n, names)
		}
	}
}
