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
