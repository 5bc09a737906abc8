package config

import (
	"strings"
	"testing"
)

// TestCNIPluginCompat: the plugins whose pod CIDRs vipgate reads (Calico,
// Cilium, OVN-Kubernetes) or that use spec.podCIDRs are not reported; the
// two whose own objects vipgate does not read are.
func TestCNIPluginCompat(t *testing.T) {
	tests := []struct{ plugin, want string }{
		{"calico", ""}, {"cilium", ""}, {"ovn-kubernetes", ""}, {"antrea", ""}, {"flannel", ""}, {"canal", ""},
		{"openshift", "AKOSettings.cniPlugin: openshift is accepted for AKO compatibility but has no effect in vipgate; pod CIDRs come from Node spec.podCIDRs or the ako.vmware.com/pod-cidrs annotation (OpenShift SDN HostSubnets and NCP are not read)"},
		{"ncp", "AKOSettings.cniPlugin: ncp is accepted for AKO compatibility but has no effect in vipgate; pod CIDRs come from Node spec.podCIDRs or the ako.vmware.com/pod-cidrs annotation (OpenShift SDN HostSubnets and NCP are not read)"},
	}
	for _, tt := range tests {
		s, err := Parse([]byte(validYAML))
		if err != nil {
			t.Fatal(err)
		}
		s.AKOSettings.CNIPlugin = tt.plugin
		if got := strings.Join(s.Unsupported(), "\n"); got != tt.want {
			t.Errorf("cniPlugin %s: Unsupported() = %q, want %q", tt.plugin, got, tt.want)
		}
	}
}

// TestNodePortLocalNeedsAntrea: NodePortLocal mode refuses to start unless
// the CNI is Antrea, which maps pod ports to node ports (as AKO does).
func TestNodePortLocalNeedsAntrea(t *testing.T) {
	for _, tt := range []struct{ plugin, want string }{
		{"antrea", ""},
		{"", "invalid settings (1 problems):\n  " + `L7Settings.serviceType: NodePortLocal needs AKOSettings.cniPlugin antrea (it is ""): Antrea maps pod ports to node ports; set cniPlugin: antrea, or use ClusterIP or NodePort`},
		{"calico", "invalid settings (1 problems):\n  " + `L7Settings.serviceType: NodePortLocal needs AKOSettings.cniPlugin antrea (it is "calico"): Antrea maps pod ports to node ports; set cniPlugin: antrea, or use ClusterIP or NodePort`},
	} {
		s, err := Parse([]byte(validYAML))
		if err != nil {
			t.Fatal(err)
		}
		s.L7Settings.ServiceType, s.AKOSettings.CNIPlugin = "NodePortLocal", tt.plugin
		got := ""
		if err := Validate(s); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("cniPlugin %q: %q, want %q", tt.plugin, got, tt.want)
		}
	}
}
