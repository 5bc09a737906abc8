package model

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

type path struct {
	path, svc string
	port      int32
	typ       networkingv1.PathType
}

// ing builds an Ingress in namespace ns created at minute age, with one rule per host.
func ing(ns, name string, age int, rules map[string][]path, tls ...networkingv1.IngressTLS) L7Ingress {
	i := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
		CreationTimestamp: metav1.NewTime(time.Date(2025, 1, 1, 0, age, 0, 0, time.UTC))}}
	for _, h := range sortedHosts(rules) {
		r := networkingv1.IngressRule{Host: h, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
		for _, p := range rules[h] {
			typ := p.typ
			if typ == "" {
				typ = networkingv1.PathTypePrefix
			}
			r.HTTP.Paths = append(r.HTTP.Paths, networkingv1.HTTPIngressPath{Path: p.path, PathType: ptr.To(typ),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: p.svc, Port: networkingv1.ServiceBackendPort{Number: p.port}}}})
		}
		i.Spec.Rules = append(i.Spec.Rules, r)
	}
	i.Spec.TLS = tls
	return L7Ingress{Ingress: i}
}

func sortedHosts(m map[string][]path) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func l7settings(size string) *config.Settings {
	return settings(func(s *config.Settings) { s.L7Settings.ShardVSSize = size })
}

func TestShardName(t *testing.T) {
	infra := &v1beta1.AviInfraSetting{ObjectMeta: metav1.ObjectMeta{Name: "edge"}}
	infraDedicated := &v1beta1.AviInfraSetting{ObjectMeta: metav1.ObjectMeta{Name: "edge"}, Spec: v1beta1.AviInfraSettingSpec{L7Settings: v1beta1.AviInfraL7Settings{ShardSize: "DEDICATED"}}}
	for _, tc := range []struct {
		size  string
		infra *v1beta1.AviInfraSetting
		host  string
		want  string
	}{
		{"SMALL", nil, "foo.example.com", "c1--Shared-L7-0"},
		{"SMALL", nil, "bar.example.com", "c1--Shared-L7-0"},
		// fnv32a("foo.example.com") = 0x7c8f3794 → mod 4 = 0, mod 8 = 4.
		{"MEDIUM", nil, "foo.example.com", "c1--Shared-L7-0"},
		{"LARGE", nil, "foo.example.com", "c1--Shared-L7-4"},
		// fnv32a("shop.example.com") = 0xa0711666 → mod 4 = 2, mod 8 = 6.
		{"MEDIUM", nil, "shop.example.com", "c1--Shared-L7-2"},
		{"LARGE", nil, "shop.example.com", "c1--Shared-L7-6"},
		{"DEDICATED", nil, "foo.example.com", "c1--foo.example.com-L7-dedicated"},
		{"SMALL", infra, "foo.example.com", "c1--Shared-L7-edge-0"},
		{"SMALL", infraDedicated, "foo.example.com", "c1--edge-foo.example.com-L7-dedicated"},
	} {
		if got := ShardName(l7settings(tc.size), tc.infra, tc.host); got != tc.want {
			t.Errorf("%s %s: got %s want %s", tc.size, tc.host, got, tc.want)
		}
	}
}

