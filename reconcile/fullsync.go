package reconcile

import (
	"context"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// FullSync is AKO's fullSyncFrequency: every Period it reads the
// controller's objects of this cluster again (Reload, the applier's mirror)
// and then queues every reconcile key of the controllers that asked for it
// (Source), so an object someone deleted or changed on the controller behind
// vipgate's back is put back within a period. Applies and admission do not
// wait for the reads. The keys are queued at low priority: a change a user
// makes meanwhile is reconciled first, not after ten thousand Services that
// are in sync (and cost no write).
//
// It runs on the leader only, like the reconcilers whose queues it feeds.
type FullSync struct {
	// Period is the time between rounds; 0 or less runs none.
	Period time.Duration
	// Reload reads the controller again (apply.Applier.Reload).
	Reload func(context.Context) error
	Log    logr.Logger

	mu      sync.Mutex
	targets []fullSyncTarget
}

// fullSyncTarget is one controller's queue and how to list its keys.
type fullSyncTarget struct {
	q    workqueue.TypedRateLimitingInterface[ctrl.Request]
	keys handler.MapFunc
}

// fullSyncRetry is the wait after a round whose reads failed (the
// controller down, say) when it is shorter than Period.
const fullSyncRetry = time.Minute

// Source returns a source for a controller's builder (WatchesRawSource)
// that queues keys(ctx, nil) at every round (the controllers' "every key"
// mappings, which take no object); nil f gives a source that queues nothing.
func (f *FullSync) Source(keys handler.MapFunc) source.Source {
	return source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[ctrl.Request]) error {
		if f == nil {
			return nil
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.targets = append(f.targets, fullSyncTarget{q, keys})
		return nil
	})
}

// Start runs a round every Period until ctx ends.
func (f *FullSync) Start(ctx context.Context) error {
	if f.Period <= 0 {
		return nil
	}
	wait := f.Period
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = f.Period
		if err := f.Round(ctx); err != nil {
			f.Log.Info("full sync: reading the controller failed; trying again", "error", err.Error())
			wait = min(f.Period, fullSyncRetry)
		}
	}
}

// NeedLeaderElection: the queues it feeds are the leader's.
func (f *FullSync) NeedLeaderElection() bool { return true }

// Round reads the controller again and queues every key. When the reads
// fail nothing is queued: the keys would be diffed against the old view.
func (f *FullSync) Round(ctx context.Context) error {
	began := time.Now()
	if err := f.Reload(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	targets := f.targets
	f.mu.Unlock()
	queued := 0
	for _, t := range targets {
		keys := t.keys(ctx, nil)
		queueLow(t.q, keys)
		queued += len(keys)
	}
	f.Log.Info("full sync: controller read again, every object queued", "queued", queued, "took", time.Since(began).String())
	return nil
}

// queueLow adds keys at low priority where the queue has priorities.
func queueLow(q workqueue.TypedRateLimitingInterface[ctrl.Request], keys []ctrl.Request) {
	if pq, ok := q.(priorityqueue.PriorityQueue[ctrl.Request]); ok {
		pq.AddWithOpts(priorityqueue.AddOpts{Priority: ptr.To(handler.LowPriority)}, keys...)
		return
	}
	for _, k := range keys {
		q.Add(k)
	}
}
