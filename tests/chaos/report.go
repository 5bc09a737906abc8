package chaos

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// The invariants, in the numbering; invRace counts data races the
// vipgate processes reported (they run with -race when the test does).
const (
	invVIPStable = iota
	invOneOwner
	invExact
	invStatus
	invAdmission
	invTraffic
	invEndpoints
	invRace
	nInv
)

var invNames = [nInv]string{
	"(1) a live object's VIP changes only when its spec asks",
	"(2) no VIP has two owners (shared-VIP groups aside)",
	"(3) at quiescence the controller holds exactly the model, per cluster",
	"(4) status equals the controller",
	"(5) admission agrees with the rule book",
	"(6) traffic through unchanged VIPs never fails",
	"(7) endpoint changes reach pools within the bound after faults end",
	"(+) no data race in the vipgate processes",
}

// Windows in which admission may disagree with the rule book by design;
// they are counted, not failed.
const (
	winFailOpen    = "fail-open (inventory not loaded or stale, warned)"
	winStaleInUse  = "controller inventory behind (VIPs in use)"
	winCacheLag    = "cache lag (vipgate's informers behind the API server; the same request answered as the rule book a moment later)"
	winUnavailable = "webhook unreachable (every replica down; failurePolicy Fail)"
	winStateMoved  = "the state moved between the oracle's read and vipgate's answer (a fresh read of the rule book agrees with vipgate)"
)

// failure is one failed check, kept for the report.
type failure struct {
	Inv  int
	Step int
	Key  string
	Msg  string
	// Count is how many checks failed with this key.
	Count int
}

// stats counts checks per invariant, the excepted windows, and the failures.
type stats struct {
	mu       sync.Mutex
	pass     [nInv]int64
	fail     [nInv]int64
	windows  map[string]int
	failures []*failure
	byKey    map[string]*failure
}

func newStats() *stats {
	return &stats{windows: map[string]int{}, byKey: map[string]*failure{}}
}

// check counts one check of inv; a failure is kept once per key (later
// failures with the same key only count).
func (s *stats) check(inv int, ok bool, step int, key, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.pass[inv]++
		return
	}
	s.fail[inv]++
	k := fmt.Sprintf("%d|%s", inv, key)
	if f := s.byKey[k]; f != nil {
		f.Count++
		return
	}
	f := &failure{Inv: inv, Step: step, Key: key, Msg: msg, Count: 1}
	s.byKey[k] = f
	s.failures = append(s.failures, f)
}

func (s *stats) window(kind string) {
	s.mu.Lock()
	s.windows[kind]++
	s.mu.Unlock()
}

func (s *stats) totals() (passed, failed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range nInv {
		passed += s.pass[i]
		failed += s.fail[i]
	}
	return passed, failed
}

// firstFailure is the failure with the lowest step (the earliest kept when
// steps tie); nil when nothing failed.
func (s *stats) firstFailure() *failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first *failure
	for _, f := range s.failures {
		if first == nil || f.Step < first.Step {
			first = f
		}
	}
	return first
}

func (s *stats) failureCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.failures)
}

// print writes the per-invariant table, the windows and the failures (the
// run's report ends with the closing line "N passed, M failed").
func (s *stats) print(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(w, "\n%-72s %9s %7s\n", "invariant", "passed", "failed")
	var passed, failed int64
	for i := range nInv {
		mark := ""
		if s.fail[i] > 0 {
			mark = "  <--"
		}
		fmt.Fprintf(w, "%-72s %9d %7d%s\n", invNames[i], s.pass[i], s.fail[i], mark)
		passed += s.pass[i]
		failed += s.fail[i]
	}
	if len(s.windows) > 0 {
		fmt.Fprintf(w, "\nexcepted windows (admission answers not judged, by design):\n")
		keys := make([]string, 0, len(s.windows))
		for k := range s.windows {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %5d  %s\n", s.windows[k], k)
		}
	}
	if len(s.failures) > 0 {
		fmt.Fprintf(w, "\nfailures (first occurrence per object, in order):\n")
		for _, f := range s.failures {
			n := ""
			if f.Count > 1 {
				n = fmt.Sprintf(" (x%d)", f.Count)
			}
			fmt.Fprintf(w, "  step %d  %s%s\n      %s\n", f.Step, strings.SplitN(invNames[f.Inv], " ", 2)[0], n, indent(f.Msg, "      "))
		}
	}
	fmt.Fprintf(w, "%-72s %9d %7d\n", "total", passed, failed)
}

func indent(s, prefix string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}