func TestL7PoolName(t *testing.T) {
	edge := &v1beta1.AviInfraSetting{ObjectMeta: metav1.ObjectMeta{Name: "edge"}}
	for _, tc := range []struct {
		infra             *v1beta1.AviInfraSetting
		host, path        string
		secure, dedicated bool
		want              string
	}{
		// AKO's insecure pool: priority label host+path with "/" as "_".
		{nil, "foo.com", "/", false, false, "c1--foo.com_-ns-web"},
		{nil, "foo.com", "", false, false, "c1--foo.com-ns-web"},
		{nil, "foo.com", "/api/v1", false, false, "c1--foo.com_api_v1-ns-web"},
		{nil, "foo.com", "/a b?c", false, false, "c1--foo.com_a_b_c-ns-web"},
		{edge, "foo.com", "/api", false, false, "c1--edge-foo.com_api-ns-web"},
		// AKO's SNI pool and pool group: namespace first.
		{nil, "foo.com", "/api", true, false, "c1--ns-foo.com_api-web"},
		{edge, "foo.com", "/", true, false, "c1--edge-ns-foo.com_-web"},
		// A dedicated virtual service's pools, secure or not.
		{nil, "foo.com", "/api", false, true, "c1--ns-foo.com_api-web-L7-dedicated"},
		{edge, "foo.com", "/api", true, true, "c1--edge-ns-foo.com_api-web-L7-dedicated"},
	} {
		if got := L7PoolName("c1", tc.infra, tc.host, tc.path, "ns", "web", tc.secure, tc.dedicated); got != tc.want {
			t.Errorf("%s%s secure=%v dedicated=%v: got %s want %s", tc.host, tc.path, tc.secure, tc.dedicated, got, tc.want)
		}
	}
	long := L7PoolName("c1", nil, "foo.com", "/"+string(make([]byte, 300)), "ns", "web", false, false)
	if len(long) > maxNameLen || long[:7] != "c1--l7_" {
		t.Errorf("long name not hashed: %s", long)
	}
	for _, tc := range []struct{ got, want string }{
		{SNIChildName("c1", nil, "foo.com"), "c1--foo.com"},
		{SNIChildName("c1", edge, "foo.com"), "c1--edge-foo.com"},
		{SNIPolicySetName("c1", nil, "ns", "foo.com"), "c1--ns-foo.com"},
		{SNIPolicySetName("c1", edge, "ns", "foo.com"), "c1--edge-ns-foo.com"},
		{CertName("c1", edge, "foo.com", "foo-tls"), "c1--edge-foo.com"},
		{CertName("c1", edge, "foo.com", ""), "c1--router-certs-default"},
		{CertName("c1", nil, "foo.com", "router-certs-default"), "c1--router-certs-default"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s want %s", tc.got, tc.want)
		}
	}
}

func TestPlanL7(t *testing.T) {
	s := l7settings("SMALL")
	a := ing("ns1", "a", 1, map[string][]path{"foo.com": {{"/", "web", 80, ""}, {"/api", "api", 8080, ""}}})
	b := ing("ns1", "b", 2, map[string][]path{"foo.com": {{"/", "other", 80, ""}, {"/b", "web", 80, networkingv1.PathTypeExact}}})
	c := ing("ns2", "c", 3, map[string][]path{"foo.com": {{"/c", "web", 80, ""}}, "bar.com": {{"", "web", 80, networkingv1.PathTypeImplementationSpecific}}},
		networkingv1.IngressTLS{Hosts: []string{"bar.com"}, SecretName: "bar-tls"})
	noHost := ing("ns1", "d", 4, map[string][]path{"": {{"/", "web", 80, ""}}})

	p := PlanL7(s, []L7Ingress{c, noHost, b, a})
	got := mustJSON(t, p)
	want := `{"Shards":{"c1--Shared-L7-0":{"Name":"c1--Shared-L7-0","Infra":null,"Dedicated":false,
	  "Routes":[
	   {"Host":"bar.com","Path":"/","RawPath":"","Match":"BEGINS_WITH","Namespace":"ns2","Ingress":"c","Backend":{"name":"web","port":{"number":80}},"Pool":"c1--ns2-bar.com-c"},
	   {"Host":"foo.com","Path":"/b","RawPath":"/b","Match":"EQUALS","Namespace":"ns1","Ingress":"b","Backend":{"name":"web","port":{"number":80}},"Pool":"c1--foo.com_b-ns1-b"},
	   {"Host":"foo.com","Path":"/api","RawPath":"/api","Match":"BEGINS_WITH","Namespace":"ns1","Ingress":"a","Backend":{"name":"api","port":{"number":8080}},"Pool":"c1--foo.com_api-ns1-a"},
	   {"Host":"foo.com","Path":"/c","RawPath":"/c","Match":"BEGINS_WITH","Namespace":"ns2","Ingress":"c","Backend":{"name":"web","port":{"number":80}},"Pool":"c1--foo.com_c-ns2-c"},
	   {"Host":"foo.com","Path":"/","RawPath":"/","Match":"BEGINS_WITH","Namespace":"ns1","Ingress":"a","Backend":{"name":"web","port":{"number":80}},"Pool":"c1--foo.com_-ns1-a"}],
	  "TLS":[{"Host":"bar.com","Namespace":"ns2","SecretName":"bar-tls","Ingress":"ns2/c"}],
	  "Ingresses":["ns1/a","ns1/b","ns2/c"]}},
	 "HostShard":{"bar.com":"c1--Shared-L7-0","foo.com":"c1--Shared-L7-0"},
	 "IngressHosts":{"ns1/a":["foo.com"],"ns1/b":["foo.com"],"ns2/c":["bar.com","foo.com"]},
	 "Conflicts":[{"Ingress":"ns1/b","Host":"foo.com","Path":"/","Winner":"ns1/a","Reason":"path / of host foo.com is served by the older Ingress ns1/a"}],
	 "Skipped":{"ns1/d":["spec.rules[0] has no host and the cloud's DNS profile has no service domain to serve it under (as <ingress>.<namespace>.<domain>)"]}}`
	if normJSON(t, got) != normJSON(t, want) {
		t.Errorf("got\n%s", got)
	}

	// Strict: the host stays in ns1, where the oldest Ingress claimed it.
	strict := l7settings("SMALL")
	strict.L7Settings.FQDNReusePolicy = "Strict"
	p = PlanL7(strict, []L7Ingress{c, a})
	if hs := p.IngressHosts["ns2/c"]; len(hs) != 1 || hs[0] != "bar.com" {
		t.Errorf("ns2/c hosts = %v, want only bar.com", hs)
	}
	if len(p.Conflicts) != 1 || p.Conflicts[0].Ingress != "ns2/c" || p.Conflicts[0].Path != "" ||
		p.Conflicts[0].Reason != "host foo.com belongs to namespace ns1 (Ingress ns1/a) and L7Settings.fqdnReusePolicy is Strict" {
		t.Errorf("conflicts = %+v", p.Conflicts)
	}

	// A host on another shard (another AviInfraSetting) is lost whole by the younger Ingress.
	edge := c
	edge.Infra = &v1beta1.AviInfraSetting{ObjectMeta: metav1.ObjectMeta{Name: "edge"}}
	p = PlanL7(s, []L7Ingress{edge, a})
	if p.HostShard["foo.com"] != "c1--Shared-L7-0" || p.HostShard["bar.com"] != "c1--Shared-L7-edge-0" {
		t.Errorf("host shards = %v", p.HostShard)
	}
	if len(p.Conflicts) != 1 || p.Conflicts[0].Host != "foo.com" || p.Conflicts[0].Winner != "ns1/a" {
		t.Errorf("conflicts = %+v", p.Conflicts)
	}

	// A rule without a host is served as <ingress>.<namespace>.<subdomain> when the cloud has a DNS profile.
	hostless := noHost
	hostless.Subdomain = "apps.example.com"
	p = PlanL7(s, []L7Ingress{hostless})
	if hs := p.IngressHosts["ns1/d"]; len(hs) != 1 || hs[0] != "d.ns1.apps.example.com" || len(p.Skipped) != 0 {
		t.Errorf("hostless rule: hosts %v skipped %v, want [d.ns1.apps.example.com] and nothing skipped", hs, p.Skipped)
	}
	if got := ShardsOf(s, hostless); len(got) != 1 || got[0] != p.HostShard["d.ns1.apps.example.com"] {
		t.Errorf("ShardsOf(hostless) = %v, want the host's shard %s", got, p.HostShard["d.ns1.apps.example.com"])
	}

	// Deterministic whatever the input order.
	if mustJSON(t, PlanL7(s, []L7Ingress{a, b, c, noHost})) != mustJSON(t, PlanL7(s, []L7Ingress{noHost, c, b, a})) {
		t.Error("plan depends on input order")
	}
}

