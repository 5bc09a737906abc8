package reconcile

import (
	"context"
	"errors"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/handler"
)

// TestFullSyncRound: a round queues every key of every controller that
// asked, at low priority (a user's change queued meanwhile goes first), and
// only after the controller was read again: keys queued after failed reads
// would be diffed against the old view and repair nothing.
func TestFullSyncRound(t *testing.T) {
	ctx := context.Background()
	readErr := errors.New("controller down")
	var fail bool
	f := &FullSync{Log: logr.Discard(), Reload: func(context.Context) error {
		if fail {
			return readErr
		}
		return nil
	}}
	q := priorityqueue.New[ctrl.Request]("test")
	defer q.ShutDown()
	key := func(name string) ctrl.Request {
		return ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: name}}
	}
	if err := f.Source(func(context.Context, client.Object) []ctrl.Request { return []ctrl.Request{key("a"), key("b")} }).Start(ctx, q); err != nil {
		t.Fatal(err)
	}

	fail = true
	if err := f.Round(ctx); !errors.Is(err, readErr) {
		t.Fatalf("round with failed reads: %v, want the read error", err)
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("a round whose reads failed queued %d keys, want none", n)
	}

	fail = false
	if err := f.Round(ctx); err != nil {
		t.Fatal(err)
	}
	q.Add(key("user")) // a change made during the round
	want := []struct {
		name     string
		priority int
	}{{"user", 0}, {"a", handler.LowPriority}, {"b", handler.LowPriority}}
	for _, w := range want {
		got, prio, _ := q.GetWithPriority()
		q.Done(got)
		if got.Name != w.name || prio != w.priority {
			t.Errorf("queue gave %s at priority %d, want %s at %d", got.Name, prio, w.name, w.priority)
		}
	}
}
