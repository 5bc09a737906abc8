package reconcile

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
)

// TestRetryLimiterCapped: a key that failed many times during a controller
// outage is tried again within retryCap once it ends (controller-runtime's
// default waits up to 1000 s), and the first retries stay quick.
func TestRetryLimiterCapped(t *testing.T) {
	l := retryLimiter()
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "team-a", Name: "web"}}
	tests := []struct {
		failures int
		max      time.Duration
	}{
		{1, 10 * time.Millisecond},
		{5, 100 * time.Millisecond},
		{30, retryCap},
		{60, retryCap},
	}
	done := 0
	for _, tt := range tests {
		var d time.Duration
		for ; done < tt.failures; done++ {
			d = l.When(req)
		}
		if d > tt.max {
			t.Errorf("after %d failures the wait is %s, want at most %s", tt.failures, d, tt.max)
		}
	}
	if d := l.When(req); d != retryCap {
		t.Errorf("a long-failing key waits %s, want the cap %s", d, retryCap)
	}
}