func TestBuildL7(t *testing.T) {
	webSvc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "web"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: "TCP", TargetPort: intstr.FromInt32(8080), NodePort: 30080}}}}
	backends := map[string]Member{"ns1/web": {Service: webSvc, Slices: []discoveryv1.EndpointSlice{slice("http", 8080, "TCP", map[string]bool{"10.0.0.1": true, "10.0.0.2": false})}}}
	insecure := ing("ns1", "a", 1, map[string][]path{"foo.com": {{"/", "web", 80, ""}}})
	secure := ing("ns1", "s", 2, map[string][]path{"sec.com": {{"/app", "web", 80, networkingv1.PathTypeExact}}},
		networkingv1.IngressTLS{Hosts: []string{"sec.com"}, SecretName: "sec-tls"})
	cert := &Cert{Certificate: []byte("CERT-PEM"), Key: []byte("KEY-PEM")}

	shardOf := func(s *config.Settings, ings ...L7Ingress) *ShardPlan {
		p := PlanL7(s, ings)
		for _, sp := range p.Shards {
			return sp
		}
		return nil
	}
	tests := []struct {
		name string
		in   L7Input
		want string
	}{{
		name: "insecure and secure host on a shared parent",
		in: L7Input{Settings: l7settings("SMALL"), Shard: shardOf(l7settings("SMALL"), insecure, secure), Backends: backends,
			Certs: map[string]*Cert{"sec.com": cert}},
		want: `{"ClusterID":"","CreatedBy":"vipgate-c1","HTTPPolicySets":[{"created_by":"vipgate-c1","http_request_policy":{"rules":[{"enable":true,"index":1,"match":{"host_hdr":{"match_case":"INSENSITIVE","match_criteria":"HDR_EQUALS","value":["sec.com"]},"vs_port":{"match_criteria":"IS_IN","ports":[80]}},"name":"sec.com-redirect-https","redirect_action":{"keep_query":true,"port":443,"protocol":"HTTPS","status_code":"HTTP_REDIRECT_STATUS_CODE_302"}},{"enable":true,"index":2,"match":{"host_hdr":{"match_case":"INSENSITIVE","match_criteria":"HDR_EQUALS","value":["foo.com"]},"path":{"match_case":"SENSITIVE","match_criteria":"BEGINS_WITH","match_str":["/"]}},"name":"c1--foo.com_-ns1-a","switching_action":{"action":"HTTP_SWITCHING_SELECT_POOLGROUP","pool_group_ref":"/api/poolgroup/?name=c1--foo.com_-ns1-a"}}]},"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]}],"name":"c1--Shared-L7-0"},{"created_by":"vipgate-c1","http_request_policy":{"rules":[{"enable":true,"index":1,"match":{"host_hdr":{"match_case":"INSENSITIVE","match_criteria":"HDR_EQUALS","value":["sec.com"]},"path":{"match_case":"SENSITIVE","match_criteria":"EQUALS","match_str":["/app"]}},"name":"c1--ns1-sec.com_app-s","switching_action":{"action":"HTTP_SWITCHING_SELECT_POOLGROUP","pool_group_ref":"/api/poolgroup/?name=c1--ns1-sec.com_app-s"}}]},"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]},{"key":"Namespace","values":["ns1"]},{"key":"Host","values":["sec.com"]},{"key":"Path","values":["/app"]},{"key":"IngressName","values":["s"]}],"name":"c1--ns1-sec.com"}],"L7":true,"OwnedBy":"L7","Owner":"c1--Shared-L7-0","PoolBases":null,"PoolGroups":[{"cloud_ref":"/api/cloud/?name=Default-Cloud","created_by":"vipgate-c1","markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]},{"key":"Namespace","values":["ns1"]},{"key":"Host","values":["foo.com"]},{"key":"Path","values":["/"]},{"key":"IngressName","values":["a"]}],"members":[{"pool_ref":"/api/pool/?name=c1--foo.com_-ns1-a"}],"name":"c1--foo.com_-ns1-a"},{"cloud_ref":"/api/cloud/?name=Default-Cloud","created_by":"vipgate-c1","markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]},{"key":"Namespace","values":["ns1"]},{"key":"Host","values":["sec.com"]},{"key":"Path","values":["/app"]},{"key":"IngressName","values":["s"]}],"members":[{"pool_ref":"/api/pool/?name=c1--ns1-sec.com_app-s"}],"name":"c1--ns1-sec.com_app-s"}],"Pools":[{"cloud_ref":"/api/cloud/?name=Default-Cloud","created_by":"vipgate-c1","health_monitor_refs":["/api/healthmonitor/?name=System-TCP"],"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]},{"key":"Namespace","values":["ns1"]},{"key":"Host","values":["foo.com"]},{"key":"Path","values":["/"]},{"key":"IngressName","values":["a"]}],"name":"c1--foo.com_-ns1-a","servers":[{"ip":{"addr":"10.0.0.1","type":"V4"},"port":8080}],"vrf_ref":"/api/vrfcontext/?name=global"},{"cloud_ref":"/api/cloud/?name=Default-Cloud","created_by":"vipgate-c1","health_monitor_refs":["/api/healthmonitor/?name=System-TCP"],"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]},{"key":"Namespace","values":["ns1"]},{"key":"Host","values":["sec.com"]},{"key":"Path","values":["/app"]},{"key":"IngressName","values":["s"]}],"name":"c1--ns1-sec.com_app-s","servers":[{"ip":{"addr":"10.0.0.1","type":"V4"},"port":8080}],"vrf_ref":"/api/vrfcontext/?name=global"}],"SSLKeyAndCertificates":[{"certificate":{"certificate":"CERT-PEM"},"created_by":"vipgate-c1","key":"KEY-PEM","markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]},{"key":"Host","values":["sec.com"]}],"name":"c1--sec.com","type":"SSL_CERTIFICATE_TYPE_VIRTUALSERVICE"}],"Tenant":"admin","VirtualServices":[{"application_profile_ref":"/api/applicationprofile/?name=System-HTTP","cloud_ref":"/api/cloud/?name=Default-Cloud","created_by":"vipgate-c1","http_policies":[{"http_policy_set_ref":"/api/httppolicyset/?name=c1--Shared-L7-0","index":11}],"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]}],"name":"c1--Shared-L7-0","se_group_ref":"/api/serviceenginegroup/?name=Default-Group","services":[{"port":80},{"enable_ssl":true,"port":443}],"ssl_key_and_certificate_refs":["/api/sslkeyandcertificate/?name=System-Default-Cert"],"ssl_profile_ref":"/api/sslprofile/?name=System-Standard","type":"VS_TYPE_VH_PARENT","vrf_context_ref":"/api/vrfcontext/?name=global","vsvip_ref":"/api/vsvip/?name=c1--Shared-L7-0"},{"application_profile_ref":"/api/applicationprofile/?name=System-Secure-HTTP","cloud_ref":"/api/cloud/?name=Default-Cloud","created_by":"vipgate-c1","http_policies":[{"http_policy_set_ref":"/api/httppolicyset/?name=c1--ns1-sec.com","index":11}],"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]},{"key":"Namespace","values":["ns1"]},{"key":"Host","values":["sec.com"]}],"name":"c1--sec.com","se_group_ref":"/api/serviceenginegroup/?name=Default-Group","ssl_key_and_certificate_refs":["/api/sslkeyandcertificate/?name=c1--sec.com"],"ssl_profile_ref":"/api/sslprofile/?name=System-Standard","type":"VS_TYPE_VH_CHILD","vh_domain_name":["sec.com"],"vh_parent_vs_ref":"/api/virtualservice/?name=c1--Shared-L7-0","vrf_context_ref":"/api/vrfcontext/?name=global"}],"VsVips":[{"cloud_ref":"/api/cloud/?name=Default-Cloud","dns_info":[{"fqdn":"foo.com","type":"DNS_RECORD_A"},{"fqdn":"sec.com","type":"DNS_RECORD_A"}],"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]}],"name":"c1--Shared-L7-0","vip":[{"auto_allocate_ip":true,"ipam_network_subnet":{"network_ref":"/api/network/?name=vip-net-a","subnet":{"ip_addr":{"addr":"10.50.0.0","type":"V4"},"mask":24}},"vip_id":"0"}],"vrf_context_ref":"/api/vrfcontext/?name=global"}]}`,
	}, {
		name: "secure host without a usable certificate: redirect only, no child, no pools",
		in:   L7Input{Settings: l7settings("SMALL"), Shard: shardOf(l7settings("SMALL"), secure), Backends: backends},
		want: `{"ClusterID":"","CreatedBy":"vipgate-c1","HTTPPolicySets":[{"created_by":"vipgate-c1","http_request_policy":{"rules":[{"enable":true,"index":1,"match":{"host_hdr":{"match_case":"INSENSITIVE","match_criteria":"HDR_EQUALS","value":["sec.com"]},"vs_port":{"match_criteria":"IS_IN","ports":[80]}},"name":"sec.com-redirect-https","redirect_action":{"keep_query":true,"port":443,"protocol":"HTTPS","status_code":"HTTP_REDIRECT_STATUS_CODE_302"}}]},"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]}],"name":"c1--Shared-L7-0"}],"L7":true,"OwnedBy":"L7","Owner":"c1--Shared-L7-0","PoolBases":null,"Pools":null,"Tenant":"admin","VirtualServices":[{"application_profile_ref":"/api/applicationprofile/?name=System-HTTP","cloud_ref":"/api/cloud/?name=Default-Cloud","created_by":"vipgate-c1","http_policies":[{"http_policy_set_ref":"/api/httppolicyset/?name=c1--Shared-L7-0","index":11}],"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]}],"name":"c1--Shared-L7-0","se_group_ref":"/api/serviceenginegroup/?name=Default-Group","services":[{"port":80},{"enable_ssl":true,"port":443}],"ssl_key_and_certificate_refs":["/api/sslkeyandcertificate/?name=System-Default-Cert"],"ssl_profile_ref":"/api/sslprofile/?name=System-Standard","type":"VS_TYPE_VH_PARENT","vrf_context_ref":"/api/vrfcontext/?name=global","vsvip_ref":"/api/vsvip/?name=c1--Shared-L7-0"}],"VsVips":[{"cloud_ref":"/api/cloud/?name=Default-Cloud","dns_info":[{"fqdn":"sec.com","type":"DNS_RECORD_A"}],"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]}],"name":"c1--Shared-L7-0","vip":[{"auto_allocate_ip":true,"ipam_network_subnet":{"network_ref":"/api/network/?name=vip-net-a","subnet":{"ip_addr":{"addr":"10.50.0.0","type":"V4"},"mask":24}},"vip_id":"0"}],"vrf_context_ref":"/api/vrfcontext/?name=global"}]}`,
	}, {
		name: "DEDICATED secure host: one normal VS with the certificate, NodePort servers",
		in: L7Input{Settings: func() *config.Settings { s := l7settings("DEDICATED"); s.L7Settings.ServiceType = "NodePort"; return s }(),
			Shard: shardOf(l7settings("DEDICATED"), secure), Backends: backends, Certs: map[string]*Cert{"sec.com": cert},
			NodeAddresses: []string{"192.168.0.2", "192.168.0.1"}},
		want: `{"ClusterID":"","CreatedBy":"vipgate-c1","HTTPPolicySets":[{"created_by":"vipgate-c1","http_request_policy":{"rules":[{"enable":true,"index":1,"match":{"host_hdr":{"match_case":"INSENSITIVE","match_criteria":"HDR_EQUALS","value":["sec.com"]},"vs_port":{"match_criteria":"IS_IN","ports":[80]}},"name":"sec.com-redirect-https","redirect_action":{"keep_query":true,"port":443,"protocol":"HTTPS","status_code":"HTTP_REDIRECT_STATUS_CODE_302"}}]},"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]}],"name":"c1--sec.com-L7-dedicated"},{"created_by":"vipgate-c1","http_request_policy":{"rules":[{"enable":true,"index":1,"match":{"host_hdr":{"match_case":"INSENSITIVE","match_criteria":"HDR_EQUALS","value":["sec.com"]},"path":{"match_case":"SENSITIVE","match_criteria":"EQUALS","match_str":["/app"]}},"name":"c1--ns1-sec.com_app-s-L7-dedicated","switching_action":{"action":"HTTP_SWITCHING_SELECT_POOLGROUP","pool_group_ref":"/api/poolgroup/?name=c1--ns1-sec.com_app-s-L7-dedicated"}}]},"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]},{"key":"Namespace","values":["ns1"]},{"key":"Host","values":["sec.com"]},{"key":"Path","values":["/app"]},{"key":"IngressName","values":["s"]}],"name":"c1--ns1-sec.com"}],"L7":true,"OwnedBy":"L7","Owner":"c1--sec.com-L7-dedicated","PoolBases":null,"PoolGroups":[{"cloud_ref":"/api/cloud/?name=Default-Cloud","created_by":"vipgate-c1","markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]},{"key":"Namespace","values":["ns1"]},{"key":"Host","values":["sec.com"]},{"key":"Path","values":["/app"]},{"key":"IngressName","values":["s"]}],"members":[{"pool_ref":"/api/pool/?name=c1--ns1-sec.com_app-s-L7-dedicated"}],"name":"c1--ns1-sec.com_app-s-L7-dedicated"}],"Pools":[{"cloud_ref":"/api/cloud/?name=Default-Cloud","created_by":"vipgate-c1","health_monitor_refs":["/api/healthmonitor/?name=System-TCP"],"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]},{"key":"Namespace","values":["ns1"]},{"key":"Host","values":["sec.com"]},{"key":"Path","values":["/app"]},{"key":"IngressName","values":["s"]}],"name":"c1--ns1-sec.com_app-s-L7-dedicated","servers":[{"ip":{"addr":"192.168.0.1","type":"V4"},"port":30080},{"ip":{"addr":"192.168.0.2","type":"V4"},"port":30080}],"vrf_ref":"/api/vrfcontext/?name=global"}],"SSLKeyAndCertificates":[{"certificate":{"certificate":"CERT-PEM"},"created_by":"vipgate-c1","key":"KEY-PEM","markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]},{"key":"Host","values":["sec.com"]}],"name":"c1--sec.com","type":"SSL_CERTIFICATE_TYPE_VIRTUALSERVICE"}],"Tenant":"admin","VirtualServices":[{"application_profile_ref":"/api/applicationprofile/?name=System-Secure-HTTP","cloud_ref":"/api/cloud/?name=Default-Cloud","created_by":"vipgate-c1","http_policies":[{"http_policy_set_ref":"/api/httppolicyset/?name=c1--sec.com-L7-dedicated","index":11},{"http_policy_set_ref":"/api/httppolicyset/?name=c1--ns1-sec.com","index":12}],"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]},{"key":"Namespace","values":["ns1"]},{"key":"Host","values":["sec.com"]}],"name":"c1--sec.com-L7-dedicated","se_group_ref":"/api/serviceenginegroup/?name=Default-Group","services":[{"port":80},{"enable_ssl":true,"port":443}],"ssl_key_and_certificate_refs":["/api/sslkeyandcertificate/?name=c1--sec.com"],"ssl_profile_ref":"/api/sslprofile/?name=System-Standard","type":"VS_TYPE_NORMAL","vrf_context_ref":"/api/vrfcontext/?name=global","vsvip_ref":"/api/vsvip/?name=c1--sec.com-L7-dedicated"}],"VsVips":[{"cloud_ref":"/api/cloud/?name=Default-Cloud","dns_info":[{"fqdn":"sec.com","type":"DNS_RECORD_A"}],"markers":[{"key":"created_by","values":["vipgate-c1"]},{"key":"clustername","values":["c1"]},{"key":"vipgate-owner","values":["L7"]}],"name":"c1--sec.com-L7-dedicated","vip":[{"auto_allocate_ip":true,"ipam_network_subnet":{"network_ref":"/api/network/?name=vip-net-a","subnet":{"ip_addr":{"addr":"10.50.0.0","type":"V4"},"mask":24}},"vip_id":"0"}],"vrf_context_ref":"/api/vrfcontext/?name=global"}]}`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := BuildL7(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got := mustJSON(t, set)
			if normJSON(t, got) != normJSON(t, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", normJSON(t, got), normJSON(t, tc.want))
			}
			again, _ := BuildL7(tc.in)
			if mustJSON(t, again) != got {
				t.Error("not deterministic")
			}
		})
	}
}

