package rulecrds

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/tests/harness"
)

func l4RuleYAML(ns, name, spec string) string {
	return fmt.Sprintf(`apiVersion: ako.vmware.com/v1alpha2
kind: L4Rule
metadata: {name: %s, namespace: %s}
spec:
%s`, name, ns, indent(spec, "  "))
}

func getL4Rule(t testing.TB, ns, name string) *v1alpha2.L4Rule {
	t.Helper()
	r := &v1alpha2.L4Rule{}
	if err := env.Client.Get(context.Background(), clientKey(ns, name), r); err != nil {
		t.Fatal(err)
	}
	return r
}

// lbService creates a LoadBalancer Service on port 80 (→ 8080) naming an
// L4Rule, with ready endpoints at addrs.
func lbService(t testing.TB, ns, name, rule string, addrs ...string) {
	t.Helper()
	env.CreateAndRemove(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{v1alpha2.AnnL4Rule: rule}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Name: "tcp", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}}})
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("tcp"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(8080))}},
	}
	for _, a := range addrs {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	env.CreateAndRemove(t, sl)
}

// TestL4Rule: admission checks every reference of an L4Rule (kinds for an
// L4 virtual service and its pools), AKO's algorithm/hash rules, SSL
// consistency, NSX-T only settings and a requested IP as loadBalancerIP;
// an accepted rule reaches the Service's virtual service, pool and VsVip
// (the Service gets the requested VIP); a persistence profile deleted on
// the controller turns it Rejected while the virtual service and pool keep
// what it set; removing it restores the defaults.
func TestL4Rule(t *testing.T) {
	sim, c := start(t, nil)
	ns := newNamespace(t)
	for _, tc := range []struct {
		name, spec string
		want       []string
	}{
		{"an HTTP application profile", "applicationProfileRef: demo-http",
			[]string{`spec.applicationProfileRef: Invalid value: "demo-http": is an application profile of type APPLICATION_PROFILE_TYPE_HTTP; a Service of type LoadBalancer needs type APPLICATION_PROFILE_TYPE_L4, such as System-L4-Application`}},
		{"missing network and analytics profiles", "networkProfileRef: nope\nanalyticsProfileRef: nope",
			[]string{`spec.networkProfileRef: Invalid value: "nope": no network profile named "nope"`, `spec.analyticsProfileRef: Invalid value: "nope": no analytics profile named "nope"`}},
		{"a UDP monitor on a TCP pool, a cookie persistence", "backendProperties:\n- {port: 80, protocol: TCP, healthMonitorRefs: [System-UDP], applicationPersistenceProfileRef: System-Persistence-Http-Cookie}",
			[]string{`spec.backendProperties[0].healthMonitorRefs[0]: Invalid value: "System-UDP": is a health monitor of type HEALTH_MONITOR_UDP; a TCP pool needs type`,
				`spec.backendProperties[0].applicationPersistenceProfileRef: Invalid value: "System-Persistence-Http-Cookie": is a persistence profile of type PERSISTENCE_TYPE_HTTP_COOKIE; an L4 pool needs type`}},
		{"an SSL listener with a CA certificate and a fast-path network profile, a missing DataScript",
			"applicationProfileRef: System-SSL-Application\nnetworkProfileRef: System-TCP-Fast-Path\nlistenerProperties:\n- {port: 80, protocol: TCP, enableSsl: true}\n" +
				"sslProfileRef: System-Standard\nsslKeyAndCertificateRefs: [admin-ca]\nvsDatascriptRefs: [nope]",
			[]string{`spec.sslKeyAndCertificateRefs[0]: Invalid value: "admin-ca": is an SSL key and certificate of type SSL_CERTIFICATE_TYPE_CA; a certificate presented to clients needs type SSL_CERTIFICATE_TYPE_VIRTUALSERVICE`,
				`spec.networkProfileRef: Invalid value: "System-TCP-Fast-Path": is a network profile of type PROTOCOL_TYPE_TCP_FAST_PATH; an SSL listener needs type PROTOCOL_TYPE_TCP_PROXY`,
				`spec.vsDatascriptRefs[0]: Invalid value: "nope": no DataScript set named "nope"`}},
		{"consistent hash without a key", "backendProperties:\n- {port: 80, protocol: TCP, lbAlgorithm: LB_ALGORITHM_CONSISTENT_HASH}",
			[]string{`spec.backendProperties[0].lbAlgorithmHash: Required value: must be specified when lbAlgorithm is "LB_ALGORITHM_CONSISTENT_HASH"`}},
		{"an SSL profile without SSL", "sslProfileRef: System-Standard",
			[]string{`spec.sslProfileRef: Invalid value: "System-Standard": applies only to SSL listeners`}},
		{"a requested IP outside the VIP range", "loadBalancerIP: 10.50.0.250",
			[]string{`spec.loadBalancerIP: Invalid value: "10.50.0.250": is inside subnet 10.50.0.0/24 of vip-net-a but outside its static VIP range 10.50.0.10-10.50.0.200`}},
		{"revokeVipRoute off NSX-T", "revokeVipRoute: true",
			[]string{`spec.revokeVipRoute: Invalid value: true: is supported on NSX-T clouds only, and cloud "Default-Cloud" is CLOUD_VCENTER; remove it`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustRefuse(t, l4RuleYAML(ns, "bad", tc.spec), append([]string{`"bad" is invalid`}, tc.want...)...)
		})
	}

	// admin-persist is made on the controller now; admission sees it at the
	// next inventory refresh.
	persist := map[string]any{"name": "admin-persist", "persistence_type": "PERSISTENCE_TYPE_CLIENT_IP_ADDRESS"}
	if err := c.Create(context.Background(), "applicationpersistenceprofile", persist, "admin", nil); err != nil {
		t.Fatal(err)
	}
	edge := l4RuleYAML(ns, "edge", "applicationProfileRef: admin-l4\nnetworkProfileRef: System-TCP-Fast-Path\nloadBalancerIP: 10.50.0.60\n"+
		"vsDatascriptRefs: [Default-PASV-FTP]\nperformanceLimits: {maxConcurrentConnections: 100}\n"+
		"backendProperties:\n- {port: 80, protocol: TCP, lbAlgorithm: LB_ALGORITHM_ROUND_ROBIN, healthMonitorRefs: [System-Ping], applicationPersistenceProfileRef: System-Persistence-Client-IP}\n"+
		"- {port: 443, protocol: TCP, applicationPersistenceProfileRef: admin-persist}")
	var out string
	harness.Eventually(t, "the L4Rule admitted once the inventory has admin-persist", func() string {
		o, err := apply(t, edge)
		if err != nil {
			return o
		}
		out = o
		return ""
	})
	if !strings.Contains(out, "Warning: no Service names this L4Rule yet (annotation ako.vmware.com/l4rule: "+ns+"/edge); it applies once one does") {
		t.Errorf("no warning for an L4Rule no Service uses:\n%s", out)
	}
	ruleStatus(t, getL4Rule(t, ns, "edge"), v1beta1.StatusAccepted)

	lbService(t, ns, "web", "edge", "10.5.0.1")
	vsName, pool := "demo--"+ns+"-web", "demo--"+ns+"-web-TCP-80"
	harness.Eventually(t, "the L4Rule on the virtual service, pool and VIP", func() string {
		vs, p := simObject(sim, "virtualservice", vsName), simObject(sim, "pool", pool)
		switch {
		case vs == nil || p == nil:
			return "virtual service or pool missing"
		case refName(sim, "applicationprofile", vs["application_profile_ref"]) != "admin-l4" || refName(sim, "networkprofile", vs["network_profile_ref"]) != "System-TCP-Fast-Path":
			return fmt.Sprintf("profiles %v %v", vs["application_profile_ref"], vs["network_profile_ref"])
		case refName(sim, "vsdatascriptset", harness.Path(vs, "vs_datascripts", 0, "vs_datascript_set_ref")) != "Default-PASV-FTP" || harness.Path(vs, "performance_limits", "max_concurrent_connections") != float64(100):
			return fmt.Sprintf("datascripts %v limits %v", vs["vs_datascripts"], vs["performance_limits"])
		case p["lb_algorithm"] != "LB_ALGORITHM_ROUND_ROBIN" || refName(sim, "healthmonitor", harness.Path(p, "health_monitor_refs", 0)) != "System-Ping" ||
			refName(sim, "applicationpersistenceprofile", p["application_persistence_profile_ref"]) != "System-Persistence-Client-IP":
			return fmt.Sprintf("pool %v", p)
		}
		var svc corev1.Service
		if err := env.Client.Get(context.Background(), clientKey(ns, "web"), &svc); err != nil {
			return err.Error()
		}
		if in := svc.Status.LoadBalancer.Ingress; len(in) != 1 || in[0].IP != "10.50.0.60" {
			return fmt.Sprintf("Service status %+v, want the L4Rule's 10.50.0.60", in)
		}
		return ""
	})

	// A second Service cannot take the rule's VIP.
	mustRefuse(t, `apiVersion: v1
kind: Service
metadata:
  name: web2
  namespace: `+ns+`
  annotations: {ako.vmware.com/l4rule: edge}
spec:
  type: LoadBalancer
  ports: [{name: tcp, port: 80}]
`, `metadata.annotations[ako.vmware.com/l4rule]: Invalid value: "edge": L4Rule `+ns+`/edge requests VIP 10.50.0.60, which Service `+ns+`/web already gets through it`)

	// Deleted on the controller: admin-persist (its port 443 is not the
	// Service's, so no pool refers to it) goes; the rule is Rejected and
	// the virtual service and pool keep what it set.
	if err := c.Delete(context.Background(), "applicationpersistenceprofile", uuidOf(t, sim, "applicationpersistenceprofile", "admin-persist"), "admin"); err != nil {
		t.Fatal(err)
	}
	msg := ruleStatus(t, getL4Rule(t, ns, "edge"), v1beta1.StatusRejected)
	if !strings.Contains(msg, `spec.backendProperties[1].applicationPersistenceProfileRef: Invalid value: "admin-persist": no persistence profile named "admin-persist"`) {
		t.Errorf("status error %q", msg)
	}
	harness.Eventually(t, "a Rejected Event", func() string {
		for _, e := range events(t, ns, "L4Rule", "edge") {
			if strings.HasPrefix(e, "Rejected: ") && strings.Contains(e, "admin-persist") {
				return ""
			}
		}
		return fmt.Sprint(events(t, ns, "L4Rule", "edge"))
	})
	backendUpdate(t, ns, "web", "10.5.0.2")
	harness.Eventually(t, "servers follow, settings held", func() string {
		p, vs := simObject(sim, "pool", pool), simObject(sim, "virtualservice", vsName)
		if s := fmt.Sprint(harness.Path(p, "servers", 0, "ip", "addr")); s != "10.5.0.2" {
			return "servers " + fmt.Sprint(p["servers"])
		}
		if p["lb_algorithm"] != "LB_ALGORITHM_ROUND_ROBIN" || refName(sim, "applicationprofile", vs["application_profile_ref"]) != "admin-l4" {
			return fmt.Sprintf("held settings lost: pool %v vs %v", p["lb_algorithm"], vs["application_profile_ref"])
		}
		return ""
	})

	// Removed: the Service's virtual service and pool go back to defaults.
	settle(t, sim)
	sim.ResetCounts()
	kubectlDelete(t, ns, "l4rule", "edge")
	harness.Eventually(t, "defaults back", func() string {
		vs, p := simObject(sim, "virtualservice", vsName), simObject(sim, "pool", pool)
		if refName(sim, "applicationprofile", vs["application_profile_ref"]) != "System-L4-Application" || refName(sim, "networkprofile", vs["network_profile_ref"]) != "System-TCP-Proxy" {
			return fmt.Sprintf("profiles %v %v", vs["application_profile_ref"], vs["network_profile_ref"])
		}
		if vs["vs_datascripts"] != nil || vs["performance_limits"] != nil || p["application_persistence_profile_ref"] != nil || p["lb_algorithm"] != "LB_ALGORITHM_LEAST_CONNECTIONS" {
			return fmt.Sprintf("rule settings remain: vs %v pool %v", vs, p)
		}
		return ""
	})
	settle(t, sim)
	if c := sim.Counts(); c["PUT virtualservice"] != 1 || c["PUT pool"] != 1 {
		t.Errorf("removing the L4Rule: %v, want one PUT of the virtual service and one of the pool", c)
	}
}
