package manifests_test

import (
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// TestRBACForCNIObjects: vipgate reads Calico's block affinities or Cilium's
// CiliumNodes (get, list, watch only) exactly when it writes static routes
// from them: cniPlugin calico or cilium, ClusterIP mode, route sync on.
func TestRBACForCNIObjects(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]string
		want   []string // "<group>/<resource>: verbs" of CNI objects granted
	}{
		{"no cniPlugin", nil, nil},
		{"flannel", map[string]string{"AKOSettings.cniPlugin": "flannel"}, nil},
		{"ovn-kubernetes reads the node annotation", map[string]string{"AKOSettings.cniPlugin": "ovn-kubernetes"}, nil},
		{"calico", map[string]string{"AKOSettings.cniPlugin": "calico"}, []string{"crd.projectcalico.org/blockaffinities: [get list watch]"}},
		{"cilium", map[string]string{"AKOSettings.cniPlugin": "cilium"}, []string{"cilium.io/ciliumnodes: [get list watch]"}},
		{"calico without route sync", map[string]string{"AKOSettings.cniPlugin": "calico", "AKOSettings.disableStaticRouteSync": "true"}, nil},
		{"cilium in NodePort mode", map[string]string{"AKOSettings.cniPlugin": "cilium", "L7Settings.serviceType": "NodePort"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr := get[rbacv1.ClusterRole](t, render(t, tt.values), "ClusterRole", "vipgate")
			var got []string
			for _, rule := range cr.Rules {
				for _, g := range rule.APIGroups {
					if g != "crd.projectcalico.org" && g != "cilium.io" {
						continue
					}
					for _, res := range rule.Resources {
						got = append(got, g+"/"+res+": ["+strings.Join(rule.Verbs, " ")+"]")
					}
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("CNI object access %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRBACForNodePortLocal: pods are read (get, list, watch: their
// nodeportlocal.antrea.io annotation) only in NodePortLocal mode.
func TestRBACForNodePortLocal(t *testing.T) {
	for _, tt := range []struct {
		serviceType string
		want        []string
	}{{"ClusterIP", nil}, {"NodePort", nil}, {"NodePortLocal", []string{"[get list watch]"}}} {
		cr := get[rbacv1.ClusterRole](t, render(t, map[string]string{"L7Settings.serviceType": tt.serviceType, "AKOSettings.cniPlugin": "antrea"}), "ClusterRole", "vipgate")
		var got []string
		for _, rule := range cr.Rules {
			if slices.Contains(rule.APIGroups, "") && slices.Contains(rule.Resources, "pods") {
				got = append(got, "["+strings.Join(rule.Verbs, " ")+"]")
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("serviceType %s: pods %v, want %v", tt.serviceType, got, tt.want)
		}
	}
}