func TestBuildL7InfraSetting(t *testing.T) {
	infra := &v1beta1.AviInfraSetting{ObjectMeta: metav1.ObjectMeta{Name: "edge"}, Spec: v1beta1.AviInfraSettingSpec{
		SeGroup: v1beta1.AviInfraSettingSeGroup{Name: "edge-seg"},
		Network: v1beta1.AviInfraSettingNetwork{VipNetworks: []v1beta1.AviInfraSettingVipNetwork{{NetworkName: "vip-net-b"}}}}}
	i := ing("ns1", "a", 1, map[string][]path{"foo.com": {{"/", "web", 80, ""}}})
	i.Infra = infra
	p := PlanL7(l7settings("SMALL"), []L7Ingress{i})
	set, err := BuildL7(L7Input{Settings: l7settings("SMALL"), Shard: p.Shards["c1--Shared-L7-edge-0"]})
	if err != nil {
		t.Fatal(err)
	}
	got := mustJSON(t, []any{set.VsVips[0].Vip, set.VirtualServices[0].SeGroupRef, set.Pools[0].Servers})
	want := `[[{"vip_id":"0","auto_allocate_ip":true,"ipam_network_subnet":{"network_ref":"/api/network/?name=vip-net-b"}}],"/api/serviceenginegroup/?name=edge-seg",null]`
	if normJSON(t, got) != normJSON(t, want) {
		t.Errorf("got %s", got)
	}
	names := L7Names(l7settings("SMALL"), p)
	for _, n := range []string{"vsvip/c1--Shared-L7-edge-0", "virtualservice/c1--Shared-L7-edge-0", "httppolicyset/c1--Shared-L7-edge-0", "pool/c1--edge-foo.com_-ns1-a", "poolgroup/c1--edge-foo.com_-ns1-a"} {
		if !names[n] {
			t.Errorf("L7Names lacks %s: %v", n, names)
		}
	}
}

