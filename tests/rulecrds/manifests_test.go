package rulecrds

import (
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

// The samples of AKO's CRD documentation, as users have them.
const (
	akoHostRule = `apiVersion: ako.vmware.com/v1beta1
kind: HostRule
metadata:
  name: my-host-rule
  namespace: __NS__
spec:
  virtualhost:
    fqdn: foo.region1.com # mandatory
    fqdnType: Exact
    enableVirtualHost: true
    tls: # optional
      sslKeyCertificate:
        name: avi-ssl-key-cert
        type: ref
        alternateCertificate:
          name: avi-ssl-key-cert2
          type: ref
      sslProfile: avi-ssl-profile
      termination: edge
    gslb:
      fqdn: foo.com
      includeAliases: false
    httpPolicy: 
      policySets:
      - avi-secure-policy-ref
      overwrite: false
    datascripts:
    - avi-datascript-redirect-app1
    wafPolicy: avi-waf-policy
    applicationProfile: avi-app-ref
    networkSecurityPolicy: avi-network-security-policy-ref
    icapProfile: 
    - avi-icap-ref
    analyticsProfile: avi-analytics-ref
    errorPageProfile: avi-errorpage-ref
    analyticsPolicy: # optional
      fullClientLogs:
        enabled: true
        throttle: HIGH
        duration: 30
      logAllHeaders: true
    tcpSettings:
      listeners:
      - port: 8081
      - port: 6443
        enableSSL: true
      loadBalancerIP: 10.10.10.1
    aliases: # optional
    -  bar.com
    -  baz.com
    l7Rule: my-l7-rule-name
`
	akoHostRuleV1alpha1 = `apiVersion: ako.vmware.com/v1alpha1
kind: HostRule
metadata:
  name: my-old-host-rule
  namespace: __NS__
spec:
  virtualhost:
    fqdn: old.region1.com
    tls:
      sslKeyCertificate:
        name: k8s-app-secret
        type: secret
      termination: edge
    wafPolicy: avi-waf-policy
`
	akoHTTPRule = `apiVersion: ako.vmware.com/v1beta1
kind: HTTPRule
metadata:
   name: my-http-rule
   namespace: __NS__
spec:
  fqdn: foo.avi.internal
  paths:
  - target: /foo
    applicationPersistence: cookie-userid-persistence
    healthMonitors:
    - my-health-monitor-1
    - my-health-monitor-2
    loadBalancerPolicy:
      algorithm: LB_ALGORITHM_CONSISTENT_HASH
      hash: LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS
    tls: ## This is a re-encrypt to pool
      type: reencrypt # Mandatory [re-encrypt]
      sslProfile: avi-ssl-profile
      pkiProfile: avi-pki-profile
    enableHTTP2: true
`
	akoL4Rule = `apiVersion: ako.vmware.com/v1alpha2
kind: L4Rule
metadata:
  name: my-l4-rule
  namespace: __NS__
spec:
  analyticsProfileRef: Custom-Analytics-Profile
  analyticsPolicy:
    fullClientLogs:
      enabled: true
      duration: 0
      throttle: 30
  applicationProfileRef: Custom-L4-Application-Profile
  loadBalancerIP: "49.20.193.207"
  performanceLimits:
    maxConcurrentConnections: 105
    maxThroughput: 100
  networkProfileRef: Custom-Network-Profile
  networkSecurityPolicyRef: Custom-Network-Security-Policy
  securityPolicyRef: Custom-Security-Policy
  vsDatascriptRefs:
  - Custom-DS-01
  - Custom-DS-02
  backendProperties:
  - port: 80
    protocol: TCP
    enabled: true
    applicationPersistenceProfileRef: Custom-Application-Persistence-Profile
    healthMonitorRefs:
    - Custom-HM-01
    - Custom-HM-02
    healthMonitorCrdRefs:
    - my-health-monitor
    lbAlgorithm: LB_ALGORITHM_CONSISTENT_HASH
    lbAlgorithmHash: LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_HEADER
    lbAlgorithmConsistentHashHdr: "custom-string"
    sslProfileRef: Custom-SSL-Profile
    sslKeyAndCertificateRef: Custom-Key-And-Certificate
    pkiProfileRef: Custom-PKI-Profile
    analyticsPolicy:
      enableRealtimeMetrics: true
    minServersUp: 1
  listenerProperties:
  - port: 80
    protocol: TCP
    enableSsl: true
  sslKeyAndCertificateRefs:
  - "Custom-L4-SSL-Key-Cert"
  sslProfileRef: Custom-L4-SSL-Profile
  revokeVipRoute: true
`
)

// TestAKOManifestsApply: the samples of AKO's documentation apply unchanged
// to vipgate's CRDs (kubectl's strict field validation: every field is in
// the schema) and read back with AKO's defaults. No vipgate runs here: the
// rule webhooks fail open, so this checks the schemas alone; with vipgate
// running they are refused, since none of the objects they name exists.
func TestAKOManifestsApply(t *testing.T) {
	ns := newNamespace(t)
	for _, m := range []string{akoHostRule, akoHostRuleV1alpha1, akoHTTPRule, akoL4Rule} {
		out := mustApply(t, strings.ReplaceAll(m, "__NS__", ns))
		if strings.Contains(out, "Warning") {
			t.Errorf("kubectl warned:\n%s", out)
		}
	}
	hr := getHostRule(t, ns, "my-host-rule")
	if v := hr.Spec.VirtualHost; v.TLS == nil || v.TLS.SSLKeyCertificate.AlternateCertificate == nil || v.TCPSettings == nil ||
		len(v.TCPSettings.Listeners) != 2 || *v.AnalyticsPolicy.FullClientLogs.Duration != 30 || v.L7Rule != "my-l7-rule-name" {
		t.Errorf("HostRule read back %+v", v)
	}
	if old := getHostRule(t, ns, "my-old-host-rule"); old.Spec.VirtualHost.FqdnType != v1beta1.FqdnTypeExact {
		t.Errorf("fqdnType default %q, want Exact", old.Spec.VirtualHost.FqdnType)
	}
	var r v1alpha2.L4Rule
	if err := env.Client.Get(t.Context(), clientKey(ns, "my-l4-rule"), &r); err != nil {
		t.Fatal(err)
	}
	if b := r.Spec.BackendProperties[0]; !ptr.Deref(b.Enabled, false) || b.LBAlgorithmConsistentHashHdr != "custom-string" || *b.MinServersUp != 1 {
		t.Errorf("L4Rule backend %+v", b)
	}
	// AKO's schema defaults apply to a minimal L4Rule.
	mustApply(t, "apiVersion: ako.vmware.com/v1alpha2\nkind: L4Rule\nmetadata: {name: minimal, namespace: "+ns+"}\nspec:\n  backendProperties: [{port: 80, protocol: TCP}]\n")
	if err := env.Client.Get(t.Context(), clientKey(ns, "minimal"), &r); err != nil {
		t.Fatal(err)
	}
	if s := r.Spec; s.ApplicationProfileRef != "System-L4-Application" || s.NetworkProfileRef != "System-TCP-Proxy" || s.AnalyticsProfileRef != "System-Analytics-Profile" ||
		s.BackendProperties[0].LBAlgorithm != "LB_ALGORITHM_LEAST_CONNECTIONS" || !ptr.Deref(s.BackendProperties[0].Enabled, false) || ptr.Deref(s.RevokeVipRoute, true) {
		t.Errorf("L4Rule defaults %+v", s)
	}
	// AKO's printer columns.
	out, err := env.Kubectl(t.Context(), "", "get", "hostrules", "-n", ns)
	if err != nil || !strings.Contains(out, "HOST") || !strings.Contains(out, "foo.region1.com") {
		t.Errorf("kubectl get hostrules: %v\n%s", err, out)
	}
	// A field the schema does not have is refused by kubectl's strict validation.
	mustRefuse(t, strings.ReplaceAll(strings.ReplaceAll(akoHTTPRule, "__NS__", ns), "enableHTTP2: true", "enableHTTP3: true"), `unknown field "spec.paths[0].enableHTTP3"`)
}
