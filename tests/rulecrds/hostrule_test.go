package rulecrds

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/crds/v1alpha1"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/rules"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestHostRuleAdmission: kubectl apply refuses a HostRule naming a
// controller object that does not exist, or one of the wrong kind, with
// the field and the fix; admits the right ones (v1beta1 and v1alpha1);
// refuses a second HostRule for a host, naming the holder; checks a
// secret-type certificate as Ingress TLS; and admits with a warning a host
// no Ingress serves yet.
func TestHostRuleAdmission(t *testing.T) {
	start(t, nil)
	ensureClass(t)
	ns := newNamespace(t)
	backend(t, ns, "web", "10.3.0.1")
	secureIngress(t, ns, "shop", "shop.rules.example.com")

	existing := "(System-WAF-Policy, demo-waf, waf-2)"
	for _, tc := range []struct {
		name, version, body string
		want                []string
	}{
		{"missing WAF policy", "v1beta1", "wafPolicy: nope",
			[]string{`spec.virtualhost.wafPolicy: Invalid value: "nope": no WAF policy named "nope" exists on the controller in tenant "admin"; create it there first, or name an existing one ` + existing}},
		{"missing WAF policy at v1alpha1", "v1alpha1", "wafPolicy: nope",
			[]string{`spec.virtualhost.wafPolicy: Invalid value: "nope": no WAF policy named "nope"`}},
		{"L4 application profile", "v1beta1", "applicationProfile: System-L4-Application",
			[]string{`spec.virtualhost.applicationProfile: Invalid value: "System-L4-Application": is an application profile of type APPLICATION_PROFILE_TYPE_L4; a host served over HTTP and HTTPS needs type APPLICATION_PROFILE_TYPE_HTTP, such as System-HTTP, System-Secure-HTTP, demo-http`}},
		{"missing application profile", "v1beta1", "applicationProfile: nope",
			[]string{`spec.virtualhost.applicationProfile: Invalid value: "nope": no application profile named "nope"`}},
		{"CA certificate", "v1beta1", "tls:\n  sslKeyCertificate: {name: admin-ca, type: ref}",
			[]string{`spec.virtualhost.tls.sslKeyCertificate.name: Invalid value: "admin-ca": is an SSL key and certificate of type SSL_CERTIFICATE_TYPE_CA; a certificate presented to clients needs type SSL_CERTIFICATE_TYPE_VIRTUALSERVICE`}},
		{"missing certificate", "v1beta1", "tls:\n  sslKeyCertificate: {name: nope, type: ref}",
			[]string{`spec.virtualhost.tls.sslKeyCertificate.name: Invalid value: "nope": no SSL key and certificate named "nope"`}},
		{"missing TLS Secret", "v1beta1", "tls:\n  sslKeyCertificate: {name: nope, type: secret}",
			[]string{`spec.virtualhost.tls.sslKeyCertificate.name: Invalid value: "nope": Secret ` + ns + `/nope does not exist; create it in the HostRule's namespace`}},
		{"missing SSL profile, policy set, DataScript, error page and analytics profiles", "v1beta1",
			"tls:\n  sslKeyCertificate: {name: System-Default-Cert, type: ref}\n  sslProfile: nope\nhttpPolicy: {policySets: [nope]}\ndatascripts: [nope]\nerrorPageProfile: nope\nanalyticsProfile: nope",
			[]string{`spec.virtualhost.tls.sslProfile: Invalid value: "nope": no SSL profile named "nope"`,
				`spec.virtualhost.httpPolicy.policySets[0]: Invalid value: "nope": no HTTP policy set named "nope"`,
				`spec.virtualhost.datascripts[0]: Invalid value: "nope": no DataScript set named "nope"`,
				`spec.virtualhost.errorPageProfile: Invalid value: "nope": no error page profile named "nope"`,
				`spec.virtualhost.analyticsProfile: Invalid value: "nope": no analytics profile named "nope"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustRefuse(t, hostRuleYAML(tc.version, ns, "bad", "shop.rules.example.com", tc.body), append([]string{`"bad" is invalid`}, tc.want...)...)
		})
	}

	good := "wafPolicy: demo-waf\napplicationProfile: demo-http\nanalyticsProfile: System-Analytics-Profile\nerrorPageProfile: Custom-Error-Page-Profile\n" +
		"httpPolicy: {policySets: [admin-policy]}\ndatascripts: [Default-PASV-FTP]\ntls:\n  sslKeyCertificate: {name: System-Default-Cert, type: ref}\n  sslProfile: System-Standard"
	out := mustApply(t, hostRuleYAML("v1beta1", ns, "shop", "shop.rules.example.com", good))
	if strings.Contains(out, "Warning") {
		t.Errorf("a valid HostRule for a served host warned:\n%s", out)
	}
	mustRefuse(t, hostRuleYAML("v1beta1", ns, "shop-2", "shop.rules.example.com", "wafPolicy: demo-waf"),
		`spec.virtualhost.fqdn: Invalid value: "shop.rules.example.com": HostRule `+ns+`/shop already holds this host (as its fqdn); a host takes one HostRule, so edit that one, or delete it first`)
	other := newNamespace(t)
	mustRefuse(t, hostRuleYAML("v1alpha1", other, "shop", "shop.rules.example.com", ""),
		`HostRule `+ns+`/shop already holds this host`)

	// A v1alpha1 manifest is admitted and reads back at v1beta1.
	mustApply(t, hostRuleYAML("v1alpha1", ns, "legacy", "legacy.rules.example.com", "wafPolicy: demo-waf\nenableVirtualHost: true"))
	hr := getHostRule(t, ns, "legacy")
	if hr.Spec.VirtualHost.WAFPolicy != "demo-waf" || hr.Spec.VirtualHost.FqdnType != v1beta1.FqdnTypeExact {
		t.Errorf("v1alpha1 HostRule read at v1beta1: %+v", hr.Spec.VirtualHost)
	}
	var alpha v1alpha1.HostRule
	if err := env.Client.Get(context.Background(), clientKey(ns, "shop"), &alpha); err != nil || alpha.Spec.VirtualHost.WAFPolicy != "demo-waf" {
		t.Errorf("v1beta1 HostRule read at v1alpha1: %+v %v", alpha.Spec.VirtualHost, err)
	}

	// A host no Ingress serves yet: admitted, with kubectl's warning.
	out = mustApply(t, hostRuleYAML("v1beta1", ns, "early", "early.rules.example.com", "wafPolicy: demo-waf"))
	if !strings.Contains(out, "Warning: spec.virtualhost.fqdn: no Ingress of vipgate serves host early.rules.example.com yet; the rule applies once one does") {
		t.Errorf("no warning for a host no Ingress serves:\n%s", out)
	}
	ruleStatus(t, getHostRule(t, ns, "early"), v1beta1.StatusAccepted)
}

// TestRulesStaleInventory: with an inventory older than its bound,
// controller references are not checked at admission: each kind of rule is
// admitted with a warning, and the status reconciler, which judges with the
// inventory it has, rejects it.
func TestRulesStaleInventory(t *testing.T) {
	start(t, func(o *operator.Options) { o.InventoryStaleAfter = time.Nanosecond })
	ns := newNamespace(t)
	for _, tc := range []struct {
		manifest string
		rule     client.Object
		want     string
	}{
		{hostRuleYAML("v1beta1", ns, "stale", "stale.rules.example.com", "wafPolicy: nope"), &v1beta1.HostRule{},
			`spec.virtualhost.wafPolicy: Invalid value: "nope": no WAF policy named "nope"`},
		{httpRuleYAML(ns, "stale", "stale.rules.example.com", "- target: /\n  healthMonitors: [nope]"), &v1beta1.HTTPRule{},
			`spec.paths[0].healthMonitors[0]: Invalid value: "nope": no health monitor named "nope"`},
		{l4RuleYAML(ns, "stale", "networkProfileRef: nope"), &v1alpha2.L4Rule{},
			`spec.networkProfileRef: Invalid value: "nope": no network profile named "nope"`},
	} {
		t.Run(fmt.Sprintf("%T", tc.rule), func(t *testing.T) {
			out := mustApply(t, tc.manifest)
			if !strings.Contains(out, "Warning: "+rules.WarnRefsStale) {
				t.Errorf("no stale-inventory warning:\n%s", out)
			}
			tc.rule.SetNamespace(ns)
			tc.rule.SetName("stale")
			if msg := ruleStatus(t, tc.rule, v1beta1.StatusRejected); !strings.Contains(msg, tc.want) {
				t.Errorf("status error %q, want %q", msg, tc.want)
			}
		})
	}
}

// TestHostRuleOnVirtualService: an accepted HostRule reaches the SNI child
// of its host with one write (the child virtual service); a Contains rule
// naming the shard reaches the shared parent; removing them restores
// vipgate's defaults, again one write per object.
func TestHostRuleOnVirtualService(t *testing.T) {
	sim, _ := start(t, nil)
	ensureClass(t)
	ns := newNamespace(t)
	backend(t, ns, "web", "10.3.0.1")
	host := "vs.rules.example.com"
	child := "demo--" + host
	secureIngress(t, ns, "shop", host)
	harness.Eventually(t, "SNI child", func() string {
		if simObject(sim, "virtualservice", child) == nil {
			return "no child"
		}
		return ""
	})
	settle(t, sim)
	sim.ResetCounts()
	mustApply(t, hostRuleYAML("v1beta1", ns, "shop", host, "wafPolicy: demo-waf\napplicationProfile: demo-http\ndatascripts: [Default-PASV-FTP]\n"+
		"httpPolicy: {policySets: [admin-policy]}\nerrorPageProfile: Custom-Error-Page-Profile\nanalyticsPolicy:\n  fullClientLogs: {enabled: true, throttle: LOW}\n  logAllHeaders: true"))
	ruleStatus(t, getHostRule(t, ns, "shop"), v1beta1.StatusAccepted)
	harness.Eventually(t, "the HostRule on the SNI child", func() string {
		vs := simObject(sim, "virtualservice", child)
		switch {
		case refName(sim, "wafpolicy", vs["waf_policy_ref"]) != "demo-waf":
			return fmt.Sprintf("waf %v", vs["waf_policy_ref"])
		case refName(sim, "applicationprofile", vs["application_profile_ref"]) != "demo-http":
			return fmt.Sprintf("app profile %v", vs["application_profile_ref"])
		case refName(sim, "errorpageprofile", vs["error_page_profile_ref"]) != "Custom-Error-Page-Profile":
			return fmt.Sprintf("error page %v", vs["error_page_profile_ref"])
		case refName(sim, "vsdatascriptset", harness.Path(vs, "vs_datascripts", 0, "vs_datascript_set_ref")) != "Default-PASV-FTP":
			return fmt.Sprintf("datascripts %v", vs["vs_datascripts"])
		case refName(sim, "httppolicyset", harness.Path(vs, "http_policies", 1, "http_policy_set_ref")) != "admin-policy":
			return fmt.Sprintf("policies %v", vs["http_policies"])
		case harness.Path(vs, "analytics_policy", "full_client_logs", "throttle") != float64(50) || harness.Path(vs, "analytics_policy", "all_headers") != true:
			return fmt.Sprintf("analytics %v", vs["analytics_policy"])
		}
		return ""
	})
	settle(t, sim)
	if c := sim.Counts(); sim.Writes() != 1 || c["PUT virtualservice"] != 1 {
		t.Errorf("applying the HostRule took %d writes (%v), want 1: the child virtual service", sim.Writes(), c)
	}

	// A rule for the shard itself reaches the shared parent.
	mustApply(t, hostRuleYAML("v1beta1", ns, "parent", "Shared-L7-0", "fqdnType: Contains\nwafPolicy: waf-2"))
	harness.Eventually(t, "the shard HostRule on the parent", func() string {
		if got := refName(sim, "wafpolicy", simObject(sim, "virtualservice", "demo--Shared-L7-0")["waf_policy_ref"]); got != "waf-2" {
			return "parent waf " + got
		}
		return ""
	})

	settle(t, sim)
	sim.ResetCounts()
	kubectlDelete(t, ns, "hostrule", "shop")
	kubectlDelete(t, ns, "hostrule", "parent")
	harness.Eventually(t, "defaults back", func() string {
		vs := simObject(sim, "virtualservice", child)
		for _, f := range []string{"waf_policy_ref", "error_page_profile_ref", "vs_datascripts"} {
			if vs[f] != nil {
				return fmt.Sprintf("child still has %s: %v", f, vs[f])
			}
		}
		if p := vs["http_policies"].([]any); len(p) != 1 {
			return fmt.Sprintf("child policies %v", p)
		}
		if got := refName(sim, "applicationprofile", vs["application_profile_ref"]); got != "System-Secure-HTTP" {
			return "child app profile " + got
		}
		if simObject(sim, "virtualservice", "demo--Shared-L7-0")["waf_policy_ref"] != nil {
			return "parent still has its WAF policy"
		}
		return ""
	})
	settle(t, sim)
	if c := sim.Counts(); sim.Writes() != 2 || c["PUT virtualservice"] != 2 {
		t.Errorf("removing the HostRules took %d writes (%v), want 2: child and parent", sim.Writes(), c)
	}
}

// TestHostRuleRejectedAfterControllerChange: a WAF policy a rule names that
// is deleted on the controller turns the rule Rejected, with the reason in
// status, the condition and an Event. One the virtual service uses cannot
// be deleted (the controller refuses, as the real one does), but it can be
// renamed: the rule is Rejected, and the virtual service keeps the WAF
// policy (its last good configuration) while the rest of the shard still
// follows the cluster; fixing the rule applies it again.
func TestHostRuleRejectedAfterControllerChange(t *testing.T) {
	sim, c := start(t, nil)
	ctx := context.Background()
	ensureClass(t)
	ns := newNamespace(t)
	backend(t, ns, "web", "10.3.0.1")

	// Deleted on the controller: a rule whose host no Ingress serves yet.
	mustApply(t, hostRuleYAML("v1beta1", ns, "early", "later.rules.example.com", "wafPolicy: waf-2"))
	ruleStatus(t, getHostRule(t, ns, "early"), v1beta1.StatusAccepted)
	if err := c.Delete(ctx, "wafpolicy", uuidOf(t, sim, "wafpolicy", "waf-2"), "admin"); err != nil {
		t.Fatal(err)
	}
	msg := ruleStatus(t, getHostRule(t, ns, "early"), v1beta1.StatusRejected)
	want := `spec.virtualhost.wafPolicy: Invalid value: "waf-2": no WAF policy named "waf-2" exists on the controller in tenant "admin"`
	if !strings.Contains(msg, want) {
		t.Errorf("status error %q, want %q", msg, want)
	}
	hr := getHostRule(t, ns, "early")
	if c := findCondition(hr.Status.Conditions, "Accepted"); c == nil || c.Status != metav1.ConditionFalse || c.Reason != "Rejected" || !strings.Contains(c.Message, want) {
		t.Errorf("condition %+v", c)
	}
	harness.Eventually(t, "a Rejected Event", func() string {
		for _, e := range events(t, ns, "HostRule", "early") {
			if strings.HasPrefix(e, "Rejected: ") && strings.Contains(e, want) {
				return ""
			}
		}
		return fmt.Sprint(events(t, ns, "HostRule", "early"))
	})

	// Renamed while applied: Rejected, and the WAF policy stays.
	host := "held.rules.example.com"
	child := "demo--" + host
	secureIngress(t, ns, "shop", host)
	mustApply(t, hostRuleYAML("v1beta1", ns, "shop", host, "wafPolicy: demo-waf"))
	ruleStatus(t, getHostRule(t, ns, "shop"), v1beta1.StatusAccepted)
	harness.Eventually(t, "WAF policy on the child", childWAF(sim, host, "demo-waf"))
	wafUUID := uuidOf(t, sim, "wafpolicy", "demo-waf")
	if err := c.Delete(ctx, "wafpolicy", wafUUID, "admin"); err == nil || !strings.Contains(err.Error(), "referred") {
		t.Fatalf("deleting a WAF policy a virtual service uses: %v, want the controller's refusal", err)
	}
	var waf map[string]any
	if err := c.Get(ctx, "wafpolicy", wafUUID, nil, "admin", &waf); err != nil {
		t.Fatal(err)
	}
	waf["name"] = "demo-waf-renamed"
	if err := c.Update(ctx, "wafpolicy", wafUUID, waf, "admin", nil); err != nil {
		t.Fatal(err)
	}
	ruleStatus(t, getHostRule(t, ns, "shop"), v1beta1.StatusRejected)
	// The shard still follows the cluster: a new path is served.
	ing := plainIngress(ns, "shop", host, "/", "/v2")
	if err := env.Client.Get(ctx, clientKey(ns, "shop"), ing); err != nil {
		t.Fatal(err)
	}
	ing.Spec.Rules[0].HTTP.Paths = plainIngress(ns, "x", host, "/", "/v2").Spec.Rules[0].HTTP.Paths
	if err := env.Client.Update(ctx, ing); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, "the new path's pool, with the held WAF policy kept", func() string {
		if simObject(sim, "pool", "demo--"+host+"_v2-"+ns+"-shop") == nil {
			return "no pool for /v2"
		}
		vs := simObject(sim, "virtualservice", child)
		if got := refName(sim, "wafpolicy", vs["waf_policy_ref"]); got != "demo-waf-renamed" {
			return "child WAF policy " + got
		}
		return ""
	})
	// Fixed: accepted, applied, nothing to write on the virtual service.
	mustApply(t, hostRuleYAML("v1beta1", ns, "shop", host, "wafPolicy: demo-waf-renamed"))
	ruleStatus(t, getHostRule(t, ns, "shop"), v1beta1.StatusAccepted)
	if got := refName(sim, "wafpolicy", simObject(sim, "virtualservice", child)["waf_policy_ref"]); got != "demo-waf-renamed" {
		t.Errorf("child WAF policy %s after the fix", got)
	}
}
