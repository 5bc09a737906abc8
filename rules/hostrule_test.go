package rules

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

// fixedSource hands out one snapshot (nil: never loaded).
type fixedSource struct{ s *inventory.Snapshot }

func (f fixedSource) Snapshot() *inventory.Snapshot { return f.s }

type hrOpt func(*v1beta1.HostRule)

func hostRule(ns, name, fqdn string, opts ...hrOpt) *v1beta1.HostRule {
	hr := &v1beta1.HostRule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	hr.Spec.VirtualHost.Fqdn = fqdn
	hr.Spec.VirtualHost.FqdnType = v1beta1.FqdnTypeExact
	for _, o := range opts {
		o(hr)
	}
	return hr
}

func created(minutes int) hrOpt {
	return func(hr *v1beta1.HostRule) {
		hr.CreationTimestamp = metav1.NewTime(now.Add(time.Duration(minutes) * time.Minute))
	}
}
func vh(f func(*v1beta1.HostRuleVirtualHost)) hrOpt {
	return func(hr *v1beta1.HostRule) { f(&hr.Spec.VirtualHost) }
}
func waf(n string) hrOpt { return vh(func(v *v1beta1.HostRuleVirtualHost) { v.WAFPolicy = n }) }
func cert(typ, name string) hrOpt {
	return vh(func(v *v1beta1.HostRuleVirtualHost) {
		v.TLS = &v1beta1.HostRuleTLS{SSLKeyCertificate: v1beta1.HostRuleSSLKeyCertificate{Type: typ, Name: name}, Termination: "edge"}
	})
}

