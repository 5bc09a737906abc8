package avisim

import (
	"net/http"
	"testing"
)

// TestHTTPPolicySetActions: header and URL rewrite actions the controller
// cannot carry out are refused with the field at fault; well-formed ones
// are stored. On ESSENTIALS, HTTP_ADD_HDR is refused (its tier allows
// replace and remove only).
func TestHTTPPolicySetActions(t *testing.T) {
	sim := startSim(t, DemoSeed())
	sess := newClient(t, sim).AviSession
	hdr := func(action, name, val string) map[string]any {
		h := map[string]any{"name": name}
		if val != "" {
			h["value"] = map[string]any{"val": val}
		}
		return map[string]any{"action": action, "hdr": h}
	}
	tok := func(typ, str string) map[string]any {
		t := map[string]any{"type": typ}
		if str != "" {
			t["str_value"] = str
		}
		return t
	}
	param := func(tokens ...any) map[string]any {
		return map[string]any{"type": "URI_PARAM_TYPE_TOKENIZED", "tokens": tokens}
	}
	reqRule := func(extra map[string]any) map[string]any {
		r := map[string]any{"name": "r", "index": 1, "enable": true}
		for k, v := range extra {
			r[k] = v
		}
		return map[string]any{"name": "ps", "http_request_policy": map[string]any{"rules": []any{r}}}
	}
	redirect := map[string]any{"protocol": "HTTPS"}
	for _, tc := range []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"redirect stacked with a header action", reqRule(map[string]any{"redirect_action": redirect, "hdr_action": []any{hdr("HTTP_REMOVE_HDR", "X", "")}}),
			"http_request_policy.rules[0] (r): redirect_action cannot be combined with other actions"},
		{"redirect stacked with a rewrite", reqRule(map[string]any{"redirect_action": redirect, "rewrite_url_action": map[string]any{"host_hdr": param(tok("URI_TOKEN_TYPE_STRING", "a"))}}),
			"http_request_policy.rules[0] (r): redirect_action cannot be combined with other actions"},
		{"unknown header action", reqRule(map[string]any{"hdr_action": []any{hdr("HTTP_SET_HDR", "X", "1")}}),
			"Invalid value 'HTTP_SET_HDR' for field 'http_request_policy.rules.hdr_action.action': expected one of HTTP_ADD_HDR, HTTP_REMOVE_HDR, HTTP_REPLACE_HDR"},
		{"header without a name", reqRule(map[string]any{"hdr_action": []any{hdr("HTTP_REMOVE_HDR", "", "")}}),
			"http_request_policy.rules[0] (r): hdr_action[0]: hdr.name is required"},
		{"replace without a value", reqRule(map[string]any{"hdr_action": []any{hdr("HTTP_REPLACE_HDR", "X", "")}}),
			"http_request_policy.rules[0] (r): hdr_action[0]: HTTP_REPLACE_HDR needs hdr.value"},
		{"response add without a value", map[string]any{"name": "ps", "http_response_policy": map[string]any{"rules": []any{
			map[string]any{"name": "r", "index": 1, "enable": true, "hdr_action": []any{hdr("HTTP_ADD_HDR", "X", "")}}}}},
			"http_response_policy.rules[0] (r): hdr_action[0]: HTTP_ADD_HDR needs hdr.value"},
		{"rewrite of nothing", reqRule(map[string]any{"rewrite_url_action": map[string]any{}}),
			"http_request_policy.rules[0] (r): rewrite_url_action needs host_hdr, path or query"},
		{"path without tokens", reqRule(map[string]any{"rewrite_url_action": map[string]any{"path": param()}}),
			"http_request_policy.rules[0] (r): rewrite_url_action.path.tokens: Minimum of 1 items required"},
		{"empty constant", reqRule(map[string]any{"rewrite_url_action": map[string]any{"path": param(tok("URI_TOKEN_TYPE_STRING", ""))}}),
			"http_request_policy.rules[0] (r): rewrite_url_action.path.tokens[0]: URI_TOKEN_TYPE_STRING needs str_value"},
		{"backwards range", reqRule(map[string]any{"rewrite_url_action": map[string]any{"path": param(map[string]any{"type": "URI_TOKEN_TYPE_PATH", "start_index": 3, "end_index": 1})}}),
			"http_request_policy.rules[0] (r): rewrite_url_action.path.tokens[0]: end_index 1 is before start_index 3"},
		{"unknown token type", reqRule(map[string]any{"rewrite_url_action": map[string]any{"host_hdr": param(tok("URI_TOKEN_TYPE_PORT", "x"))}}),
			"Invalid value 'URI_TOKEN_TYPE_PORT' for field 'http_request_policy.rules.rewrite_url_action.host_hdr.tokens.type'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out any
			wantAviErr(t, sess.Post("api/httppolicyset", tc.body, &out), http.StatusBadRequest, tc.msg)
		})
	}
	if n := len(sim.Objects("admin", "httppolicyset")); n != 0 {
		t.Fatalf("%d policy sets stored after refused requests", n)
	}
	good := reqRule(map[string]any{
		"switching_action":   map[string]any{"action": "HTTP_SWITCHING_SELECT_LOCAL", "status_code": "HTTP_LOCAL_RESPONSE_STATUS_CODE_200"},
		"hdr_action":         []any{hdr("HTTP_ADD_HDR", "X-A", "1"), hdr("HTTP_REPLACE_HDR", "X-B", "2"), hdr("HTTP_REMOVE_HDR", "X-C", "")},
		"rewrite_url_action": map[string]any{"host_hdr": param(tok("URI_TOKEN_TYPE_STRING", "in")), "path": param(tok("URI_TOKEN_TYPE_STRING", "v2/"), map[string]any{"type": "URI_TOKEN_TYPE_PATH", "start_index": 1, "end_index": 65535}), "query": map[string]any{"keep_query": true}},
	})
	var out any
	must(t, sess.Post("api/httppolicyset", good, &out))

	ess := startSim(t, tierSeed(tierEssentials))
	essSess := newClient(t, ess).AviSession
	wantAviErr(t, essSess.Post("api/httppolicyset", reqRule(map[string]any{"hdr_action": []any{hdr("HTTP_ADD_HDR", "X-A", "1")}}), &out), http.StatusBadRequest,
		"HTTPPolicySet ps: value 'HTTP_ADD_HDR' of field 'http_request_policy.rules.hdr_action.action' is not allowed in the ESSENTIALS license tier (allowed: HTTP_REMOVE_HDR, HTTP_REPLACE_HDR)")
	must(t, essSess.Post("api/httppolicyset", reqRule(map[string]any{"hdr_action": []any{hdr("HTTP_REPLACE_HDR", "X-A", "1")}}), &out))
}
