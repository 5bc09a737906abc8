package reconcile

import (
	"testing"
	"time"

	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/vipgate/vipgate/avi/model"
)

func TestArrivalsWait(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	const settle = time.Second
	tests := []struct {
		name   string
		events []int // ms after t0, on shard "s"
		now    int
		want   time.Duration
	}{
		{"no event: sync now", nil, 0, 0},
		{"a lone change waits a fifth of settle", []int{0}, 50, 150 * time.Millisecond},
		{"a lone change once that has passed", []int{0}, 200, 0},
		{"a burst waits settle after its last event", []int{0, 100, 400}, 500, 900 * time.Millisecond},
		{"a burst that has been quiet for settle", []int{0, 100, 400}, 1400, 0},
		{"a steady stream waits at most settleCap×settle after its first event", []int{0, 29_500}, 29_800, 200 * time.Millisecond},
		{"a steady stream past the cap", []int{0, 29_900}, 30_000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a arrivals
			for _, ms := range tt.events {
				a.note("s", at(ms))
			}
			a.note("other", at(tt.now))
			if got := a.wait("s", at(tt.now), settle); got != tt.want {
				t.Errorf("wait = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestArrivalsSettlingGauge: vipgate_l7_shards_settling counts the shards
// whose sync waits (a work queue's depth does not count delayed items, so
// idle detection reads this): one per shard however many events, until its
// sync starts.
func TestArrivalsSettlingGauge(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	base := settlingGauge(t)
	var a arrivals
	steps := []struct {
		name string
		do   func()
		want float64
	}{
		{"a first event on s", func() { a.note("s", t0) }, 1},
		{"a second event on s", func() { a.note("s", t0.Add(100*time.Millisecond)) }, 1},
		{"an event on another shard", func() { a.note("o", t0.Add(100*time.Millisecond)) }, 2},
		{"s still waiting", func() { a.wait("s", t0.Add(500*time.Millisecond), time.Second) }, 2},
		{"s's sync starts", func() { a.wait("s", t0.Add(1100*time.Millisecond), time.Second) }, 1},
		{"a sync of s with nothing noted", func() { a.wait("s", t0.Add(1200*time.Millisecond), time.Second) }, 1},
		{"o's sync starts", func() { a.wait("o", t0.Add(1200*time.Millisecond), time.Second) }, 0},
	}
	for _, st := range steps {
		st.do()
		if got := settlingGauge(t) - base; got != st.want {
			t.Fatalf("after %s: gauge %v, want %v", st.name, got, st.want)
		}
	}
}

// settlingGauge reads vipgate_l7_shards_settling from the registry.
func settlingGauge(t *testing.T) float64 {
	t.Helper()
	fams, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "vipgate_l7_shards_settling" {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no vipgate_l7_shards_settling in the registry")
	return 0
}

// TestArrivalsAfterSyncStarts: a sync that starts takes the events noted so
// far; those noted during it are the next sync's.
func TestArrivalsAfterSyncStarts(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var a arrivals
	a.note("s", t0)
	a.note("s", t0.Add(100*time.Millisecond))
	if got := a.wait("s", t0.Add(1100*time.Millisecond), time.Second); got != 0 {
		t.Fatalf("wait after the burst = %s, want 0", got)
	}
	if got := a.wait("s", t0.Add(1100*time.Millisecond), time.Second); got != 0 {
		t.Errorf("wait again with nothing new = %s, want 0", got)
	}
	a.note("s", t0.Add(1200*time.Millisecond))
	if got, want := a.wait("s", t0.Add(1250*time.Millisecond), time.Second), 150*time.Millisecond; got != want {
		t.Errorf("wait after a change during the sync = %s, want %s (a lone change)", got, want)
	}
}

func TestIngressSettle(t *testing.T) {
	for _, tt := range []struct{ set, want time.Duration }{{0, DefaultIngressSettle}, {-1, 0}, {3 * time.Second, 3 * time.Second}} {
		if got := (&IngressReconciler{Settle: tt.set}).settle(); got != tt.want {
			t.Errorf("Settle %s: settle() = %s, want %s", tt.set, got, tt.want)
		}
	}
}

// TestShardSyncWaitsForArrivals: a shard whose Ingresses are still arriving
// is requeued without an apply; once they have stopped for Settle it syncs,
// once.
func TestShardSyncWaitsForArrivals(t *testing.T) {
	f := newIngressFixture(t, ingressFor("team-a", "web", "a.example.com"))
	shard := model.ShardName(f.s, nil, "a.example.com")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.r.Now = func() time.Time { return now }
	f.r.arrivals.note(shard, now)
	f.r.arrivals.note(shard, now.Add(300*time.Millisecond))
	now = now.Add(500 * time.Millisecond)
	res, err := f.sync(t, shard)
	if err != nil || res.RequeueAfter != 800*time.Millisecond {
		t.Fatalf("sync during arrivals = %+v, %v; want a requeue after 800ms", res, err)
	}
	if len(f.avi.applied) != 0 {
		t.Fatalf("applied %d sets while Ingresses were arriving, want 0", len(f.avi.applied))
	}
	now = now.Add(800 * time.Millisecond)
	if res, err := f.sync(t, shard); err != nil || res.RequeueAfter != 0 {
		t.Fatalf("sync after arrivals stopped = %+v, %v; want done", res, err)
	}
	if len(f.avi.applied) != 1 {
		t.Errorf("applied %d sets after arrivals stopped, want 1", len(f.avi.applied))
	}
}
