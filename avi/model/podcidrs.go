package model

// Pod CIDRs by CNI plugin (AKOSettings.cniPlugin). Where a node's pod
// addresses live depends on the CNI: Calico hands out blocks recorded as
// BlockAffinity objects, Cilium's cluster-pool IPAM records them on the
// CiliumNode, OVN-Kubernetes in a node annotation; the others use the
// node's spec.podCIDRs. The mapping here is pure: the reconciler reads the
// CNI's objects (as unstructured, so no CNI's Go types are linked) and hands
// over the fields that matter.

import (
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// CNI plugins whose pod CIDRs are not the node's spec.podCIDRs.
const (
	CNICalico        = "calico"
	CNICilium        = "cilium"
	CNIOVNKubernetes = "ovn-kubernetes"
	// AnnotationOVNNodeSubnets is OVN-Kubernetes' node annotation with the
	// node's subnets by network: {"default":"10.128.0.0/23"} or, dual stack,
	// {"default":["10.128.0.0/23","fd01::/64"]}.
	AnnotationOVNNodeSubnets = "k8s.ovn.org/node-subnets"
	// CalicoStateConfirmed is a BlockAffinity whose block the node holds; a
	// pending one may still go to another node, pendingDeletion is leaving.
	CalicoStateConfirmed = "confirmed"
)

// CalicoBlock is one Calico BlockAffinity (crd.projectcalico.org/v1): a
// block of pod addresses affine to a node.
type CalicoBlock struct {
	Node, CIDR, State string
	// Deleted is spec.deleted ("true" while Calico removes the affinity).
	Deleted bool
}

// CNIObjects are the CNI's objects pod CIDRs come from, as the reconciler
// read them.
type CNIObjects struct {
	CalicoBlocks []CalicoBlock
	// CiliumPodCIDRs maps a CiliumNode's name (its node's) to spec.ipam.podCIDRs.
	CiliumPodCIDRs map[string][]string
}

// PodCIDRs returns node n's pod CIDRs under cniPlugin, as AKO finds them:
// calico, the CIDRs of the node's confirmed, not deleted BlockAffinities;
// cilium, its CiliumNode's spec.ipam.podCIDRs; ovn-kubernetes, the
// "default" network of the k8s.ovn.org/node-subnets annotation; any other
// plugin, spec.podCIDRs, else the ako.vmware.com/pod-cidrs annotation.
// problem says why a node has none, for the routes log ("" when it has some
// or, with the default plugins, simply none yet).
func PodCIDRs(plugin string, n *corev1.Node, objs CNIObjects) (cidrs []string, problem string) {
	switch plugin {
	case CNICalico:
		for _, b := range objs.CalicoBlocks {
			if b.Node == n.Name && b.State == CalicoStateConfirmed && !b.Deleted && b.CIDR != "" {
				cidrs = appendNew(cidrs, b.CIDR)
			}
		}
		if len(cidrs) == 0 {
			problem = "no confirmed Calico BlockAffinity (blockaffinities.crd.projectcalico.org) names this node"
		}
		return cidrs, problem
	case CNICilium:
		pod, ok := objs.CiliumPodCIDRs[n.Name]
		for _, c := range pod {
			cidrs = appendNew(cidrs, c)
		}
		switch {
		case !ok:
			problem = "no CiliumNode (ciliumnodes.cilium.io) of this name"
		case len(cidrs) == 0:
			problem = "its CiliumNode has no spec.ipam.podCIDRs"
		}
		return cidrs, problem
	case CNIOVNKubernetes:
		raw, ok := n.Annotations[AnnotationOVNNodeSubnets]
		if !ok {
			return nil, "no " + AnnotationOVNNodeSubnets + " annotation"
		}
		var subnets map[string]json.RawMessage
		if err := json.Unmarshal([]byte(raw), &subnets); err != nil {
			return nil, fmt.Sprintf("annotation %s is not a JSON object: %v", AnnotationOVNNodeSubnets, err)
		}
		def, ok := subnets["default"]
		if !ok {
			return nil, fmt.Sprintf("annotation %s has no \"default\" network", AnnotationOVNNodeSubnets)
		}
		var one string
		var list []string
		switch {
		case json.Unmarshal(def, &one) == nil:
			list = []string{one}
		case json.Unmarshal(def, &list) == nil:
		default:
			return nil, fmt.Sprintf("annotation %s: \"default\" is neither a CIDR nor a list of CIDRs", AnnotationOVNNodeSubnets)
		}
		for _, c := range list {
			if c = strings.TrimSpace(c); c != "" {
				cidrs = appendNew(cidrs, c)
			}
		}
		if len(cidrs) == 0 {
			problem = fmt.Sprintf("annotation %s lists no subnet for the \"default\" network", AnnotationOVNNodeSubnets)
		}
		return cidrs, problem
	}
	cidrs = n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	if len(cidrs) == 0 {
		for _, c := range strings.Split(n.Annotations[AnnotationPodCIDRs], ",") {
			if c = strings.TrimSpace(c); c != "" {
				cidrs = append(cidrs, c)
			}
		}
	}
	return cidrs, ""
}

func appendNew(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}