func TestValidateHostRule(t *testing.T) {
	valid := newCert(t, "shop.example.com", now.Add(-24*time.Hour), now.Add(90*24*time.Hour))
	expired := newCert(t, "shop.example.com", now.Add(-90*24*time.Hour), now.Add(-24*time.Hour))
	lookups := func() *fakeLookups {
		f := newFake()
		f.addIngress(ingress("team-a", "shop", hosts("shop.example.com"), tlsEntry("shop-tls", "shop.example.com")))
		f.addIngress(ingress("team-a", "plain", hosts("plain.example.com")))
		f.addSecret(tlsSecret("team-a", "shop-tls", valid.certPEM, valid.keyPEM))
		f.addSecret(tlsSecret("team-a", "old-tls", expired.certPEM, expired.keyPEM))
		f.certs["team-a/issued"] = true
		f.addHostRule(
			hostRule("team-b", "held", "held.example.com", created(-60), vh(func(v *v1beta1.HostRuleVirtualHost) { v.Aliases = []string{"alias.example.com"} })),
			hostRule("team-b", "newer", "shop2.example.com", created(30)),
		)
		return f
	}
	inv := func() *inventory.Snapshot { return demoInventory(withRefs) }
	tenantA := func(s *config.Settings) { s.ControllerSettings.TenantName = "team-a" }

	tests := []struct {
		name      string
		hr, old   *v1beta1.HostRule
		settings  *config.Settings
		inv       *inventory.Snapshot
		stale     bool
		noInv     bool
		lookups   *fakeLookups
		wantErrs  []string
		wantWarns []string
	}{
		{name: "every reference exists and fits",
			hr: hostRule("team-a", "shop", "shop.example.com", waf("demo-waf"), cert("ref", "System-Default-Cert"), vh(func(v *v1beta1.HostRuleVirtualHost) {
				v.ApplicationProfile, v.AnalyticsProfile, v.ErrorPageProfile = "demo-http", "System-Analytics-Profile", "Custom-Error-Page-Profile"
				v.HTTPPolicy = &v1beta1.HostRuleHTTPPolicy{PolicySets: []string{"admin-policy"}}
				v.Datascripts, v.ICAPProfile, v.NetworkSecurityPolicy = []string{"Default-PASV-FTP"}, []string{"admin-icap"}, "admin-nsp"
				v.TLS.SSLProfile = "System-Standard"
				v.EnableVirtualHost = ptr.To(false)
			}))},
		{name: "missing WAF policy, with the ones that exist",
			hr:       hostRule("team-a", "shop", "shop.example.com", waf("nope")),
			wantErrs: []string{`spec.virtualhost.wafPolicy: Invalid value: "nope": no WAF policy named "nope" exists on the controller in tenant "admin"; create it there first, or name an existing one (System-WAF-Policy, demo-waf)`}},
		{name: "missing in a tenant: the tenant or admin",
			hr: hostRule("team-a", "shop", "shop.example.com", waf("nope")), settings: demoSettings(tenantA),
			wantErrs: []string{`spec.virtualhost.wafPolicy: Invalid value: "nope": no WAF policy named "nope" exists on the controller in tenant "team-a" (or "admin", shared with every tenant); create it there first, or name an existing one (System-WAF-Policy, demo-waf, team-waf)`}},
		{name: "a tenant's object from the tenant",
			hr: hostRule("team-a", "shop", "shop.example.com", waf("team-waf")), settings: demoSettings(tenantA)},
		{name: "another tenant's object is not visible",
			hr:       hostRule("team-a", "shop", "shop.example.com", waf("team-waf")),
			wantErrs: []string{`spec.virtualhost.wafPolicy: Invalid value: "team-waf": no WAF policy named "team-waf" exists on the controller in tenant "admin"; create it there first, or name an existing one (System-WAF-Policy, demo-waf)`}},
		{name: "an L4 application profile on an L7 host",
			hr:       hostRule("team-a", "shop", "shop.example.com", vh(func(v *v1beta1.HostRuleVirtualHost) { v.ApplicationProfile = "System-L4-Application" })),
			wantErrs: []string{`spec.virtualhost.applicationProfile: Invalid value: "System-L4-Application": is an application profile of type APPLICATION_PROFILE_TYPE_L4; a host served over HTTP and HTTPS needs type APPLICATION_PROFILE_TYPE_HTTP, such as System-HTTP, demo-http`}},
		{name: "a CA certificate is not a server certificate",
			hr:       hostRule("team-a", "shop", "shop.example.com", cert("ref", "admin-ca")),
			wantErrs: []string{`spec.virtualhost.tls.sslKeyCertificate.name: Invalid value: "admin-ca": is an SSL key and certificate of type SSL_CERTIFICATE_TYPE_CA; a certificate presented to clients needs type SSL_CERTIFICATE_TYPE_VIRTUALSERVICE, such as System-Default-Cert`}},
		{name: "a system SSL profile",
			hr:       hostRule("team-a", "shop", "shop.example.com", cert("ref", "System-Default-Cert"), vh(func(v *v1beta1.HostRuleVirtualHost) { v.TLS.SSLProfile = "System-Portal" })),
			wantErrs: []string{`spec.virtualhost.tls.sslProfile: Invalid value: "System-Portal": is an SSL profile of type SSL_PROFILE_TYPE_SYSTEM; TLS to clients needs type SSL_PROFILE_TYPE_APPLICATION, such as System-Standard`}},
		{name: "an object vipgate generated",
			hr: hostRule("team-a", "shop", "shop.example.com", vh(func(v *v1beta1.HostRuleVirtualHost) {
				v.HTTPPolicy = &v1beta1.HostRuleHTTPPolicy{PolicySets: []string{"demo--Shared-L7-0"}}
			})),
			wantErrs: []string{`spec.virtualhost.httpPolicy.policySets[0]: Invalid value: "demo--Shared-L7-0": is an HTTP policy set vipgate generated for this cluster (created_by "vipgate-demo"), which it rewrites and deletes as it needs; name one an Avi admin made`}},
		{name: "missing alternate certificate, datascript and ICAP profiles",
			hr: hostRule("team-a", "shop", "shop.example.com", cert("ref", "System-Default-Cert"), vh(func(v *v1beta1.HostRuleVirtualHost) {
				v.TLS.SSLKeyCertificate.AlternateCertificate = &v1beta1.HostRuleAlternateCertificate{Type: "ref", Name: "ec-cert"}
				v.Datascripts = []string{"ds"}
				v.ICAPProfile = []string{"a", "b"}
			})),
			wantErrs: []string{
				`spec.virtualhost.icapProfile: Too many: 2: must have at most 1 item`,
				`spec.virtualhost.datascripts[0]: Invalid value: "ds": no DataScript set named "ds" exists on the controller in tenant "admin"; create it there first, or name an existing one (Default-PASV-FTP)`,
				`spec.virtualhost.icapProfile[0]: Invalid value: "a": no ICAP profile named "a" exists on the controller in tenant "admin"; create it there first, or name an existing one (admin-icap)`,
				`spec.virtualhost.icapProfile[1]: Invalid value: "b": no ICAP profile named "b" exists on the controller in tenant "admin"; create it there first, or name an existing one (admin-icap)`,
				`spec.virtualhost.tls.sslKeyCertificate.alternateCertificate.name: Invalid value: "ec-cert": no SSL key and certificate named "ec-cert" exists on the controller in tenant "admin"; create it there first, or name an existing one (System-Default-Cert)`,
			}},
		{name: "stale inventory: references admitted with a warning",
			hr: hostRule("team-a", "shop", "shop.example.com", waf("nope")), stale: true,
			wantWarns: []string{WarnRefsStale}},
		{name: "no inventory yet",
			hr: hostRule("team-a", "shop", "shop.example.com", waf("nope")), noInv: true,
			wantWarns: []string{WarnRefsNotLoaded}},
		{name: "a second HostRule for an FQDN names the holder",
			hr:       hostRule("team-a", "dup", "held.example.com"),
			lookups:  lookups().addIngress(ingress("team-b", "held", hosts("held.example.com"), tlsEntry("t", "held.example.com"))),
			wantErrs: []string{`spec.virtualhost.fqdn: Invalid value: "held.example.com": HostRule team-b/held already holds this host (as its fqdn); a host takes one HostRule, so edit that one, or delete it first`}},
		{name: "an FQDN that is another rule's alias",
			hr:       hostRule("team-a", "dup", "alias.example.com"),
			lookups:  lookups().addIngress(ingress("team-b", "held", hosts("alias.example.com"), tlsEntry("t", "alias.example.com"))),
			wantErrs: []string{`spec.virtualhost.fqdn: Invalid value: "alias.example.com": HostRule team-b/held already holds this host (as an alias); a host takes one HostRule, so edit that one, or delete it first`}},
		{name: "the older of two rules for an FQDN keeps it",
			hr:      hostRule("team-a", "older", "shop2.example.com", created(-5)),
			lookups: lookups().addIngress(ingress("team-a", "shop2", hosts("shop2.example.com"), tlsEntry("t", "shop2.example.com")))},
		{name: "a holder being deleted holds nothing",
			hr: hostRule("team-a", "next", "gone.example.com"),
			lookups: lookups().addIngress(ingress("team-a", "gone", hosts("gone.example.com"), tlsEntry("t", "gone.example.com"))).
				addHostRule(hostRule("team-b", "going", "gone.example.com", created(-60), func(hr *v1beta1.HostRule) { hr.DeletionTimestamp = &metav1.Time{Time: now} }))},
		{name: "an FQDN no Ingress serves yet is admitted with a warning",
			hr:        hostRule("team-a", "early", "new.example.com", waf("demo-waf")),
			wantWarns: []string{"spec.virtualhost.fqdn: no Ingress of vipgate serves host new.example.com yet; the rule applies once one does"}},
		{name: "a host served without TLS on a shared virtual service",
			hr:        hostRule("team-a", "plain", "plain.example.com", waf("demo-waf")),
			wantWarns: []string{"spec.virtualhost.fqdn: host plain.example.com is served without TLS on a shared virtual service, where a HostRule has no effect; list it under the Ingress's tls (its SNI virtual service takes the rule), or name the shard (fqdnType: Contains) to change the shared virtual service"}},
		{name: "a certificate for a host served without TLS on a dedicated virtual service",
			hr:        hostRule("team-a", "plain", "plain.example.com", cert("ref", "System-Default-Cert")),
			settings:  demoSettings(func(s *config.Settings) { s.L7Settings.ShardVSSize = "DEDICATED" }),
			wantWarns: []string{"spec.virtualhost.tls: host plain.example.com is served without TLS; vipgate applies a HostRule's certificate to hosts an Ingress lists under tls, so list it there"}},
		{name: "fqdn types",
			hr:       hostRule("team-a", "w", "example.com", vh(func(v *v1beta1.HostRuleVirtualHost) { v.FqdnType = v1beta1.FqdnTypeWildcard })),
			wantErrs: []string{`spec.virtualhost.fqdn: Invalid value: "example.com": a Wildcard fqdn starts with "*." (e.g. *.example.com) and matches the hosts ending with the rest; use fqdnType Exact for one host`}},
		{name: "Contains matches shard names",
			hr: hostRule("team-a", "c", "Shared-L7-0", vh(func(v *v1beta1.HostRuleVirtualHost) { v.FqdnType = v1beta1.FqdnTypeContains }))},
		{name: "aliases",
			hr: hostRule("team-a", "shop", "shop.example.com", vh(func(v *v1beta1.HostRuleVirtualHost) {
				v.Aliases = []string{"shop.example.com", "www.example.com", "www.example.com", "global.example.com", "alias.example.com", "Bad_Host"}
				v.GSLB = &v1beta1.HostRuleGSLB{Fqdn: "global.example.com"}
			})),
			wantErrs: []string{
				`spec.virtualhost.aliases[0]: Invalid value: "shop.example.com": is the rule's own fqdn; aliases name other hosts, so remove it`,
				`spec.virtualhost.aliases[2]: Duplicate value: "www.example.com"`,
				`spec.virtualhost.aliases[3]: Invalid value: "global.example.com": is the GSLB FQDN; AKO forbids it as an alias, so remove it (or use gslb.includeAliases)`,
				`spec.virtualhost.aliases[5]: Invalid value: "Bad_Host": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
				`spec.virtualhost.aliases[4]: Invalid value: "alias.example.com": HostRule team-b/held already holds this host (as an alias); a host takes one HostRule, so edit that one, or delete it first`,
			},
			wantWarns: []string{"spec.virtualhost.gslb.fqdn: GSLB FQDNs are for AMKO (multi-cluster); vipgate does not act on them"}},
		{name: "aliases need an Exact fqdn",
			hr: hostRule("team-a", "c", "Shared-L7", vh(func(v *v1beta1.HostRuleVirtualHost) {
				v.FqdnType, v.Aliases = v1beta1.FqdnTypeContains, []string{"a.example.com"}
			})),
			wantErrs: []string{`spec.virtualhost.aliases: Invalid value: ["a.example.com"]: aliases need fqdnType Exact (this rule's is Contains), since they name hosts the FQDN's virtual service also answers; set fqdnType: Exact, or remove the aliases`}},
		{name: "TLS from a valid Secret",
			hr: hostRule("team-a", "shop", "shop.example.com", cert("secret", "shop-tls"))},
		{name: "TLS from an expired Secret",
			hr: hostRule("team-a", "shop", "shop.example.com", cert("secret", "shop-tls"), vh(func(v *v1beta1.HostRuleVirtualHost) {
				v.TLS.SSLKeyCertificate.AlternateCertificate = &v1beta1.HostRuleAlternateCertificate{Type: "secret", Name: "old-tls"}
			})),
			wantErrs: []string{`spec.virtualhost.tls.sslKeyCertificate.alternateCertificate.name: Invalid value: "old-tls": the certificate in Secret team-a/old-tls expired on 2026-02-28T12:00:00Z; renew it, or let cert-manager manage it`}},
		{name: "TLS Secret missing",
			hr:       hostRule("team-a", "shop", "shop.example.com", cert("secret", "gone")),
			wantErrs: []string{`spec.virtualhost.tls.sslKeyCertificate.name: Invalid value: "gone": Secret team-a/gone does not exist; create it in the HostRule's namespace (kubectl create secret tls gone -n team-a --cert=<file> --key=<file>), or use type ref to name a certificate on the controller`}},
		{name: "TLS Secret cert-manager will issue",
			hr:        hostRule("team-a", "shop", "shop.example.com", cert("secret", "issued")),
			wantWarns: []string{"spec.virtualhost.tls.sslKeyCertificate.name: Secret team-a/issued does not exist yet; cert-manager is expected to issue it, and the certificate is used once it does"}},
		{name: "TCP settings",
			hr: hostRule("team-a", "c", "Shared-L7-0", vh(func(v *v1beta1.HostRuleVirtualHost) {
				v.FqdnType = v1beta1.FqdnTypeContains
				v.TCPSettings = &v1beta1.HostRuleTCPSettings{Listeners: []v1beta1.HostRuleListener{{Port: 80}, {Port: 80}}, LoadBalancerIP: "10.50.0.11"}
			})),
			wantErrs: []string{
				`spec.virtualhost.tcpSettings.listeners[1].port: Duplicate value: 80`,
				`spec.virtualhost.tcpSettings.listeners: Invalid value: 2: no listener has enableSSL: true; the parent virtual service also serves the HTTPS hosts, so add one such as {port: 443, enableSSL: true}`,
				`spec.virtualhost.tcpSettings.loadBalancerIP: Invalid value: "10.50.0.11": is already allocated on the controller to VsVip "legacy-vip" (created_by "ako-prod"); pick another address, or leave it unset to get one allocated`,
			}},
		{name: "TCP settings: an address outside the VIP range",
			hr: hostRule("team-a", "c", "Shared-L7-0", vh(func(v *v1beta1.HostRuleVirtualHost) {
				v.FqdnType = v1beta1.FqdnTypeContains
				v.TCPSettings = &v1beta1.HostRuleTCPSettings{LoadBalancerIP: "10.50.0.250"}
			})),
			wantErrs: []string{`spec.virtualhost.tcpSettings.loadBalancerIP: Invalid value: "10.50.0.250": is inside subnet 10.50.0.0/24 of vip-net-a but outside its static VIP range 10.50.0.10-10.50.0.200; the controller allocates VIPs only from that range`}},
		{name: "fields vipgate does not act on",
			hr: hostRule("team-a", "shop", "shop.example.com", vh(func(v *v1beta1.HostRuleVirtualHost) {
				v.L7Rule, v.UseRegex, v.ApplicationRootPath = "l7", true, "/app"
			})),
			wantWarns: []string{
				`spec.virtualhost.l7Rule: vipgate does not implement AKO's L7Rule; "l7" has no effect`,
				"spec.virtualhost.useRegex: vipgate matches Ingress paths as prefixes or exactly; useRegex has no effect",
				`spec.virtualhost.applicationRootPath: vipgate does not redirect the application root; "/app" has no effect`,
			}},
		{name: "an update keeping a reference that went missing is admitted with a warning",
			hr:        hostRule("team-a", "shop", "shop.example.com", created(-1), waf("gone"), vh(func(v *v1beta1.HostRuleVirtualHost) { v.ErrorPageProfile = "Custom-Error-Page-Profile" })),
			old:       hostRule("team-a", "shop", "shop.example.com", created(-1), waf("gone")),
			wantWarns: []string{`spec.virtualhost.wafPolicy: Invalid value: "gone": no WAF policy named "gone" exists on the controller in tenant "admin"; create it there first, or name an existing one (System-WAF-Policy, demo-waf) (unchanged by this update, so admitted; the rule stays Rejected until it is fixed)`}},
		{name: "an update introducing a missing reference is refused",
			hr:       hostRule("team-a", "shop", "shop.example.com", created(-1), waf("gone")),
			old:      hostRule("team-a", "shop", "shop.example.com", created(-1), waf("demo-waf")),
			wantErrs: []string{`spec.virtualhost.wafPolicy: Invalid value: "gone": no WAF policy named "gone" exists on the controller in tenant "admin"; create it there first, or name an existing one (System-WAF-Policy, demo-waf)`}},
		{name: "lookups that fail admit with warnings",
			hr: hostRule("team-a", "shop", "shop.example.com", cert("secret", "shop-tls")), lookups: newFake().failing(errors.New("cache not synced")),
			wantWarns: []string{
				"spec.virtualhost.fqdn: could not check which HostRules hold shop.example.com (cache not synced); admitted, and checked again when it is reconciled",
				"spec.virtualhost.fqdn: could not check which Ingresses serve shop.example.com (cache not synced); admitted, and checked again when it is reconciled",
				"spec.virtualhost.tls.sslKeyCertificate.name: could not check Secret team-a/shop-tls (cache not synced); admitted, and checked again when it is reconciled",
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.settings
			if s == nil {
				s = demoSettings()
			}
			lk := tc.lookups
			if lk == nil {
				lk = lookups()
			}
			snap := tc.inv
			if snap == nil {
				snap = inv()
			}
			if tc.noInv {
				snap = nil
			}
			env := NewEnv(context.Background(), s, fixedSource{snap}, lk, time.Hour, now)
			env.InventoryStale = env.InventoryStale || tc.stale
			checkResult(t, ValidateHostRule(tc.hr, tc.old, env), tc.wantErrs, tc.wantWarns)
		})
	}
}
