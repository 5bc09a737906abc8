package apply

import (
	"net/url"
	"strings"

	"github.com/vipgate/vipgate/avi/model"
)

// parseRef recognises a controller reference in any of its spellings:
// "/api/pool/?name=web", "https://host/api/pool/pool-1234#web",
// "/api/pool/pool-1234". name is "" when only the UUID is known.
func parseRef(s string) (typ, uuid, name string, ok bool) {
	i := strings.Index(s, "/api/")
	if i < 0 || (i > 0 && !strings.HasPrefix(s, "http")) {
		return "", "", "", false
	}
	rest := s[i+len("/api/"):]
	typ, rest, ok = strings.Cut(rest, "/")
	if !ok || typ == "" {
		return "", "", "", false
	}
	if q, found := strings.CutPrefix(rest, "?"); found {
		v, err := url.ParseQuery(q)
		if err != nil || v.Get("name") == "" {
			return "", "", "", false
		}
		return typ, "", v.Get("name"), true
	}
	uuid, name, _ = strings.Cut(rest, "#")
	if strings.ContainsAny(uuid, "/?") || uuid == "" {
		return "", "", "", false
	}
	return typ, uuid, name, true
}

// sameRef compares a desired reference with a current one by type, then by
// UUID when both carry one (a setting may name a network by UUID), else by
// name.
func sameRef(d, c string) (equal, isRef bool) {
	dt, du, dn, ok1 := parseRef(d)
	ct, cu, cn, ok2 := parseRef(c)
	if !ok1 || !ok2 {
		return false, false
	}
	if dt != ct {
		return false, true
	}
	if du != "" && cu != "" {
		return du == cu, true
	}
	return dn != "" && dn == cn, true
}

// covers reports whether current holds every value desired sets. Fields the
// desired object leaves out (uuid, url, _last_modified, tenant_ref, and the
// defaults the controller fills in) are ignored; lists must have the same
// length and match element by element, or failing that as a multiset, since
// the controller may return them in another order.
func covers(desired, cur any) bool {
	switch d := desired.(type) {
	case map[string]any:
		c, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		for k, dv := range d {
			if !covers(dv, c[k]) {
				return false
			}
		}
		return true
	case []any:
		c, ok := cur.([]any)
		if !ok || len(c) != len(d) {
			return len(d) == 0 && isEmpty(cur)
		}
		inOrder := true
		for i := range d {
			if !covers(d[i], c[i]) {
				inOrder = false
				break
			}
		}
		if inOrder {
			return true
		}
		used := make([]bool, len(c))
	next:
		for _, dv := range d {
			for j, cv := range c {
				if !used[j] && covers(dv, cv) {
					used[j] = true
					continue next
				}
			}
			return false
		}
		return true
	case string:
		c, ok := cur.(string)
		if !ok {
			return false
		}
		if d == c {
			return true
		}
		eq, isRef := sameRef(d, c)
		return isRef && eq
	case nil:
		return true
	default: // float64, bool
		return desired == cur
	}
}

// managed lists, per type, the top-level fields vipgate sets on some objects
// and not on others: when the desired object leaves one out but the current
// one still has it (e.g. dns_info after autoFQDN was disabled), the object
// must be rewritten.
var managed = map[string][]string{
	model.TypeVsVip: {"dns_info", "bgp_peer_labels"},
	model.TypePool: {"servers",
		// Set by rule CRDs; the controller has no value of its own for them.
		"lb_algorithm_consistent_hash_hdr", "application_persistence_profile_ref", "ssl_profile_ref", "pki_profile_ref",
		"ssl_key_and_certificate_ref", "min_servers_up", "enable_http2"},
	model.TypeVirtualService: {"services", "service_pool_select", "enable_rhi", "bgp_peer_labels", "pool_ref", "pool_group_ref", "l4_policies",
		"http_policies", "ssl_key_and_certificate_refs", "ssl_profile_ref", "vh_domain_name", "vh_parent_vs_ref",
		// Set by rule CRDs, as above.
		"waf_policy_ref", "error_page_profile_ref", "vs_datascripts", "icap_request_profile_refs", "network_security_policy_ref",
		"security_policy_ref", "performance_limits"},
}

// writeOnly lists, per type, fields the controller never returns as sent
// (a private key comes back encrypted, or not at all). They are left out of
// the comparison: a new key always comes with a new certificate, and the
// certificate is compared.
var writeOnly = map[string][]string{
	model.TypeSSLKeyAndCertificate: {"key", "key_passphrase"},
}

