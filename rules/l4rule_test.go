package rules

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

// l4rule is an L4Rule with AKO's schema defaults, as the API server stores it.
func l4rule(ns, name string, mod func(*v1alpha2.L4RuleSpec)) *v1alpha2.L4Rule {
	r := &v1alpha2.L4Rule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	r.Spec.AnalyticsProfileRef = v1alpha2.DefaultAnalyticsProfile
	r.Spec.ApplicationProfileRef = v1alpha2.DefaultApplicationProfile
	r.Spec.NetworkProfileRef = v1alpha2.DefaultNetworkProfile
	if mod != nil {
		mod(&r.Spec)
	}
	return r
}

func useRule(v string) svcOpt { return func(s *corev1.Service) { s.Annotations[AnnL4Rule] = v } }

func backend(port int32, proto, algo string, mod func(*v1alpha2.BackendProperties)) v1alpha2.BackendProperties {
	b := v1alpha2.BackendProperties{Port: port, Protocol: proto, LBAlgorithm: algo, Enabled: ptr.To(true)}
	if mod != nil {
		mod(&b)
	}
	return b
}

func TestValidateL4Rule(t *testing.T) {
	lookups := func() *fakeLookups {
		f := newFake()
		f.addService(
			lbSvc("team-a", "web", useRule("edge")),
			lbSvc("team-a", "dns", useRule("team-a/udp"), ports(corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP})),
			lbSvc("team-b", "api", useRule("team-a/shared"), ports(corev1.ServicePort{Name: "a", Port: 80}, corev1.ServicePort{Name: "b", Port: 81})),
			lbSvc("team-a", "web2", useRule("shared")),
			lbSvc("team-a", "pinned", useRule("pinned"), ip("10.50.0.40")),
			lbSvc("team-c", "other", ip("10.50.0.41")),
		)
		f.addNamespace("team-a", "")
		return f
	}
	tests := []struct {
		name      string
		r         *v1alpha2.L4Rule
		settings  *config.Settings
		inv       func(*inventory.Snapshot)
		stale     bool
		wantErrs  []string
		wantWarns []string
	}{
		{name: "AKO's defaults and every reference",
			r: l4rule("team-a", "edge", func(s *v1alpha2.L4RuleSpec) {
				s.LoadBalancerIP = "10.50.0.30"
				s.VSDatascriptRefs = []string{"Default-PASV-FTP"}
				s.NetworkSecurityPolicyRef = "admin-nsp"
				s.BackendProperties = []v1alpha2.BackendProperties{backend(80, "TCP", "LB_ALGORITHM_CONSISTENT_HASH", func(b *v1alpha2.BackendProperties) {
					b.LBAlgorithmHash, b.HealthMonitorRefs, b.ApplicationPersistenceProfileRef = v1beta1.LBHashSourceIP, []string{"System-TCP"}, "System-Persistence-Client-IP"
				})}
			})},
		{name: "an HTTP application profile and a missing network profile",
			r: l4rule("team-a", "edge", func(s *v1alpha2.L4RuleSpec) { s.ApplicationProfileRef, s.NetworkProfileRef = "demo-http", "fast" }),
			wantErrs: []string{
				`spec.networkProfileRef: Invalid value: "fast": no network profile named "fast" exists on the controller in tenant "admin"; create it there first, or name an existing one (System-TCP-Fast-Path, System-TCP-Proxy, System-UDP-Fast-Path)`,
				`spec.applicationProfileRef: Invalid value: "demo-http": is an application profile of type APPLICATION_PROFILE_TYPE_HTTP; a Service of type LoadBalancer needs type APPLICATION_PROFILE_TYPE_L4, such as System-L4-Application`,
			}},
		{name: "SSL needs an L4 SSL application profile and TCP proxy",
			r: l4rule("team-a", "edge", func(s *v1alpha2.L4RuleSpec) {
				s.ApplicationProfileRef, s.NetworkProfileRef = "System-L4-Application", "System-TCP-Fast-Path"
				s.ListenerProperties = []v1alpha2.ListenerProperties{{Port: 80, Protocol: "TCP", EnableSSL: ptr.To(true)}}
				s.SSLProfileRef, s.SSLKeyAndCertificateRefs = "System-Standard", []string{"admin-ca"}
			}),
			wantErrs: []string{
				`spec.sslKeyAndCertificateRefs[0]: Invalid value: "admin-ca": is an SSL key and certificate of type SSL_CERTIFICATE_TYPE_CA; a certificate presented to clients needs type SSL_CERTIFICATE_TYPE_VIRTUALSERVICE, such as System-Default-Cert`,
				`spec.networkProfileRef: Invalid value: "System-TCP-Fast-Path": is a network profile of type PROTOCOL_TYPE_TCP_FAST_PATH; an SSL listener needs type PROTOCOL_TYPE_TCP_PROXY, such as System-TCP-Proxy`,
			}},
		{name: "SSL with the schema's default application profile uses the SSL one",
			r: l4rule("team-a", "edge", func(s *v1alpha2.L4RuleSpec) {
				s.ListenerProperties = []v1alpha2.ListenerProperties{{Port: 80, Protocol: "TCP", EnableSSL: ptr.To(true)}}
			})},
		{name: "an SSL application profile without an SSL listener, SSL profile and certificates without SSL",
			r: l4rule("team-a", "edge", func(s *v1alpha2.L4RuleSpec) {
				s.ApplicationProfileRef, s.SSLProfileRef, s.SSLKeyAndCertificateRefs = "System-SSL-Application", "System-Standard", []string{"System-Default-Cert"}
			}),
			wantErrs: []string{
				`spec.sslProfileRef: Invalid value: "System-Standard": applies only to SSL listeners; set enableSsl: true on a listenerProperties entry (with an L4 SSL application profile), or remove it`,
				`spec.sslKeyAndCertificateRefs: Invalid value: ["System-Default-Cert"]: apply only to SSL listeners; set enableSsl: true on a listenerProperties entry (with an L4 SSL application profile), or remove them`,
				`spec.applicationProfileRef: Invalid value: "System-SSL-Application": is an application profile of type APPLICATION_PROFILE_TYPE_SSL, but no listener has enableSsl: true; turn SSL on for the Service's port in listenerProperties, or name an L4 profile (type APPLICATION_PROFILE_TYPE_L4)`,
			}},
		{name: "SSL on a Service with two ports",
			r: l4rule("team-a", "shared", func(s *v1alpha2.L4RuleSpec) {
				s.ListenerProperties = []v1alpha2.ListenerProperties{{Port: 80, Protocol: "TCP", EnableSSL: ptr.To(true)}}
			}),
			wantErrs: []string{`spec.listenerProperties[0].enableSsl: Invalid value: true: SSL needs a Service with exactly one TCP port, and Service team-b/api, which uses this rule, has 2; give it one TCP port, or turn SSL off`}},
		{name: "a UDP Service keeps its protocol's profile under the schema default; a TCP one named explicitly is refused",
			r:        l4rule("team-a", "udp", func(s *v1alpha2.L4RuleSpec) { s.NetworkProfileRef = "System-TCP-Fast-Path" }),
			wantErrs: []string{`spec.networkProfileRef: Invalid value: "System-TCP-Fast-Path": is a network profile of type PROTOCOL_TYPE_TCP_FAST_PATH, but the virtual service of Service team-a/dns, which uses this rule, carries UDP; name a UDP network profile`}},
		{name: "the schema default network profile on a UDP Service",
			r: l4rule("team-a", "udp", nil)},
		{name: "algorithm and hash pairs (AKO's rules)",
			r: l4rule("team-a", "edge", func(s *v1alpha2.L4RuleSpec) {
				s.BackendProperties = []v1alpha2.BackendProperties{
					backend(80, "TCP", "LB_ALGORITHM_CONSISTENT_HASH", nil),
					backend(81, "TCP", "LB_ALGORITHM_CONSISTENT_HASH", func(b *v1alpha2.BackendProperties) { b.LBAlgorithmHash = v1beta1.LBHashCustomHeader }),
					backend(82, "TCP", "LB_ALGORITHM_ROUND_ROBIN", func(b *v1alpha2.BackendProperties) {
						b.LBAlgorithmHash, b.LBAlgorithmConsistentHashHdr = v1beta1.LBHashSourceIP, "X"
					}),
					backend(83, "TCP", "LB_ALGORITHM_TOPOLOGY", nil),
					backend(83, "TCP", "LB_ALGORITHM_ROUND_ROBIN", nil),
				}
			}),
			wantErrs: []string{
				`spec.backendProperties[0].lbAlgorithmHash: Required value: must be specified when lbAlgorithm is "LB_ALGORITHM_CONSISTENT_HASH", e.g. LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS`,
				`spec.backendProperties[1].lbAlgorithmConsistentHashHdr: Required value: must be specified when lbAlgorithmHash is "LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_HEADER": name the header to hash on`,
				`spec.backendProperties[2].lbAlgorithmHash: Invalid value: "LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS": must not be specified when lbAlgorithm is "LB_ALGORITHM_ROUND_ROBIN"; remove it, or set lbAlgorithm: LB_ALGORITHM_CONSISTENT_HASH`,
				`spec.backendProperties[2].lbAlgorithmConsistentHashHdr: Invalid value: "X": must not be specified when lbAlgorithm is "LB_ALGORITHM_ROUND_ROBIN"; remove it`,
				`spec.backendProperties[3].lbAlgorithm: Invalid value: "LB_ALGORITHM_TOPOLOGY": is for GSLB pools only; pick another algorithm such as LB_ALGORITHM_LEAST_CONNECTIONS`,
				`spec.backendProperties[4]: Duplicate value: "83/TCP"`,
			},
			wantWarns: []string{
				"spec.backendProperties[1]: no Service using this rule has port 81/TCP; it applies to none of their pools",
				"spec.backendProperties[2]: no Service using this rule has port 82/TCP; it applies to none of their pools",
				"spec.backendProperties[3]: no Service using this rule has port 83/TCP; it applies to none of their pools",
				"spec.backendProperties[4]: no Service using this rule has port 83/TCP; it applies to none of their pools",
			}},
		{name: "pool references of the wrong kind",
			r: l4rule("team-a", "udp", func(s *v1alpha2.L4RuleSpec) {
				s.BackendProperties = []v1alpha2.BackendProperties{backend(53, "UDP", "LB_ALGORITHM_ROUND_ROBIN", func(b *v1alpha2.BackendProperties) {
					b.HealthMonitorRefs, b.ApplicationPersistenceProfileRef, b.HealthMonitorCrdRefs = []string{"System-TCP", "System-UDP"}, "System-Persistence-Http-Cookie", []string{"hm-crd"}
					b.PKIProfileRef, b.SSLKeyAndCertificateRef = "admin-pki", "admin-ca"
				})}
			}),
			wantErrs: []string{
				`spec.backendProperties[0].applicationPersistenceProfileRef: Invalid value: "System-Persistence-Http-Cookie": is a persistence profile of type PERSISTENCE_TYPE_HTTP_COOKIE; an L4 pool needs type PERSISTENCE_TYPE_CLIENT_IP_ADDRESS, PERSISTENCE_TYPE_CLIENT_IPV6_ADDRESS or PERSISTENCE_TYPE_TLS, such as System-Persistence-Client-IP`,
				`spec.backendProperties[0].sslKeyAndCertificateRef: Invalid value: "admin-ca": is an SSL key and certificate of type SSL_CERTIFICATE_TYPE_CA; a client certificate presented to the pool's servers needs type SSL_CERTIFICATE_TYPE_VIRTUALSERVICE, such as System-Default-Cert`,
				`spec.backendProperties[0].healthMonitorRefs[0]: Invalid value: "System-TCP": is a health monitor of type HEALTH_MONITOR_TCP; a UDP pool needs type HEALTH_MONITOR_UDP, HEALTH_MONITOR_DNS, HEALTH_MONITOR_PING, HEALTH_MONITOR_EXTERNAL, HEALTH_MONITOR_RADIUS or HEALTH_MONITOR_SIP, such as System-UDP`,
			},
			wantWarns: []string{"spec.backendProperties[0].healthMonitorCrdRefs: vipgate does not implement AKO's HealthMonitor CRD; use healthMonitorRefs to name health monitors on the controller"}},
		{name: "an L4Rule IP for Services that do not share a VIP",
			r:        l4rule("team-a", "shared", func(s *v1alpha2.L4RuleSpec) { s.LoadBalancerIP = "10.50.0.30" }),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.30": is requested for Services team-a/web2, team-b/api, which do not share one VIP; an address serves one virtual service, so use this rule for one Service, or put them in one shared-VIP group (ako.vmware.com/enable-shared-vip)`}},
		{name: "an L4Rule IP held elsewhere, out of range, or differing from the Service's",
			r:        l4rule("team-a", "pinned", func(s *v1alpha2.L4RuleSpec) { s.LoadBalancerIP = "10.50.0.41" }),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.41": differs from "10.50.0.40" requested by Service team-a/pinned, which uses this rule; request the address in one place only`}},
		{name: "an L4Rule IP another Service requests",
			r:        l4rule("team-a", "edge", func(s *v1alpha2.L4RuleSpec) { s.LoadBalancerIP = "10.50.0.41" }),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.41": is already requested or held by Service team-c/other; a VIP belongs to one Service (or one shared-VIP group)`}},
		{name: "an L4Rule IP outside the range",
			r:        l4rule("team-a", "edge", func(s *v1alpha2.L4RuleSpec) { s.LoadBalancerIP = "10.50.0.5" }),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.5": is inside subnet 10.50.0.0/24 of vip-net-a but outside its static VIP range 10.50.0.10-10.50.0.200; the controller allocates VIPs only from that range`}},
		{name: "an L4Rule IP allocated to a VsVip of another tool",
			r:        l4rule("team-a", "edge", func(s *v1alpha2.L4RuleSpec) { s.LoadBalancerIP = "10.50.0.14" }),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "10.50.0.14": is already allocated on the controller to VsVip "hand-made" (no created_by); pick another address, or leave it unset to get one allocated`}},
		{name: "an L4Rule IP its own Service holds",
			r: l4rule("team-a", "edge", func(s *v1alpha2.L4RuleSpec) { s.LoadBalancerIP = "10.50.0.20" }),
			inv: func(s *inventory.Snapshot) {
				s.InUse[addr("10.50.0.20")] = inventory.Holder{VsVip: "demo--team-a-web", CreatedBy: "vipgate-demo"}
			}},
		{name: "not an IP",
			r:        l4rule("team-a", "edge", func(s *v1alpha2.L4RuleSpec) { s.LoadBalancerIP = "web" }),
			wantErrs: []string{`spec.loadBalancerIP: Invalid value: "web": must be a valid IP address, such as 10.50.0.20`}},
		{name: "revokeVipRoute off NSX-T, an unlisted type",
			r:         l4rule("team-a", "edge", func(s *v1alpha2.L4RuleSpec) { s.RevokeVipRoute, s.SecurityPolicyRef = ptr.To(true), "ddos" }),
			wantErrs:  []string{`spec.revokeVipRoute: Invalid value: true: is supported on NSX-T clouds only, and cloud "Default-Cloud" is CLOUD_VCENTER; remove it`},
			wantWarns: []string{`spec.securityPolicyRef: vipgate cannot list securitypolicy objects on the controller, so "ddos" was not checked`}},
		{name: "no Service uses it yet",
			r:         l4rule("team-a", "lonely", nil),
			wantWarns: []string{"no Service names this L4Rule yet (annotation ako.vmware.com/l4rule: team-a/lonely); it applies once one does"}},
		{name: "in a tenant",
			r:         l4rule("team-t", "edge", func(s *v1alpha2.L4RuleSpec) { s.AnalyticsProfileRef = "team-only" }),
			wantErrs:  []string{`spec.analyticsProfileRef: Invalid value: "team-only": no analytics profile named "team-only" exists on the controller in tenant "team-t" (or "admin", shared with every tenant); create it there first, or name an existing one (System-Analytics-Profile)`},
			wantWarns: []string{"no Service names this L4Rule yet (annotation ako.vmware.com/l4rule: team-t/edge); it applies once one does"}},
		{name: "stale inventory: references and the address admitted with warnings",
			r:         l4rule("team-a", "edge", func(s *v1alpha2.L4RuleSpec) { s.AnalyticsProfileRef, s.LoadBalancerIP = "nope", "10.50.0.5" }),
			stale:     true,
			wantWarns: []string{WarnInventoryStale, WarnRefsStale}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.settings
			if s == nil {
				s = demoSettings()
			}
			lk := lookups()
			lk.namespaces["team-t"] = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-t", Annotations: map[string]string{"ako.vmware.com/tenant-name": "team-t"}}}
			snap := demoInventory(withRefs)
			if tc.inv != nil {
				tc.inv(snap)
			}
			env := NewEnv(context.Background(), s, fixedSource{snap}, lk, time.Hour, now)
			env.InventoryStale = env.InventoryStale || tc.stale
			checkResult(t, ValidateL4Rule(tc.r, nil, env), tc.wantErrs, tc.wantWarns)
		})
	}
}

func TestValidateServiceL4Rule(t *testing.T) {
	lookups := func() *fakeLookups {
		f := newFake()
		f.addL4Rule(
			l4rule("team-a", "edge", nil),
			l4rule("team-a", "pinned", func(s *v1alpha2.L4RuleSpec) { s.LoadBalancerIP = "10.50.0.30" }),
			l4rule("team-a", "ssl", func(s *v1alpha2.L4RuleSpec) {
				s.ListenerProperties = []v1alpha2.ListenerProperties{{Port: 443, Protocol: "TCP", EnableSSL: ptr.To(true)}}
			}),
		)
		bad := l4rule("team-a", "bad", nil)
		bad.Status = v1beta1.RuleStatus{Status: v1beta1.StatusRejected, Error: "wafpolicy gone"}
		f.addL4Rule(bad)
		f.addService(lbSvc("team-a", "holder", useRule("pinned")), lbSvc("team-a", "g1", useRule("pinned"), shared("k")))
		return f
	}
	tests := []struct {
		name      string
		svc       *corev1.Service
		wantErrs  []string
		wantWarns []string
	}{
		{name: "an existing rule", svc: lbSvc("team-a", "web", useRule("edge"))},
		{name: "another namespace's rule", svc: lbSvc("team-b", "web", useRule("team-a/edge"))},
		{name: "a rule that does not exist yet",
			svc:       lbSvc("team-a", "web", useRule("later")),
			wantWarns: []string{"metadata.annotations[ako.vmware.com/l4rule]: L4Rule team-a/later does not exist; the Service gets vipgate's defaults until it does"}},
		{name: "a Rejected rule",
			svc:       lbSvc("team-a", "web", useRule("bad")),
			wantWarns: []string{"metadata.annotations[ako.vmware.com/l4rule]: L4Rule team-a/bad is Rejected (wafpolicy gone); it is applied once it is fixed"}},
		{name: "a malformed name",
			svc:      lbSvc("team-a", "web", useRule("a/b/c")),
			wantErrs: []string{`metadata.annotations[ako.vmware.com/l4rule]: Invalid value: "a/b/c": must be an L4Rule's name, or namespace/name`}},
		{name: "the rule's IP against the Service's",
			svc:      lbSvc("team-a", "web", useRule("pinned"), ip("10.50.0.31")),
			wantErrs: []string{`metadata.annotations[ako.vmware.com/l4rule]: Invalid value: "pinned": L4Rule team-a/pinned requests VIP 10.50.0.30, but the Service requests 10.50.0.31; request the address in one place only`}},
		{name: "the rule's IP already serves another Service",
			svc:      lbSvc("team-a", "web", useRule("pinned")),
			wantErrs: []string{`metadata.annotations[ako.vmware.com/l4rule]: Invalid value: "pinned": L4Rule team-a/pinned requests VIP 10.50.0.30, which Service team-a/holder already gets through it; an address serves one virtual service, so use another L4Rule, or share the VIP (ako.vmware.com/enable-shared-vip)`}},
		{name: "SSL needs one TCP port",
			svc:      lbSvc("team-a", "web", useRule("ssl"), ports(corev1.ServicePort{Port: 443}, corev1.ServicePort{Port: 8443})),
			wantErrs: []string{`spec.ports: Invalid value: 2: L4Rule team-a/ssl turns SSL on, which needs a Service with exactly one TCP port; give the Service one TCP port, or use another L4Rule`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := NewEnv(context.Background(), demoSettings(), fixedSource{demoInventory(withRefs)}, lookups(), time.Hour, now)
			checkResult(t, ValidateServiceL4Rule(tc.svc, env), tc.wantErrs, tc.wantWarns)
		})
	}
}
