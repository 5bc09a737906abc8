package model

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodCIDRs(t *testing.T) {
	node := func(name string, ann map[string]string, podCIDRs ...string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann}, Spec: corev1.NodeSpec{PodCIDRs: podCIDRs}}
	}
	ovn := func(v string) map[string]string { return map[string]string{AnnotationOVNNodeSubnets: v} }
	calico := CNIObjects{CalicoBlocks: []CalicoBlock{
		{Node: "n1", CIDR: "192.168.10.0/26", State: "confirmed"},
		{Node: "n1", CIDR: "192.168.10.64/26", State: "confirmed"},
		{Node: "n1", CIDR: "192.168.10.128/26", State: "pending"},
		{Node: "n1", CIDR: "192.168.10.192/26", State: "pendingDeletion"},
		{Node: "n1", CIDR: "192.168.11.0/26", State: "confirmed", Deleted: true},
		{Node: "n2", CIDR: "192.168.20.0/26", State: "confirmed"},
		{Node: "n1", CIDR: "192.168.10.0/26", State: "confirmed"},
	}}
	cilium := CNIObjects{CiliumPodCIDRs: map[string][]string{"n1": {"10.0.1.0/24", "fd00:1::/64"}, "n3": nil}}
	tests := []struct {
		name, plugin string
		node         *corev1.Node
		objs         CNIObjects
		want         string
	}{
		{"default: spec.podCIDRs", "", node("n1", nil, "10.244.1.0/24", "fd00::/64"), CNIObjects{}, `[10.244.1.0/24 fd00::/64] ""`},
		{"default: annotation without spec", "flannel", node("n1", map[string]string{AnnotationPodCIDRs: "10.1.0.0/24, 10.2.0.0/24"}), CNIObjects{}, `[10.1.0.0/24 10.2.0.0/24] ""`},
		{"default: nothing yet", "antrea", node("n1", nil), CNIObjects{}, `[] ""`},
		{"calico: confirmed blocks of the node, once each", "calico", node("n1", nil, "10.244.1.0/24"), calico, `[192.168.10.0/26 192.168.10.64/26] ""`},
		{"calico: spec.podCIDRs is not Calico's", "calico", node("n9", nil, "10.244.1.0/24"), calico,
			`[] "no confirmed Calico BlockAffinity (blockaffinities.crd.projectcalico.org) names this node"`},
		{"cilium: the CiliumNode's podCIDRs", "cilium", node("n1", nil, "10.244.1.0/24"), cilium, `[10.0.1.0/24 fd00:1::/64] ""`},
		{"cilium: no CiliumNode", "cilium", node("n2", nil, "10.244.1.0/24"), cilium, `[] "no CiliumNode (ciliumnodes.cilium.io) of this name"`},
		{"cilium: CiliumNode without podCIDRs", "cilium", node("n3", nil), cilium, `[] "its CiliumNode has no spec.ipam.podCIDRs"`},
		{"ovn: default as a string", "ovn-kubernetes", node("n1", ovn(`{"default":"10.128.2.0/23"}`), "10.244.1.0/24"), CNIObjects{}, `[10.128.2.0/23] ""`},
		{"ovn: default as a list (dual stack)", "ovn-kubernetes", node("n1", ovn(`{"default":["10.128.2.0/23","fd01:0:0:2::/64"]}`)), CNIObjects{}, `[10.128.2.0/23 fd01:0:0:2::/64] ""`},
		{"ovn: no annotation", "ovn-kubernetes", node("n1", nil, "10.244.1.0/24"), CNIObjects{}, `[] "no k8s.ovn.org/node-subnets annotation"`},
		{"ovn: not JSON", "ovn-kubernetes", node("n1", ovn(`10.128.2.0/23`)), CNIObjects{},
			`[] "annotation k8s.ovn.org/node-subnets is not a JSON object: invalid character '.' after top-level value"`},
		{"ovn: no default network", "ovn-kubernetes", node("n1", ovn(`{"blue":"10.0.0.0/24"}`)), CNIObjects{},
			`[] "annotation k8s.ovn.org/node-subnets has no \"default\" network"`},
		{"ovn: default of another shape", "ovn-kubernetes", node("n1", ovn(`{"default":{"v4":"10.0.0.0/24"}}`)), CNIObjects{},
			`[] "annotation k8s.ovn.org/node-subnets: \"default\" is neither a CIDR nor a list of CIDRs"`},
		{"ovn: empty list", "ovn-kubernetes", node("n1", ovn(`{"default":[]}`)), CNIObjects{},
			`[] "annotation k8s.ovn.org/node-subnets lists no subnet for the \"default\" network"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cidrs, problem := PodCIDRs(tt.plugin, tt.node, tt.objs)
			if got := fmt.Sprintf("%v %q", cidrs, problem); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// NodeRoutesCNI routes the CNI's CIDRs and says why a node has none.
func TestNodeRoutesCNI(t *testing.T) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{PodCIDRs: []string{"10.244.1.0/24"}},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.11"}}}}
	routes, skipped := NodeRoutesCNI(CNICilium, n, CNIObjects{CiliumPodCIDRs: map[string][]string{"n1": {"10.0.1.0/24", "fd00:1::/64"}}})
	if got := fmt.Sprintf("%v %q", routes, skipped); got != `[{n1 10.0.1.0/24 10.0.0.11}] ["pod CIDR fd00:1::/64 has no InternalIP of its family"]` {
		t.Fatalf("got %s", got)
	}
	routes, skipped = NodeRoutesCNI(CNICalico, n, CNIObjects{})
	if got := fmt.Sprintf("%v %q", routes, skipped); got != `[] ["no confirmed Calico BlockAffinity (blockaffinities.crd.projectcalico.org) names this node"]` {
		t.Fatalf("got %s", got)
	}
}
