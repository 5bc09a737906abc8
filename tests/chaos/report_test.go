package chaos

import "testing"

// TestFirstFailure: the report's last line names the failure with the
// lowest step, the first kept of those tied, so a log cut to its tail still
// says what failed.
func TestFirstFailure(t *testing.T) {
	s := newStats()
	if f := s.firstFailure(); f != nil {
		t.Fatalf("no failure yet: got step %d", f.Step)
	}
	s.check(invTraffic, true, 5, "a", "")
	s.check(invStatus, false, 30, "late", "status differs")
	s.check(invAdmission, false, 12, "early", "vipgate admitted it")
	s.check(invOneOwner, false, 12, "tied", "two owners")
	s.check(invAdmission, false, 3, "early", "the same key again only counts")
	f := s.firstFailure()
	if f == nil || f.Step != 12 || f.Key != "early" || f.Msg != "vipgate admitted it" {
		t.Fatalf("first failure = %+v, want step 12 key early", f)
	}
}
