package avisim

import (
	"fmt"
	"net/http"

	"github.com/vmware/alb-sdk/go/models"
)

// checkHTTPPolicySet refuses request and response rules whose actions the
// controller cannot carry out: a redirect stacked with other actions (the
// controller's documentation: "the redirect action may not be stacked with
// other actions"), a header action without a header name or, to add or
// replace, without a value, a URL rewrite that rewrites nothing, and a
// tokenized URI part without tokens ("Minimum of 1 items required"), with
// a constant token without its string, or with a segment range that ends
// before it starts. Where the swagger leaves it open, the stricter reading
// is taken: a client that passes here passes there.
func checkHTTPPolicySet(ps *models.HTTPPolicySet) *apiError {
	if rp := ps.HTTPRequestPolicy; rp != nil {
		for i, r := range rp.Rules {
			if r == nil {
				continue
			}
			at := fmt.Sprintf("http_request_policy.rules[%d] (%s)", i, str(r.Name))
			if r.RedirectAction != nil && (r.SwitchingAction != nil || len(r.HdrAction) > 0 || r.RewriteURLAction != nil) {
				return errf(http.StatusBadRequest, "%s: redirect_action cannot be combined with other actions", at)
			}
			if aerr := checkHdrActions(at, r.HdrAction); aerr != nil {
				return aerr
			}
			if rw := r.RewriteURLAction; rw != nil {
				if rw.HostHdr == nil && rw.Path == nil && rw.Query == nil {
					return errf(http.StatusBadRequest, "%s: rewrite_url_action needs host_hdr, path or query", at)
				}
				if aerr := checkURIParam(at+": rewrite_url_action.host_hdr", rw.HostHdr); aerr != nil {
					return aerr
				}
				if aerr := checkURIParam(at+": rewrite_url_action.path", rw.Path); aerr != nil {
					return aerr
				}
			}
		}
	}
	if rp := ps.HTTPResponsePolicy; rp != nil {
		for i, r := range rp.Rules {
			if r == nil {
				continue
			}
			if aerr := checkHdrActions(fmt.Sprintf("http_response_policy.rules[%d] (%s)", i, str(r.Name)), r.HdrAction); aerr != nil {
				return aerr
			}
		}
	}
	return nil
}

func checkHdrActions(at string, acts []*models.HTTPHdrAction) *apiError {
	for j, a := range acts {
		if a == nil {
			continue
		}
		where := fmt.Sprintf("%s: hdr_action[%d]", at, j)
		if a.Cookie != nil {
			continue // cookie actions name the cookie instead
		}
		if a.Hdr == nil || str(a.Hdr.Name) == "" {
			return errf(http.StatusBadRequest, "%s: hdr.name is required", where)
		}
		if str(a.Action) != "HTTP_REMOVE_HDR" && (a.Hdr.Value == nil || (a.Hdr.Value.Val == nil && a.Hdr.Value.Var == nil)) {
			return errf(http.StatusBadRequest, "%s: %s needs hdr.value", where, str(a.Action))
		}
	}
	return nil
}

func checkURIParam(at string, p *models.URIParam) *apiError {
	if p == nil {
		return nil
	}
	if len(p.Tokens) == 0 {
		return errf(http.StatusBadRequest, "%s.tokens: Minimum of 1 items required", at)
	}
	for k, t := range p.Tokens {
		if t == nil {
			continue
		}
		switch str(t.Type) {
		case "URI_TOKEN_TYPE_STRING":
			if str(t.StrValue) == "" {
				return errf(http.StatusBadRequest, "%s.tokens[%d]: URI_TOKEN_TYPE_STRING needs str_value", at, k)
			}
		case "URI_TOKEN_TYPE_HOST", "URI_TOKEN_TYPE_PATH":
			if t.StartIndex != nil && t.EndIndex != nil && *t.EndIndex < *t.StartIndex {
				return errf(http.StatusBadRequest, "%s.tokens[%d]: end_index %d is before start_index %d", at, k, *t.EndIndex, *t.StartIndex)
			}
		}
	}
	return nil
}
