package reconcile

import (
	"context"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/inventory"
)

// TestLeaveOldTenants: after a namespace's tenant moves, the Service's
// objects are deleted from the old tenant by the first reconcile that wrote
// to the new one, also when a reconcile that began before the move (and so
// wrote to the old tenant) finishes first.
func TestLeaveOldTenants(t *testing.T) {
	tests := []struct {
		name  string
		moves []string // tenants the namespace named before, in order
		// applied are the tenants successive reconciles wrote to.
		applied []string
		// want are the tenants deleted from, after all reconciles.
		want []string
	}{
		{"moved green to blue", []string{"green"}, []string{"blue"}, []string{"green"}},
		{"a reconcile in flight wrote to green first", []string{"green"}, []string{"green", "blue"}, []string{"green"}},
		{"moved green to blue and back", []string{"green", "blue"}, []string{"green"}, []string{"blue"}},
		{"moved twice, one reconcile", []string{"green", "blue"}, []string{"admin"}, []string{"green", "blue"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeApplier("10.50.0.10")
			r := &ServiceReconciler{Applier: f}
			req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "team-a", Name: "web"}}
			for _, m := range tt.moves {
				r.rememberTenantMove(req.String(), m)
			}
			for _, tenant := range tt.applied {
				if err := r.leaveOldTenants(context.Background(), req, apply.Owner{Name: "c1--team-a-web", Tenant: tenant}, nil); err != nil {
					t.Fatal(err)
				}
			}
			if got := deletedTenants(f); !slices.Equal(got, tt.want) {
				t.Errorf("deleted from tenants %v, want %v", got, tt.want)
			}
		})
	}
}

// TestLeaveOldTenantsFromInventory: with nothing remembered (a restart, a
// move while vipgate was down), the tenants to leave are those where the
// inventory shows the owner's VsVip with this cluster's identity; a VsVip of
// the same name with another owner or cluster identity is never touched.
func TestLeaveOldTenantsFromInventory(t *testing.T) {
	owner := apply.Owner{Name: "c1--team-a-web", CreatedBy: "vipgate-c1", ClusterID: "id-1", OwnedBy: "service/team-a/web", Tenant: "blue"}
	mine := inventory.Holder{VsVip: owner.Name, CreatedBy: owner.CreatedBy, ClusterID: owner.ClusterID, Owner: owner.OwnedBy}
	at := func(h inventory.Holder, tenant string) inventory.Holder { h.Tenant = tenant; return h }
	other := mine
	other.ClusterID = "id-2"
	stranger := mine
	stranger.Owner = "service/team/a-web"
	tests := []struct {
		name    string
		holders []inventory.Holder
		want    []string
	}{
		{"moved green to blue", []inventory.Holder{at(mine, "green"), at(mine, "blue")}, []string{"green"}},
		{"only in its tenant", []inventory.Holder{at(mine, "blue")}, nil},
		{"another cluster's in green", []inventory.Holder{at(other, "green")}, nil},
		{"another owner's in green", []inventory.Holder{at(stranger, "green")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeApplier("10.50.0.10")
			r := &ServiceReconciler{Applier: f}
			snap := &inventory.Snapshot{VsVips: map[string][]inventory.Holder{owner.Name: tt.holders}}
			req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "team-a", Name: "web"}}
			if err := r.leaveOldTenants(context.Background(), req, owner, snap); err != nil {
				t.Fatal(err)
			}
			if got := deletedTenants(f); !slices.Equal(got, tt.want) {
				t.Errorf("deleted from tenants %v, want %v", got, tt.want)
			}
		})
	}
}

// deletedTenants lists the tenants f deleted owners from, in order.
func deletedTenants(f *fakeApplier) []string {
	var out []string
	for _, o := range f.deleted {
		out = append(out, o.Tenant)
	}
	return out
}
