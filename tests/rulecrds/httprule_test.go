package rulecrds

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/tests/harness"
)

func httpRuleYAML(ns, name, fqdn, paths string) string {
	return fmt.Sprintf(`apiVersion: ako.vmware.com/v1beta1
kind: HTTPRule
metadata: {name: %s, namespace: %s}
spec:
  fqdn: %s
  paths:
%s`, name, ns, fqdn, indent(paths, "  "))
}

func getHTTPRule(t testing.TB, ns, name string) *v1beta1.HTTPRule {
	t.Helper()
	hr := &v1beta1.HTTPRule{}
	if err := env.Client.Get(context.Background(), clientKey(ns, name), hr); err != nil {
		t.Fatal(err)
	}
	return hr
}

// TestHTTPRule: admission checks every reference an HTTPRule path names
// (health monitors by kind, persistence, SSL and PKI profiles), the
// algorithm/hash pairs and paths another rule sets; an accepted rule
// reaches the pools of its host and path (one write per pool) and removing
// it restores the defaults; a health monitor deleted on the controller (one
// no pool uses yet) turns it Rejected, while the pool it decorates keeps
// what it set.
func TestHTTPRule(t *testing.T) {
	sim, c := start(t, nil)
	ensureClass(t)
	ns := newNamespace(t)
	backend(t, ns, "web", "10.4.0.1", "10.4.0.2")
	host := "paths.rules.example.com"
	env.CreateAndRemove(t, plainIngress(ns, "shop", host, "/", "/api"))
	root, api := "demo--"+host+"_-"+ns+"-shop", "demo--"+host+"_api-"+ns+"-shop"
	harness.Eventually(t, "pools", func() string {
		if simObject(sim, "pool", root) == nil || simObject(sim, "pool", api) == nil {
			return "pools missing"
		}
		return ""
	})

	for _, tc := range []struct {
		name, paths string
		want        []string
	}{
		{"missing health monitor", "- target: /api\n  healthMonitors: [nope]",
			[]string{`spec.paths[0].healthMonitors[0]: Invalid value: "nope": no health monitor named "nope" exists on the controller in tenant "admin"`}},
		{"UDP health monitor on an HTTP pool", "- target: /api\n  healthMonitors: [System-UDP]",
			[]string{`spec.paths[0].healthMonitors[0]: Invalid value: "System-UDP": is a health monitor of type HEALTH_MONITOR_UDP; a pool of HTTP servers (TCP) needs type`}},
		{"missing persistence profile", "- target: /api\n  applicationPersistence: nope",
			[]string{`spec.paths[0].applicationPersistence: Invalid value: "nope": no persistence profile named "nope"`}},
		{"missing PKI profile and a system SSL profile", "- target: /api\n  tls: {type: reencrypt, pkiProfile: nope, sslProfile: nope}",
			[]string{`spec.paths[0].tls.pkiProfile: Invalid value: "nope": no PKI profile named "nope" exists on the controller in tenant "admin"; create it there first, or name an existing one (admin-pki)`,
				`spec.paths[0].tls.sslProfile: Invalid value: "nope": no SSL profile named "nope"`}},
		{"consistent hash without a key", "- target: /api\n  loadBalancerPolicy: {algorithm: LB_ALGORITHM_CONSISTENT_HASH}",
			[]string{`spec.paths[0].loadBalancerPolicy.hash: Required value: LB_ALGORITHM_CONSISTENT_HASH hashes on a key; say which, e.g. hash: LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustRefuse(t, httpRuleYAML(ns, "bad", host, tc.paths), append([]string{`"bad" is invalid`}, tc.want...)...)
		})
	}

	settle(t, sim)
	sim.ResetCounts()
	mustApply(t, httpRuleYAML(ns, "api", host, "- target: /api\n  loadBalancerPolicy: {algorithm: LB_ALGORITHM_CONSISTENT_HASH, hash: LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_HEADER, hostHeader: X-User}\n"+
		"  healthMonitors: [System-HTTP]\n  applicationPersistence: System-Persistence-Client-IP\n  tls: {type: reencrypt, pkiProfile: admin-pki}\n"+
		"- target: /\n  loadBalancerPolicy: {algorithm: LB_ALGORITHM_ROUND_ROBIN}"))
	ruleStatus(t, getHTTPRule(t, ns, "api"), v1beta1.StatusAccepted)
	harness.Eventually(t, "the HTTPRule on the pools", func() string {
		p := simObject(sim, "pool", api)
		switch {
		case p["lb_algorithm"] != "LB_ALGORITHM_CONSISTENT_HASH" || p["lb_algorithm_hash"] != "LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_HEADER" || p["lb_algorithm_consistent_hash_hdr"] != "X-User":
			return fmt.Sprintf("/api algorithm %v %v %v", p["lb_algorithm"], p["lb_algorithm_hash"], p["lb_algorithm_consistent_hash_hdr"])
		case refName(sim, "healthmonitor", harness.Path(p, "health_monitor_refs", 0)) != "System-HTTP":
			return fmt.Sprintf("/api monitors %v", p["health_monitor_refs"])
		case refName(sim, "applicationpersistenceprofile", p["application_persistence_profile_ref"]) != "System-Persistence-Client-IP":
			return fmt.Sprintf("/api persistence %v", p["application_persistence_profile_ref"])
		case refName(sim, "pkiprofile", p["pki_profile_ref"]) != "admin-pki" || refName(sim, "sslprofile", p["ssl_profile_ref"]) != "System-Standard":
			return fmt.Sprintf("/api re-encryption %v %v", p["pki_profile_ref"], p["ssl_profile_ref"])
		case simObject(sim, "pool", root)["lb_algorithm"] != "LB_ALGORITHM_ROUND_ROBIN":
			return fmt.Sprintf("/ algorithm %v", simObject(sim, "pool", root)["lb_algorithm"])
		}
		return ""
	})
	settle(t, sim)
	if c := sim.Counts(); sim.Writes() != 2 || c["PUT pool"] != 2 {
		t.Errorf("applying the HTTPRule took %d writes (%v), want 2: the two pools", sim.Writes(), c)
	}

	// A second rule for a path the first sets is refused, naming it.
	mustRefuse(t, httpRuleYAML(ns, "api-2", host, "- target: /api\n  healthMonitors: [System-TCP]"),
		`spec.paths[0].target: Invalid value: "/api": HTTPRule `+ns+`/api already sets path /api of host `+host+`; a path takes one HTTPRule, so edit that one, or remove the path there first`)

	// Rejected after a deletion on the controller: the rule names admin-hm
	// for a path no Ingress serves, so nothing refers to it and it can go.
	mustApply(t, httpRuleYAML(ns, "api", host, "- target: /api\n  loadBalancerPolicy: {algorithm: LB_ALGORITHM_CONSISTENT_HASH, hash: LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_HEADER, hostHeader: X-User}\n"+
		"  healthMonitors: [System-HTTP]\n  applicationPersistence: System-Persistence-Client-IP\n  tls: {type: reencrypt, pkiProfile: admin-pki}\n"+
		"- target: /\n  loadBalancerPolicy: {algorithm: LB_ALGORITHM_ROUND_ROBIN}\n- target: /unserved\n  healthMonitors: [admin-hm]"))
	ruleStatus(t, getHTTPRule(t, ns, "api"), v1beta1.StatusAccepted)
	if err := c.Delete(context.Background(), "healthmonitor", uuidOf(t, sim, "healthmonitor", "admin-hm"), "admin"); err != nil {
		t.Fatal(err)
	}
	msg := ruleStatus(t, getHTTPRule(t, ns, "api"), v1beta1.StatusRejected)
	if !strings.Contains(msg, `spec.paths[2].healthMonitors[0]: Invalid value: "admin-hm": no health monitor named "admin-hm"`) {
		t.Errorf("status error %q", msg)
	}
	harness.Eventually(t, "a Rejected Event", func() string {
		for _, e := range events(t, ns, "HTTPRule", "api") {
			if strings.HasPrefix(e, "Rejected: ") && strings.Contains(e, "admin-hm") {
				return ""
			}
		}
		return fmt.Sprint(events(t, ns, "HTTPRule", "api"))
	})
	// Held: the pools keep the rule's settings while their servers still follow the endpoints.
	backendUpdate(t, ns, "web", "10.4.0.3")
	harness.Eventually(t, "servers follow, settings held", func() string {
		p := simObject(sim, "pool", api)
		if s := fmt.Sprint(harness.Path(p, "servers", 0, "ip", "addr")); s != "10.4.0.3" {
			return "servers " + fmt.Sprint(p["servers"])
		}
		if p["lb_algorithm"] != "LB_ALGORITHM_CONSISTENT_HASH" || refName(sim, "pkiprofile", p["pki_profile_ref"]) != "admin-pki" {
			return fmt.Sprintf("held settings lost: %v", p)
		}
		return ""
	})

	// Removed: defaults back, one write per pool.
	settle(t, sim)
	sim.ResetCounts()
	kubectlDelete(t, ns, "httprule", "api")
	harness.Eventually(t, "defaults back", func() string {
		p := simObject(sim, "pool", api)
		for _, f := range []string{"application_persistence_profile_ref", "pki_profile_ref", "ssl_profile_ref", "lb_algorithm_consistent_hash_hdr"} {
			if p[f] != nil {
				return fmt.Sprintf("/api still has %s: %v", f, p[f])
			}
		}
		if p["lb_algorithm"] != "LB_ALGORITHM_LEAST_CONNECTIONS" || refName(sim, "healthmonitor", harness.Path(p, "health_monitor_refs", 0)) != "System-TCP" {
			return fmt.Sprintf("/api %v %v", p["lb_algorithm"], p["health_monitor_refs"])
		}
		if simObject(sim, "pool", root)["lb_algorithm"] != "LB_ALGORITHM_LEAST_CONNECTIONS" {
			return "/ algorithm not back"
		}
		return ""
	})
	settle(t, sim)
	if c := sim.Counts(); sim.Writes() != 2 || c["PUT pool"] != 2 {
		t.Errorf("removing the HTTPRule took %d writes (%v), want 2", sim.Writes(), c)
	}
}
