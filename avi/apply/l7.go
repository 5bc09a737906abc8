package apply

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/vipgate/vipgate/avi"
	"github.com/vipgate/vipgate/avi/model"
)

// readL7 reads an L7 shard's objects, keyed "type/name": its VsVip and
// parent virtual service by name, the SNI children that refer to the parent,
// then our objects of the other L7 types (one paged list per type), keeping
// those the shard's virtual services reach through references and those
// desired by name.
//
// Reachability is what finds stale objects: a removed path's pool group and
// pool are still referenced from the current policy set, so they are read,
// not desired, and deleted after the policy set is updated. Keeping desired
// names as well means an object left by an interrupted apply, or one whose
// route moved here from another shard, is updated in place rather than
// created twice. L7 pool names always contain '_' and L4 pool names never do,
// so the pool list skips every L4 pool.
func (a *Applier) readL7(ctx context.Context, owner Owner, want []desiredObj) (map[string]*current, error) {
	out := map[string]*current{}
	wanted := map[string]bool{}
	for _, d := range want {
		wanted[d.typ+"/"+d.name] = true
	}
	reach := map[string]bool{}
	list := func(typ string, q url.Values, pageSize int, keep func(*current) bool) error {
		q.Set("include_name", "true")
		return a.c.List(ctx, typ, q, owner.Tenant, pageSize, func(raw json.RawMessage) error {
			c, err := a.decodeCurrent(typ, raw)
			if err != nil {
				return err
			}
			if keep(c) {
				out[typ+"/"+c.name] = c
				collectRefs(c.raw, reach)
			}
			return nil
		})
	}
	all := func(*current) bool { return true }
	if err := list(model.TypeVsVip, url.Values{"name": {owner.Name}}, 0, all); err != nil {
		return nil, err
	}
	if err := list(model.TypeVirtualService, url.Values{"name": {owner.Name}}, 0, all); err != nil {
		return nil, err
	}
	if parent := out[model.TypeVirtualService+"/"+owner.Name]; parent != nil {
		q := url.Values{"refers_to": {model.TypeVirtualService + ":" + parent.uuid}, "created_by": {owner.CreatedBy}}
		if err := list(model.TypeVirtualService, q, avi.PageSize, func(c *current) bool { return c.child }); err != nil {
			return nil, err
		}
	}
	mine := func(c *current) bool {
		k := c.typ + "/" + c.name
		return reach[k] || wanted[k]
	}
	// Order matters: policy sets are reached from virtual services, pool
	// groups from policy sets, pools from pool groups.
	for _, typ := range []string{model.TypeHTTPPolicySet, model.TypePoolGroup, model.TypePool, model.TypeSSLKeyAndCertificate} {
		q := url.Values{"created_by": {owner.CreatedBy}}
		if typ == model.TypePool {
			q.Set("name.contains", "_")
		}
		if err := list(typ, q, avi.PageSize, mine); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// collectRefs adds "type/name" of every named reference in v to into.
func collectRefs(v any, into map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k == "url" {
				continue
			}
			collectRefs(e, into)
		}
	case []any:
		for _, e := range x {
			collectRefs(e, into)
		}
	case string:
		if typ, _, name, ok := parseRef(x); ok && name != "" {
			into[typ+"/"+name] = true
		}
	}
}
