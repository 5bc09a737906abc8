package operator

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/reconcile"
)

// countingApplier counts the calls that reach it.
type countingApplier struct {
	reconcile.Applier
	writes, reads int
}

func (c *countingApplier) Apply(context.Context, *model.Set) (*apply.Result, error) {
	c.writes++
	return &apply.Result{}, nil
}

func (c *countingApplier) DeleteObjects(context.Context, []apply.Object) (*apply.Result, error) {
	c.writes++
	return &apply.Result{}, nil
}

func (c *countingApplier) ListOwned(context.Context, string, string, ...string) ([]apply.Object, error) {
	c.reads++
	return nil, nil
}

// TestIdentityGate: no write reaches the controller while the identity
// cannot be checked (reads do); a clash with another cluster of the same
// name is refused and stops the process; once checked, writes pass.
func TestIdentityGate(t *testing.T) {
	s := &config.Settings{ClusterID: "uid-1"}
	s.AKOSettings.ClusterName = "demo"
	other := &inventory.Snapshot{VsVips: map[string][]inventory.Holder{
		"demo--Shared-L7-0": {{VsVip: "demo--Shared-L7-0", CreatedBy: "vipgate-demo", Tenant: "admin", ClusterID: "uid-2"}},
	}}
	mine := &inventory.Snapshot{VsVips: map[string][]inventory.Holder{
		"demo--Shared-L7-0": {{VsVip: "demo--Shared-L7-0", CreatedBy: "vipgate-demo", Tenant: "admin", ClusterID: "uid-1"}},
	}}
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		snap       *inventory.Snapshot
		refreshErr error
		wantErr    string
		wantFatal  bool
	}{
		{"controller unreadable", nil, errors.New("HTTP 500"), "nothing is written before this cluster's identity is checked against the controller, and the controller could not be read: HTTP 500", false},
		{"another cluster with this name", other, nil, `refusing to start: the controller holds objects of another cluster that also uses AKOSettings.clusterName "demo"`, true},
		{"this cluster's objects only", mine, nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := &countingApplier{}
			g := &identityGate{Applier: inner, settings: s, fatal: make(chan error, 1),
				snapshot: func() *inventory.Snapshot { return tc.snap },
				refresh:  func(context.Context) error { return tc.refreshErr }}
			if _, err := g.ListOwned(ctx, "vipgate-demo", "admin"); err != nil || inner.reads != 1 {
				t.Fatalf("a read did not pass the gate: %v", err)
			}
			_, err1 := g.Apply(ctx, &model.Set{})
			_, err2 := g.DeleteObjects(ctx, nil)
			for _, err := range []error{err1, err2} {
				switch {
				case tc.wantErr == "" && err != nil:
					t.Errorf("write refused: %v", err)
				case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
					t.Errorf("write error %v, want %q", err, tc.wantErr)
				}
			}
			if want := map[bool]int{true: 2, false: 0}[tc.wantErr == ""]; inner.writes != want {
				t.Errorf("%d writes reached the controller, want %d", inner.writes, want)
			}
			select {
			case err := <-g.fatal:
				if !tc.wantFatal {
					t.Errorf("process stopped: %v", err)
				}
			default:
				if tc.wantFatal {
					t.Errorf("a clash did not stop the process")
				}
			}
		})
	}
}
