package reconcile

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vipgate/vipgate/avi/session"
)

// Condition type and reasons vipgate writes on Services, and the reasons of
// its Events on Services and Ingresses.
const (
	ConditionSynced = "AviSynced"

	ReasonSynced          = "Synced"
	ReasonInvalid         = "Invalid"
	ReasonControllerError = "ControllerError"
	ReasonControllerDown  = "ControllerUnavailable"
)

// failure is what a controller error means for the objects it concerns.
type failure struct {
	// Reason and Message go into the Event and, where the object has one,
	// the condition: ControllerUnavailable for errors that may pass by
	// themselves, ControllerError for requests the controller refused.
	Reason, Message string
	// Result and Err are what Reconcile returns.
	Result ctrl.Result
	Err    error
}

// controllerFailed is the one place where a controller error becomes what
// users see and when the work is tried again, for every reconciler. It logs
// one line, records a Warning Event on each object, and decides the retry: a
// retryable error (5xx, timeout, conflict) goes back to the work queue, whose
// per-item backoff grows exponentially; a refused request (400, e.g. "No
// available free IPs") waits on b, growing exponentially with jitter up to
// its cap, since retrying at once cannot help.
func controllerFailed(ctx context.Context, rec record.EventRecorder, b *Backoff, key string, err error, objs ...runtime.Object) failure {
	f := failure{Reason: ReasonControllerError, Message: session.Message(err)}
	if session.IsRetryable(err) {
		f.Reason = ReasonControllerDown
	}
	logr.FromContextOrDiscard(ctx).Info("controller refused or failed", "reason", f.Reason, "error", f.Message)
	for _, o := range objs {
		rec.Event(o, corev1.EventTypeWarning, f.Reason, f.Message)
	}
	if session.IsBadRequest(err) {
		f.Result = ctrl.Result{RequeueAfter: b.Next(key)}
		return f
	}
	f.Err = err
	return f
}

// Backoff spaces out the retries of one key: Base, then twice as long each
// time up to Cap, each wait jittered by ±20% so that many objects refused
// together do not retry in lockstep. Attempts are counted in memory only:
// forgetting them (a restart) only starts the spacing over.
type Backoff struct {
	Base, Cap time.Duration

	mu       sync.Mutex
	attempts map[string]int
}

// maxTracked bounds the keys a Backoff remembers; past it, it starts over.
const maxTracked = 10000

// Next returns the wait before the next attempt of key and counts the attempt.
func (b *Backoff) Next(key string) time.Duration {
	base, cap := b.Base, b.Cap
	if base <= 0 {
		base = time.Minute
	}
	if cap < base {
		cap = max(base, 30*time.Minute)
	}
	b.mu.Lock()
	if b.attempts == nil || len(b.attempts) >= maxTracked {
		b.attempts = map[string]int{}
	}
	n := b.attempts[key]
	b.attempts[key] = n + 1
	b.mu.Unlock()
	wait := base
	for i := 0; i < n && wait < cap; i++ {
		wait *= 2
	}
	wait = min(wait, cap)
	return time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
}

// Reset forgets key's attempts (it succeeded, or is gone).
func (b *Backoff) Reset(key string) {
	b.mu.Lock()
	delete(b.attempts, key)
	b.mu.Unlock()
}

// retryCap bounds the work queue's wait before retrying a key whose
// reconcile failed with a retryable controller error (5xx, timeout, 409).
const retryCap = 15 * time.Second

// retryLimiter is the work queues' rate limiter: controller-runtime's default
// (per key 5 ms doubling, overall 10 per second with bursts of 100) with the
// per-key wait capped at retryCap instead of 1000 s, so that once a
// controller outage ends every key is tried again within retryCap, however
// many times it failed during the outage (endpoint changes used to wait many
// minutes after a long one). The overall bucket keeps retries of many keys
// from hammering a struggling controller.
func retryLimiter() workqueue.TypedRateLimiter[ctrl.Request] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[ctrl.Request](5*time.Millisecond, retryCap),
		&workqueue.TypedBucketRateLimiter[ctrl.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}
