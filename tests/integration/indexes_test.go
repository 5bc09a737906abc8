package integration

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/cluster"
)

// TestClusterWideIndexes checks cluster.ClusterWideIndexer against the real
// cache: an index queried only across namespaces holds one key per value
// (controller-runtime's own indexer writes a second, per namespace), and a
// List with client.MatchingFields still finds exactly the objects holding
// the value, in any namespace. A wrong key format would find nothing.
func TestClusterWideIndexes(t *testing.T) {
	ctx := context.Background()
	_, op := startReal(t, avisim.DemoSeed(), nil)
	var svcs []*corev1.Service
	for range 2 {
		svc := lbService(newNamespace(t, nil), "web", "")
		create(t, svc)
		svcs = append(svcs, svc)
	}
	vips := make([]string, len(svcs))
	for i, svc := range svcs {
		waitCached(t, op, svc, func(o client.Object) bool {
			if ing := o.(*corev1.Service).Status.LoadBalancer.Ingress; len(ing) > 0 {
				vips[i] = ing[0].IP
				return true
			}
			return false
		})
	}
	for i, vip := range vips {
		var list corev1.ServiceList
		if err := op.Manager.GetCache().List(ctx, &list, client.MatchingFields{cluster.IndexServiceVIP: vip}); err != nil {
			t.Fatalf("List by %s %s: %v", cluster.IndexServiceVIP, vip, err)
		}
		if len(list.Items) != 1 || list.Items[0].Namespace != svcs[i].Namespace || list.Items[0].Name != svcs[i].Name {
			t.Errorf("Services with VIP %s: %d found (%v), want only %s/%s", vip, len(list.Items), list.Items, svcs[i].Namespace, svcs[i].Name)
		}
	}
	inf, err := op.Manager.GetCache().GetInformer(ctx, &corev1.Service{})
	if err != nil {
		t.Fatal(err)
	}
	keys := inf.(toolscache.SharedIndexInformer).GetIndexer().ListIndexFuncValues("field:" + cluster.IndexServiceVIP)
	if len(keys) < len(vips) {
		t.Errorf("index %s has keys %v, want at least one per VIP %v", cluster.IndexServiceVIP, keys, vips)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "__all_namespaces/") {
			t.Errorf("index %s has key %q: a per-namespace key nobody queries", cluster.IndexServiceVIP, k)
		}
	}
}
