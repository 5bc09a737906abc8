package nodes

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/reconcile"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestPodCIDRsByCNIPlugin: with each cniPlugin, the static routes are the
// pod CIDRs that CNI assigns (never spec.podCIDRs where the CNI keeps its
// own), and follow changes of the CNI's objects or annotation.
func TestPodCIDRsByCNIPlugin(t *testing.T) {
	tests := []struct {
		plugin string
		// setup creates the CNI's view of node n1 (whose spec.podCIDRs is
		// 10.244.1.0/24); change edits it (or adds a node).
		setup, change   func(t *testing.T)
		want, wantAfter []string
	}{
		{plugin: "calico",
			setup: func(t *testing.T) {
				createUnstructured(t, blockAffinity("n1-192-168-10-0-26", "n1", "192.168.10.0/26", "confirmed"))
				createUnstructured(t, blockAffinity("n1-192-168-10-64-26", "n1", "192.168.10.64/26", "pending"))
				createUnstructured(t, blockAffinity("n2-192-168-20-0-26", "n2", "192.168.20.0/26", "confirmed"))
			},
			change: func(t *testing.T) {
				patch(t, blockAffinity("n1-192-168-10-64-26", "", "", ""), `{"spec":{"state":"confirmed"}}`)
			},
			want:      []string{"demo-n1-1 192.168.10.0/26 via 10.0.0.11"},
			wantAfter: []string{"demo-n1-1 192.168.10.0/26 via 10.0.0.11", "demo-n1-2 192.168.10.64/26 via 10.0.0.11"}},
		{plugin: "cilium",
			setup: func(t *testing.T) {
				createUnstructured(t, ciliumNode("n1", "10.0.1.0/24"))
			},
			change: func(t *testing.T) {
				patch(t, ciliumNode("n1"), `{"spec":{"ipam":{"podCIDRs":["10.0.1.0/24","10.0.9.0/24"]}}}`)
			},
			want:      []string{"demo-n1-1 10.0.1.0/24 via 10.0.0.11"},
			wantAfter: []string{"demo-n1-1 10.0.1.0/24 via 10.0.0.11", "demo-n1-2 10.0.9.0/24 via 10.0.0.11"}},
		{plugin: "ovn-kubernetes",
			setup: func(t *testing.T) {
				patch(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}},
					fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, model.AnnotationOVNNodeSubnets, `{"default":"10.128.2.0/23"}`))
			},
			change: func(t *testing.T) {
				patch(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}},
					fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, model.AnnotationOVNNodeSubnets, `{"default":["10.128.4.0/23"]}`))
			},
			want:      []string{"demo-n1-1 10.128.2.0/23 via 10.0.0.11"},
			wantAfter: []string{"demo-n1-1 10.128.4.0/23 via 10.0.0.11"}},
		{plugin: "flannel",
			setup: func(*testing.T) {},
			change: func(t *testing.T) {
				// spec.podCIDRs cannot change once set: a new node brings its own.
				createNode(t, "n2", "10.0.0.12", "10.244.2.0/24")
			},
			want:      []string{"demo-n1-1 10.244.1.0/24 via 10.0.0.11"},
			wantAfter: []string{"demo-n1-1 10.244.1.0/24 via 10.0.0.11", "demo-n2-1 10.244.2.0/24 via 10.0.0.12"}},
	}
	for _, tt := range tests {
		t.Run(tt.plugin, func(t *testing.T) {
			t.Cleanup(func() { removeNodesAndCNI(t) })
			sim := harness.StartSim(t, avisim.DemoSeed())
			s := harness.DemoSettings(t, sim.Host())
			s.AKOSettings.CNIPlugin = tt.plugin
			createNode(t, "n1", "10.0.0.11", "10.244.1.0/24")
			tt.setup(t)
			env.StartVipgate(t, operator.Options{Settings: s, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour})
			waitRoutes(t, sim, tt.want)
			tt.change(t)
			waitRoutes(t, sim, tt.wantAfter)
		})
	}
}

func blockAffinity(name, node, cidr, state string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(reconcile.CalicoBlockAffinityGVK)
	u.SetName(name)
	if node != "" {
		u.Object["spec"] = map[string]any{"node": node, "cidr": cidr, "state": state, "deleted": "false"}
	}
	return u
}

func ciliumNode(name string, podCIDRs ...string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(reconcile.CiliumNodeGVK)
	u.SetName(name)
	if len(podCIDRs) > 0 {
		cidrs := make([]any, len(podCIDRs))
		for i, c := range podCIDRs {
			cidrs[i] = c
		}
		u.Object["spec"] = map[string]any{"ipam": map[string]any{"podCIDRs": cidrs}}
	}
	return u
}

func createUnstructured(t testing.TB, u *unstructured.Unstructured) {
	t.Helper()
	if err := env.Client.Create(context.Background(), u); err != nil {
		t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

func patch(t testing.TB, obj client.Object, mergePatch string) {
	t.Helper()
	if err := env.Client.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, []byte(mergePatch))); err != nil {
		t.Fatalf("patching %s: %v", obj.GetName(), err)
	}
}

// createNode creates a Node with an InternalIP and spec.podCIDRs.
func createNode(t testing.TB, name, ip string, podCIDRs ...string) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDRs: podCIDRs}}
	if len(podCIDRs) > 0 {
		n.Spec.PodCIDR = podCIDRs[0]
	}
	env.Create(t, n)
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}
	if err := env.Client.Status().Update(context.Background(), n); err != nil {
		t.Fatalf("setting node %s address: %v", name, err)
	}
}

// removeNodesAndCNI deletes the Nodes and CNI objects a test made.
func removeNodesAndCNI(t testing.TB) {
	env.DeleteNodes()
	ctx := context.Background()
	for _, gvk := range []struct{ g, v, k string }{{"crd.projectcalico.org", "v1", "BlockAffinityList"}, {"cilium.io", "v2", "CiliumNodeList"}} {
		list := &unstructured.UnstructuredList{}
		list.SetAPIVersion(gvk.g + "/" + gvk.v)
		list.SetKind(gvk.k)
		if err := env.Client.List(ctx, list); err != nil {
			t.Logf("cleanup: listing %s: %v", gvk.k, err)
			continue
		}
		for i := range list.Items {
			_ = env.Client.Delete(ctx, &list.Items[i])
		}
	}
}

// waitRoutes waits until the demo cluster's static routes in the global
// VrfContext are want ("<route_id> <prefix> via <next hop>", sorted).
func waitRoutes(t testing.TB, sim *avisim.Sim, want []string) {
	t.Helper()
	harness.Eventually(t, "static routes "+strings.Join(want, ", "), func() string {
		var got []string
		vrf := harness.SimObject(sim, harness.DemoTenant, "vrfcontext", "global")
		list, _ := vrf["static_routes"].([]any)
		for _, x := range list {
			if harness.Str(x, "labels", 0, "value") != "demo" {
				continue
			}
			got = append(got, fmt.Sprintf("%s %s/%v via %s", harness.Str(x, "route_id"), harness.Str(x, "prefix", "ip_addr", "addr"),
				harness.Path(x, "prefix", "mask"), harness.Str(x, "next_hop", "addr")))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return fmt.Sprintf("routes %v", got)
		}
		return ""
	})
}
