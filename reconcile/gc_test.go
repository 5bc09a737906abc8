package reconcile

import (
	"context"
	"slices"
	"testing"

	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/ownership"
)

// TestOrphanShardsGoToTheirReconcile: orphan collection hands an L7 shard's
// VsVip to the shard's reconcile instead of deleting it, since only that
// reconcile clears the Ingress status entries at the shard's addresses
// first (chaos seed 529759: collection deleted an emptied shard while the
// shard's removal waited for the controller; an Ingress that had left the
// shard kept its address in status for good). The shard's other objects,
// and other owners' orphans, are deleted as before.
func TestOrphanShardsGoToTheirReconcile(t *testing.T) {
	s := testSettings()
	s.ClusterID = "uid-c1"
	l7 := func(typ, name string) apply.Object {
		return apply.Object{Type: typ, Name: name, Tenant: s.ControllerSettings.TenantName, ClusterID: s.ClusterID, OwnedBy: ownership.OwnerL7}
	}
	av := newFakeApplier("10.50.0.10")
	av.owned = []apply.Object{
		l7("vsvip", "c1--Shared-L7-0"), l7("virtualservice", "c1--Shared-L7-0"), l7("pool", "c1--store.shop.example.com_-shop-store"),
		{Type: "vsvip", Name: "c1--gone-web", Tenant: s.ControllerSettings.TenantName, ClusterID: s.ClusterID, OwnedBy: ownership.ServiceOwner("gone", "web")},
	}
	var handed []string
	g := &OrphanCollector{
		Client: fake.NewClientBuilder().WithScheme(testScheme()).Build(), Cache: &informertest.FakeInformers{}, Applier: av, Settings: s,
		L7Names: func(context.Context) (map[string]bool, error) { return map[string]bool{}, nil },
		Shards:  func(name string) { handed = append(handed, name) },
	}
	deleted, err := g.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"c1--Shared-L7-0"}; !slices.Equal(handed, want) {
		t.Errorf("handed to the shard reconcile: %v, want %v", handed, want)
	}
	slices.Sort(deleted)
	if want := []string{"pool/c1--store.shop.example.com_-shop-store", "virtualservice/c1--Shared-L7-0", "vsvip/c1--gone-web"}; !slices.Equal(deleted, want) {
		t.Errorf("deleted %v, want %v", deleted, want)
	}
}

// TestRemoveShardBeforeTheQueue: a shard handed over before the Ingress
// controller started is queued when it starts.
func TestRemoveShardBeforeTheQueue(t *testing.T) {
	r := &IngressReconciler{}
	r.RemoveShard("c1--Shared-L7-3")
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[ctrl.Request]())
	defer q.ShutDown()
	r.handoff.attach(q)
	r.RemoveShard("c1--Shared-L7-4")
	var got []string
	for q.Len() > 0 {
		req, _ := q.Get()
		got = append(got, req.Name)
		q.Done(req)
	}
	if want := []string{"c1--Shared-L7-3", "c1--Shared-L7-4"}; !slices.Equal(got, want) {
		t.Errorf("queued %v, want %v", got, want)
	}
}
