package rules

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipgate/vipgate/crds/v1beta1"
)

func httpRule(ns, name, fqdn string, created int, paths ...v1beta1.HTTPRulePath) *v1beta1.HTTPRule {
	hr := &v1beta1.HTTPRule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if created != 0 {
		hr.CreationTimestamp = metav1.NewTime(now.Add(time.Duration(created) * time.Minute))
	}
	hr.Spec.Fqdn, hr.Spec.Paths = fqdn, paths
	return hr
}

func lbPolicy(algo, hash, hdr string) *v1beta1.HTTPRuleLBPolicy {
	return &v1beta1.HTTPRuleLBPolicy{Algorithm: algo, Hash: hash, HostHeader: hdr}
}

func TestValidateHTTPRule(t *testing.T) {
	ca := newCert(t, "ca.example.com", now.Add(-time.Hour), now.Add(time.Hour))
	lookups := func() *fakeLookups {
		f := newFake()
		f.addIngress(ingress("team-a", "shop", hosts("shop.example.com")))
		f.addHTTPRule(httpRule("team-b", "api", "shop.example.com", -60, v1beta1.HTTPRulePath{Target: "/api"}))
		going := httpRule("team-b", "going", "shop.example.com", -90, v1beta1.HTTPRulePath{Target: "/old"})
		going.DeletionTimestamp = &metav1.Time{Time: now}
		f.addHTTPRule(going)
		return f
	}
	tests := []struct {
		name      string
		hr, old   *v1beta1.HTTPRule
		stale     bool
		wantErrs  []string
		wantWarns []string
	}{
		{name: "every reference exists and fits",
			hr: httpRule("team-a", "r", "shop.example.com", 0, v1beta1.HTTPRulePath{Target: "/",
				LoadBalancerPolicy: lbPolicy("LB_ALGORITHM_CONSISTENT_HASH", "LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_HEADER", "X-User"),
				HealthMonitors:     []string{"System-HTTP", "System-TCP"}, ApplicationPersistence: "System-Persistence-Http-Cookie",
				TLS: &v1beta1.HTTPRuleTLS{Type: "reencrypt", SSLProfile: "System-Standard", PKIProfile: "admin-pki"}})},
		{name: "missing health monitor, persistence and PKI profiles",
			hr: httpRule("team-a", "r", "shop.example.com", 0, v1beta1.HTTPRulePath{Target: "/",
				HealthMonitors: []string{"hm"}, ApplicationPersistence: "sticky",
				TLS: &v1beta1.HTTPRuleTLS{Type: "reencrypt", PKIProfile: "pki"}}),
			wantErrs: []string{
				`spec.paths[0].healthMonitors[0]: Invalid value: "hm": no health monitor named "hm" exists on the controller in tenant "admin"; create it there first, or name an existing one (System-HTTP, System-TCP)`,
				`spec.paths[0].applicationPersistence: Invalid value: "sticky": no persistence profile named "sticky" exists on the controller in tenant "admin"; create it there first, or name an existing one (System-Persistence-Client-IP, System-Persistence-Http-Cookie)`,
				`spec.paths[0].tls.pkiProfile: Invalid value: "pki": no PKI profile named "pki" exists on the controller in tenant "admin"; create it there first, or name an existing one (admin-pki)`,
			}},
		{name: "a UDP health monitor on an HTTP pool",
			hr:       httpRule("team-a", "r", "shop.example.com", 0, v1beta1.HTTPRulePath{Target: "/", HealthMonitors: []string{"System-UDP"}}),
			wantErrs: []string{`spec.paths[0].healthMonitors[0]: Invalid value: "System-UDP": is a health monitor of type HEALTH_MONITOR_UDP; a pool of HTTP servers (TCP) needs type HEALTH_MONITOR_TCP, HEALTH_MONITOR_HTTP, HEALTH_MONITOR_HTTPS, HEALTH_MONITOR_PING or HEALTH_MONITOR_EXTERNAL, such as System-HTTP, System-TCP`}},
		{name: "algorithm and hash pairs",
			hr: httpRule("team-a", "r", "shop.example.com", 0,
				v1beta1.HTTPRulePath{Target: "/a", LoadBalancerPolicy: lbPolicy("LB_ALGORITHM_CONSISTENT_HASH", "", "")},
				v1beta1.HTTPRulePath{Target: "/b", LoadBalancerPolicy: lbPolicy("LB_ALGORITHM_CONSISTENT_HASH", "LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_HEADER", "")},
				v1beta1.HTTPRulePath{Target: "/c", LoadBalancerPolicy: lbPolicy("LB_ALGORITHM_CONSISTENT_HASH", "LB_ALGORITHM_CONSISTENT_HASH_CALLID", "")},
				v1beta1.HTTPRulePath{Target: "/d", LoadBalancerPolicy: lbPolicy("LB_ALGORITHM_ROUND_ROBIN", "LB_ALGORITHM_CONSISTENT_HASH_URI", "X-A")},
				v1beta1.HTTPRulePath{Target: "/e", LoadBalancerPolicy: lbPolicy("LB_ALGORITHM_CONSISTENT_HASH", "LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS", "")},
			),
			wantErrs: []string{
				`spec.paths[0].loadBalancerPolicy.hash: Required value: LB_ALGORITHM_CONSISTENT_HASH hashes on a key; say which, e.g. hash: LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS`,
				`spec.paths[1].loadBalancerPolicy.hostHeader: Required value: hash LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_HEADER hashes on the value of one request header; name it here`,
				`spec.paths[2].loadBalancerPolicy.hash: Invalid value: "LB_ALGORITHM_CONSISTENT_HASH_CALLID": hashes on SIP Call-IDs, which HTTP requests do not carry; pick another hash such as LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS`,
			},
			wantWarns: []string{
				`spec.paths[3].loadBalancerPolicy.hash: applies only with algorithm LB_ALGORITHM_CONSISTENT_HASH; "LB_ALGORITHM_CONSISTENT_HASH_URI" is ignored`,
				`spec.paths[3].loadBalancerPolicy.hostHeader: applies only with hash LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_HEADER; "X-A" is ignored`,
			}},
		{name: "re-encryption: a PKI profile, not a CA in the rule",
			hr: httpRule("team-a", "r", "shop.example.com", 0,
				v1beta1.HTTPRulePath{Target: "/a", TLS: &v1beta1.HTTPRuleTLS{Type: "reencrypt", PKIProfile: "admin-pki", DestinationCA: string(ca.certPEM)}},
				v1beta1.HTTPRulePath{Target: "/b", TLS: &v1beta1.HTTPRuleTLS{Type: "reencrypt", DestinationCA: "not PEM"}},
				v1beta1.HTTPRulePath{Target: "/c", TLS: &v1beta1.HTTPRuleTLS{Type: "reencrypt", DestinationCA: string(ca.certPEM)}},
			),
			wantErrs: []string{
				`spec.paths[0].tls.destinationCA: Invalid value: "<PEM>": set either pkiProfile or destinationCA, not both: each says which CA the pool's server certificates must chain to`,
				`spec.paths[1].tls.destinationCA: Invalid value: "<PEM>": is not a PEM certificate; paste the CA certificate (-----BEGIN CERTIFICATE----- ...) that signs the pool's server certificates`,
				`spec.paths[2].tls.destinationCA: Invalid value: "<PEM>": vipgate does not create PKI profiles from a CA in the rule; create a PKI profile with this CA on the controller and name it in pkiProfile`,
			}},
		{name: "a path another HTTPRule sets is refused, naming it",
			hr: httpRule("team-a", "r", "shop.example.com", 0, v1beta1.HTTPRulePath{Target: "/api"}, v1beta1.HTTPRulePath{Target: "/web"}, v1beta1.HTTPRulePath{Target: "/web"}),
			wantErrs: []string{
				`spec.paths[2].target: Duplicate value: "/web"`,
				`spec.paths[0].target: Invalid value: "/api": HTTPRule team-b/api already sets path /api of host shop.example.com; a path takes one HTTPRule, so edit that one, or remove the path there first`,
			}},
		{name: "a path of a rule being deleted is free",
			hr: httpRule("team-a", "r", "shop.example.com", 0, v1beta1.HTTPRulePath{Target: "/old"})},
		{name: "the older rule keeps its path on update",
			hr:        httpRule("team-b", "api", "shop.example.com", -60, v1beta1.HTTPRulePath{Target: "/api", HealthMonitors: []string{"System-TCP"}}),
			old:       httpRule("team-b", "api", "shop.example.com", -60, v1beta1.HTTPRulePath{Target: "/api"}),
			wantWarns: []string{"spec.fqdn: no Ingress of vipgate in namespace team-b serves host shop.example.com yet; the rule applies once one does"}},
		{name: "an FQDN no Ingress of the namespace serves",
			hr:        httpRule("team-c", "r", "shop.example.com", 0, v1beta1.HTTPRulePath{Target: "/x"}),
			wantWarns: []string{"spec.fqdn: no Ingress of vipgate in namespace team-c serves host shop.example.com yet; the rule applies once one does"}},
		{name: "not a host name",
			hr:        httpRule("team-a", "r", "10.0.0.1", 0),
			wantErrs:  []string{`spec.fqdn: Invalid value: "10.0.0.1": must be a DNS name, not an IP address; Ingress hosts match the HTTP Host header and TLS SNI`},
			wantWarns: []string{"spec.fqdn: no Ingress of vipgate in namespace team-a serves host 10.0.0.1 yet; the rule applies once one does"}},
		{name: "stale inventory",
			hr: httpRule("team-a", "r", "shop.example.com", 0, v1beta1.HTTPRulePath{Target: "/", HealthMonitors: []string{"hm"}}), stale: true,
			wantWarns: []string{WarnRefsStale}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := NewEnv(context.Background(), demoSettings(), fixedSource{demoInventory(withRefs)}, lookups(), time.Hour, now)
			env.InventoryStale = env.InventoryStale || tc.stale
			checkResult(t, ValidateHTTPRule(tc.hr, tc.old, env), tc.wantErrs, tc.wantWarns)
		})
	}
}
