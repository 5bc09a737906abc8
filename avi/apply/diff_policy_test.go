package apply

import (
	"encoding/json"
	"testing"

	"github.com/vipgate/vipgate/avi/model"
)

// A policy set whose rule lost a header action or URL rewrite, or that lost
// its response policy, must be rewritten, although the desired body covers
// the current one (covers ignores what the desired body leaves out).
func TestRemovedPolicyActions(t *testing.T) {
	doc := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	const route = `{"name":"r","match":{"path":{"match_str":["/"]}},"switching_action":{"action":"HTTP_SWITCHING_SELECT_POOLGROUP"}`
	for _, tc := range []struct {
		name, desired, cur string
		rewrite            bool
	}{
		{"unchanged", `{"http_request_policy":{"rules":[` + route + `,"hdr_action":[{"action":"HTTP_REMOVE_HDR"}]}]}}`,
			`{"http_request_policy":{"rules":[` + route + `,"hdr_action":[{"action":"HTTP_REMOVE_HDR"}],"index":1}]}}`, false},
		{"header action removed", `{"http_request_policy":{"rules":[` + route + `}]}}`,
			`{"http_request_policy":{"rules":[` + route + `,"hdr_action":[{"action":"HTTP_REMOVE_HDR"}]}]}}`, true},
		{"rewrite removed", `{"http_request_policy":{"rules":[` + route + `}]}}`,
			`{"http_request_policy":{"rules":[` + route + `,"rewrite_url_action":{"host_hdr":{}}}]}}`, true},
		{"response policy removed", `{"http_request_policy":{"rules":[` + route + `}]}}`,
			`{"http_request_policy":{"rules":[` + route + `}]},"http_response_policy":{"rules":[{"name":"r","hdr_action":[{"action":"HTTP_REMOVE_HDR"}]}]}}`, true},
		{"response action removed", `{"http_response_policy":{"rules":[{"name":"r"}]}}`,
			`{"http_response_policy":{"rules":[{"name":"r","hdr_action":[{"action":"HTTP_REMOVE_HDR"}]}]}}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, c := doc(tc.desired), doc(tc.cur)
			if !covers(d, c) {
				t.Fatalf("covers is false: the test would not reach removedManaged")
			}
			if got := removedManaged(model.TypeHTTPPolicySet, d, c); got != tc.rewrite {
				t.Errorf("removedManaged = %v, want %v", got, tc.rewrite)
			}
		})
	}
}