// TestBuildL7AKOGraph checks the parts of the L7 graph users and Avi admins
// see against what AKO builds: the default certificate for an Ingress
// annotated enable-tls (one object for every host using it), one SNI policy
// set per namespace of a shared secure host, and the VsVip's DNS records.
func TestBuildL7AKOGraph(t *testing.T) {
	s := l7settings("SMALL")
	s.ControllerSettings.TenantName = "team_a"
	tlsAll := ing("ns1", "all", 1, map[string][]path{"a.com": {{"/", "web", 80, ""}}, "b.com": {{"/x", "web", 80, ""}}})
	tlsAll.Ingress.Annotations = map[string]string{AnnEnableTLS: "true"}
	other := ing("ns2", "other", 2, map[string][]path{"a.com": {{"/other", "web", 80, ""}}})
	plan := PlanL7(s, []L7Ingress{tlsAll, other})
	sp := plan.Shards["c1--Shared-L7-0"]
	if sp == nil || len(sp.TLS) != 2 || sp.TLS[0].SecretName != "" || sp.TLS[1].SecretName != "" {
		t.Fatalf("enable-tls hosts: %+v, want a.com and b.com on the default certificate", sp)
	}
	cert := &Cert{Certificate: []byte("C"), Key: []byte("K")}
	set, err := BuildL7(L7Input{Settings: s, Shard: sp, Snapshot: &inventory.Snapshot{Cloud: inventory.Cloud{DNSDomains: []string{"apps.example.com"}}},
		Certs: map[string]*Cert{"a.com": cert, "b.com": cert}})
	if err != nil {
		t.Fatal(err)
	}
	var certs, sets, vss []string
	for _, c := range set.SSLKeyAndCertificates {
		certs = append(certs, *c.Name)
	}
	for _, p := range set.HTTPPolicySets {
		sets = append(sets, *p.Name)
	}
	for _, v := range set.VirtualServices {
		var refs []string
		for _, h := range v.HTTPPolicies {
			refs = append(refs, *h.HTTPPolicySetRef)
		}
		vss = append(vss, *v.Name+" "+strings.Join(v.SslKeyAndCertificateRefs, ",")+" "+strings.Join(refs, ","))
	}
	var fqdns []string
	for _, d := range set.VsVips[0].DNSInfo {
		fqdns = append(fqdns, *d.Fqdn)
	}
	got := strings.Join([]string{strings.Join(certs, " "), strings.Join(sets, " "), strings.Join(vss, " | "), strings.Join(fqdns, " ")}, "\n")
	want := strings.Join([]string{
		"c1--router-certs-default",
		"c1--Shared-L7-0 c1--ns1-a.com c1--ns2-a.com c1--ns1-b.com",
		"c1--Shared-L7-0 /api/sslkeyandcertificate/?name=System-Default-Cert /api/httppolicyset/?name=c1--Shared-L7-0" +
			" | c1--a.com /api/sslkeyandcertificate/?name=c1--router-certs-default /api/httppolicyset/?name=c1--ns1-a.com,/api/httppolicyset/?name=c1--ns2-a.com" +
			" | c1--b.com /api/sslkeyandcertificate/?name=c1--router-certs-default /api/httppolicyset/?name=c1--ns1-b.com",
		"c1--Shared-L7-0.team-a.apps.example.com a.com b.com",
	}, "\n")
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// The ns2 Ingress's path rides on the same SNI child, in its own policy set.
	for _, p := range set.HTTPPolicySets {
		if *p.Name == "c1--ns2-a.com" {
			if r := p.HTTPRequestPolicy.Rules; len(r) != 1 || *r[0].Name != "c1--ns2-a.com_other-other" {
				t.Errorf("c1--ns2-a.com rules %s", mustJSON(t, r))
			}
			if m := mustJSON(t, p.Markers[3:]); normJSON(t, m) != normJSON(t, `[{"key":"Namespace","values":["ns2"]},{"key":"Host","values":["a.com"]},{"key":"Path","values":["/other"]},{"key":"IngressName","values":["other"]}]`) {
				t.Errorf("c1--ns2-a.com markers %s", m)
			}
		}
	}
	names := L7Names(s, plan)
	for _, n := range []string{"sslkeyandcertificate/c1--router-certs-default", "httppolicyset/c1--ns2-a.com", "virtualservice/c1--b.com", "pool/c1--ns2-a.com_other-other"} {
		if !names[n] {
			t.Errorf("L7Names lacks %s", n)
		}
	}

	// autoFQDN flat names the shard "<shard>-<tenant>.<domain>"; disabled names only hosts.
	s.L4Settings.AutoFQDN = "flat"
	if f := shardFQDNs(L7Input{Settings: s, Shard: sp, Snapshot: &inventory.Snapshot{Cloud: inventory.Cloud{DNSDomains: []string{"apps.example.com"}}}}); f[0] != "c1--Shared-L7-0-team-a.apps.example.com" {
		t.Errorf("flat shard FQDN %v", f)
	}
	s.L4Settings.AutoFQDN = "disabled"
	if f := shardFQDNs(L7Input{Settings: s, Shard: sp, Snapshot: &inventory.Snapshot{Cloud: inventory.Cloud{DNSDomains: []string{"apps.example.com"}}}}); strings.Join(f, " ") != "a.com b.com" {
		t.Errorf("disabled: FQDNs %v, want only the hosts", f)
	}
}
