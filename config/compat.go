package config

import (
	"fmt"
	"reflect"
)

// unsupported are AKO keys vipgate accepts (so an AKO values file loads) but
// does not act on, with what to do instead where there is something.
var unsupported = []struct {
	key  string
	get  func(*Settings) any
	hint string
}{
	{"AKOSettings.logLevel", func(s *Settings) any { return s.AKOSettings.LogLevel }, "use the --zap-log-level flag"},
	{"AKOSettings.primaryInstance", func(s *Settings) any { return s.AKOSettings.PrimaryInstance }, "leader election picks the replica that writes"},
	// calico, cilium and ovn-kubernetes choose where pod CIDRs are read
	// (reconcile/routes_cni.go); canal, flannel and antrea use spec.podCIDRs,
	// which is what vipgate reads without a plugin. Only these two differ.
	{"AKOSettings.cniPlugin", func(s *Settings) any {
		if p := s.AKOSettings.CNIPlugin; p == "openshift" || p == "ncp" {
			return p
		}
		return ""
	}, "pod CIDRs come from Node spec.podCIDRs or the ako.vmware.com/pod-cidrs annotation (OpenShift SDN HostSubnets and NCP are not read)"},
	{"AKOSettings.enableEVH", func(s *Settings) any { return s.AKOSettings.EnableEVH }, "SNI children are used"},
	{"AKOSettings.servicesAPI", func(s *Settings) any { return s.AKOSettings.ServicesAPI }, ""},
	{"AKOSettings.vipPerNamespace", func(s *Settings) any { return s.AKOSettings.VIPPerNamespace }, ""},
	{"AKOSettings.istioEnabled", func(s *Settings) any { return s.AKOSettings.IstioEnabled }, ""},
	{"AKOSettings.useDefaultSecretsOnly", func(s *Settings) any { return s.AKOSettings.UseDefaultSecretsOnly }, ""},
	{"NetworkSettings.nodeNetworkList", func(s *Settings) any { return s.NetworkSettings.NodeNetworkList }, ""},
	{"NetworkSettings.nsxtT1LR", func(s *Settings) any { return s.NetworkSettings.NSXTT1LR }, ""},
	{"L7Settings.noPGForSNI", func(s *Settings) any { return s.L7Settings.NoPGForSNI }, ""},
	{"L7Settings.passthroughShardSize", func(s *Settings) any { return s.L7Settings.PassthroughShardSize }, ""},
}

// Unsupported lists the AKO keys set to something other than AKO's default
// that vipgate does not act on, so start-up can say so instead of silently
// ignoring an operator's intent.
func (s *Settings) Unsupported() []string {
	def := Defaults()
	var out []string
	for _, u := range unsupported {
		v, d := u.get(s), u.get(&def)
		if reflect.ValueOf(v).IsZero() || reflect.DeepEqual(v, d) {
			continue
		}
		msg := fmt.Sprintf("%s: %v is accepted for AKO compatibility but has no effect in vipgate", u.key, v)
		if u.hint != "" {
			msg += "; " + u.hint
		}
		out = append(out, msg)
	}
	return out
}
