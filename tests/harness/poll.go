package harness

import (
	"testing"
	"time"
)

// WaitLimit is how long Eventually waits for vipgate to converge. Convergence
// normally takes well under a second; the limit only bounds a broken run on a
// loaded machine, it is not a latency assertion.
const WaitLimit = 60 * time.Second

// Eventually polls check every 50 ms until it returns "" and fails the test
// with check's last answer (what is still missing) after WaitLimit. Tests
// poll because vipgate converges asynchronously; check says what is missing
// so a failure names the difference instead of just "timed out".
func Eventually(t testing.TB, what string, check func() string) {
	t.Helper()
	if msg, ok := poll(WaitLimit, 50*time.Millisecond, check); !ok {
		t.Fatalf("%s: still not the case after %s: %s", what, WaitLimit, msg)
	}
}

// WaitFor polls cond every 100 ms until it holds and fails the test after
// limit. It is for waits whose bound the test chooses because something
// other than vipgate's convergence sets the pace (leader election follows
// lease durations).
func WaitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	check := func() string {
		if cond() {
			return ""
		}
		return "not yet"
	}
	if _, ok := poll(limit, 100*time.Millisecond, check); !ok {
		t.Fatalf("timed out after %s waiting for %s", limit, what)
	}
}

// poll calls check every interval until it returns "" (ok) or limit has
// passed (check's last answer, not ok). check always runs at least once, and
// once more after the deadline, so a slow last call still counts.
func poll(limit, interval time.Duration, check func() string) (last string, ok bool) {
	deadline := time.Now().Add(limit)
	for {
		msg := check()
		if msg == "" {
			return "", true
		}
		if time.Now().After(deadline) {
			return msg, false
		}
		time.Sleep(interval)
	}
}
