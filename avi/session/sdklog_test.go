package session

import "testing"

func TestHostWarningPattern(t *testing.T) {
	if !hostWarning.MatchString("E1121 05:59:52.812458   13048 avisession.go:1653] Controller Host is not valid.") {
		t.Error("alb-sdk's host warning is not matched")
	}
	if hostWarning.MatchString("E1121 05:59:52.812458   13048 avisession.go:1653] response error: 500") {
		t.Error("a real error would be dropped")
	}
}

func TestGlogInfoLinePattern(t *testing.T) {
	for line, want := range map[string]bool{
		"I1121 05:59:15.711564   12088 avisession.go:865] Req for GET uri https://x/api/vsvip": true,
		"E1121 05:59:15.711564   12088 avisession.go:865] response error":                      false,
		`{"level":"info","msg":"synced"}`:                                                      false,
		"Info: something":                                                                      false,
	} {
		if got := glogInfoLine.MatchString(line); got != want {
			t.Errorf("%q: match=%v, want %v", line, got, want)
		}
	}
}