// comparable returns the part of a desired body that the controller echoes back.
func comparable(typ string, body map[string]any) map[string]any {
	fs := writeOnly[typ]
	if len(fs) == 0 {
		return body
	}
	out := make(map[string]any, len(body))
	for k, v := range body {
		out[k] = v
	}
	for _, f := range fs {
		delete(out, f)
	}
	return out
}

// managedInRules lists, per type, policy fields whose rules carry actions
// vipgate sets on some rules and not on others (a Gateway route losing its
// header modifier or URL rewrite): a rule that lost one must be rewritten,
// which covers alone does not see (it ignores what the desired body leaves out).
var managedInRules = map[string]map[string][]string{
	model.TypeHTTPPolicySet: {
		"http_request_policy":  {"hdr_action", "rewrite_url_action", "redirect_action", "switching_action"},
		"http_response_policy": {"hdr_action"},
	},
}

func removedManaged(typ string, desired, cur map[string]any) bool {
	for _, f := range managed[typ] {
		if _, set := desired[f]; !set && !isEmpty(cur[f]) {
			return true
		}
	}
	for policy, actions := range managedInRules[typ] {
		dp, _ := desired[policy].(map[string]any)
		cp, _ := cur[policy].(map[string]any)
		if dp == nil {
			if !isEmpty(cp["rules"]) {
				return true // the whole policy went away
			}
			continue
		}
		dr, _ := dp["rules"].([]any)
		cr, _ := cp["rules"].([]any)
		if len(dr) != len(cr) {
			continue // covers sees that
		}
		for i := range dr {
			d, _ := dr[i].(map[string]any)
			c, _ := cr[i].(map[string]any)
			for _, a := range actions {
				if _, set := d[a]; !set && !isEmpty(c[a]) {
					return true
				}
			}
		}
	}
	return false
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case float64:
		return x == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// preserveVips keeps a VsVip's addresses across an update. The controller
// re-allocates a vip sent without its ip_address (and the desired body never
// has one unless the user asked for an address), so each desired vip is
// matched with a current one on the same network (by UUID or name), the
// same subnet when the desired names one, and the same address when the
// desired asks for one. When every desired vip has its match, the current
// vips are sent back exactly as they are: nothing the user asked for
// changed, so no VIP may move (say the inventory chose differently, or a
// vip_id scheme changed). Otherwise the desired vips are sent, each matched
// one carrying its current id, address and subnet, and only the unmatched
// ones are allocated anew.
func preserveVips(body, cur map[string]any) {
	dv, _ := body["vip"].([]any)
	cv, _ := cur["vip"].([]any)
	used := make([]bool, len(cv))
	match := make([]int, len(dv))
	all := len(dv) == len(cv)
	for i, d := range dv {
		match[i] = -1
		dm, _ := d.(map[string]any)
		for j, c := range cv {
			if cm, _ := c.(map[string]any); !used[j] && cm != nil && dm != nil && sameVip(dm, cm) {
				used[j], match[i] = true, j
				break
			}
		}
		if match[i] < 0 {
			all = false
		}
	}
	if all {
		body["vip"] = clone(map[string]any{"v": cv})["v"]
		return
	}
	for i, d := range dv {
		dm, _ := d.(map[string]any)
		if match[i] < 0 || dm == nil {
			continue
		}
		cm := cv[match[i]].(map[string]any)
		for _, f := range []string{"vip_id", "ip_address", "ip6_address", "availability_zone"} {
			if cm[f] != nil {
				dm[f] = cm[f]
			}
		}
		dn, _ := dm["ipam_network_subnet"].(map[string]any)
		cn, _ := cm["ipam_network_subnet"].(map[string]any)
		if dn != nil && cn != nil && dn["subnet"] == nil && cn["subnet"] != nil {
			dn["subnet"] = cn["subnet"]
		}
	}
}

// sameVip reports whether current vip c satisfies desired vip d: same
// network, and the subnet and address d asks for, if any.
func sameVip(d, c map[string]any) bool {
	dn, _ := d["ipam_network_subnet"].(map[string]any)
	cn, _ := c["ipam_network_subnet"].(map[string]any)
	if dref, _ := dn["network_ref"].(string); dref != "" {
		cref, _ := cn["network_ref"].(string)
		if eq, _ := sameRef(dref, cref); !eq {
			return false
		}
	}
	for _, f := range []string{"subnet", "subnet6"} {
		if dn[f] != nil && !covers(dn[f], cn[f]) {
			return false
		}
	}
	for _, f := range []string{"ip_address", "ip6_address"} {
		if d[f] != nil && !covers(d[f], c[f]) {
			return false
		}
	}
	return true
}
