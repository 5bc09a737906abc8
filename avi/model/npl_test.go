package model

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/config"
)

func TestParseNPL(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{`[{"podPort":8080,"nodeIP":"10.0.0.11","nodePort":61000,"protocol":"tcp","protocols":["tcp"]}]`,
			`[{"podPort":8080,"nodeIP":"10.0.0.11","nodePort":61000,"protocol":"tcp","protocols":["tcp"]}]`, ""},
		{`[{"podPort":53,"nodeIP":"10.0.0.11","nodePort":61001,"protocols":["udp","tcp"]}]`,
			`[{"podPort":53,"nodeIP":"10.0.0.11","nodePort":61001,"protocols":["udp","tcp"]}]`, ""},
		{`[]`, `null`, ""},
		{`{"podPort":8080}`, "", "annotation nodeportlocal.antrea.io is not a JSON list of port mappings: json: cannot unmarshal object into Go value of type []model.NPLMapping"},
	}
	for _, tt := range tests {
		got, err := ParseNPL(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseNPL(%s): %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			got = nil
		}
		b, _ := json.Marshal(got)
		if string(b) != tt.want {
			t.Errorf("ParseNPL(%s) = %s, want %s", tt.in, b, tt.want)
		}
	}
}

// TestNPLServers: in NodePortLocal mode a pool's servers are the node IP
// and node port Antrea mapped each ready endpoint pod's target port to, for
// the port's protocol; pods without a mapping and not-ready ones add none.
func TestNPLServers(t *testing.T) {
	npl := settings(func(s *config.Settings) { s.L7Settings.ServiceType = "NodePortLocal" })
	ep := func(pod, addr string, ready bool) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: pod}}
	}
	sl := discoveryv1.EndpointSlice{
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr.To("http"), Port: ptr.To(int32(8080)), Protocol: ptr.To(corev1.ProtocolTCP)},
			{Name: ptr.To("dns"), Port: ptr.To(int32(53)), Protocol: ptr.To(corev1.ProtocolUDP)},
		},
		Endpoints: []discoveryv1.Endpoint{
			ep("web-a", "10.244.1.5", true), ep("web-b", "10.244.2.5", true), ep("web-c", "10.244.3.5", false),
			ep("web-d", "10.244.4.5", true), {Addresses: []string{"10.1.1.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
		},
	}
	m := Member{Slices: []discoveryv1.EndpointSlice{sl}, NPL: map[string][]NPLMapping{
		"web-a": {{PodPort: 8080, NodeIP: "10.0.0.11", NodePort: 61000, Protocol: "tcp"}, {PodPort: 53, NodeIP: "10.0.0.11", NodePort: 61001, Protocol: "udp"}},
		"web-b": {{PodPort: 8080, NodeIP: "10.0.0.12", NodePort: 61000, Protocols: []string{"tcp"}}, {PodPort: 9090, NodeIP: "10.0.0.12", NodePort: 61005, Protocol: "tcp"}},
		"web-c": {{PodPort: 8080, NodeIP: "10.0.0.13", NodePort: 61000, Protocol: "tcp"}},
		// web-d: no annotation (its Service not enabled yet).
	}}
	tests := []struct {
		name string
		port corev1.ServicePort
		want string
	}{
		{"tcp port", corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")},
			`[{"ip":{"addr":"10.0.0.11","type":"V4"},"port":61000},{"ip":{"addr":"10.0.0.12","type":"V4"},"port":61000}]`},
		{"udp port takes the udp mapping only", corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
			`[{"ip":{"addr":"10.0.0.11","type":"V4"},"port":61001}]`},
		{"a port no pod maps", corev1.ServicePort{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP}, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := servers(L4Input{Settings: npl}, m, tt.port)
			if g, w := mustJSON(t, got), normJSON(t, tt.want); g != w {
				t.Fatalf("servers:\n%s\nwant:\n%s", g, w)
			}
		})
	}
	// Without a protocol (Antrea before 1.7) a mapping is TCP.
	old := Member{Slices: []discoveryv1.EndpointSlice{sl}, NPL: map[string][]NPLMapping{"web-a": {{PodPort: 53, NodeIP: "10.0.0.11", NodePort: 61009}}}}
	if got := servers(L4Input{Settings: npl}, old, corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}); got != nil {
		t.Fatalf("a mapping without protocol served UDP: %s", mustJSON(t, got))
	}
}
