package apply

import (
	"slices"
	"strings"

	"github.com/vipgate/vipgate/avi/model"
)

// readL7 returns an L7 shard's objects from the mirror, keyed "type/name":
// its VsVip and parent virtual service by name, the SNI children that refer
// to the parent, then this cluster's objects of the other L7 types that the
// shard's virtual services reach through references, and those desired by name.
//
// Reachability is what finds stale objects: a removed path's pool group and
// pool are still referenced from the current policy set, so they are read,
// not desired, and deleted after the policy set is updated. Keeping desired
// names as well means an object left by an interrupted apply, or one whose
// route moved here from another shard, is updated in place rather than
// created twice. Only the shard's own objects are decoded.
func (a *Applier) readL7(owner Owner, tenant string, want []desiredObj) (map[string]*current, error) {
	out := map[string]*current{}
	reach := map[string]bool{}
	add := func(typ, name string) error {
		if out[typ+"/"+name] != nil {
			return nil
		}
		c, err := a.m.get(tenant, typ, name)
		if c != nil {
			out[typ+"/"+name] = c
			collectRefs(c.raw, reach)
		}
		return err
	}
	for _, typ := range []string{model.TypeVsVip, model.TypeVirtualService} {
		if err := add(typ, owner.Name); err != nil {
			return nil, err
		}
	}
	// Other virtual services on the owner's VsVip are the owner's too (a
	// Gateway's L4 virtual service shares its VIP): found by the VsVip's
	// UUID, so a removed one is deleted and Delete takes it before the VsVip.
	if vip := out[model.TypeVsVip+"/"+owner.Name]; vip != nil {
		var onVIP []string
		a.m.scan(tenant, model.TypeVirtualService, func(k mkey, e *entry) {
			if !e.child && k.name != owner.Name && vip.uuid != "" && e.vsvip() == vip.uuid {
				onVIP = append(onVIP, k.name)
			}
		})
		slices.Sort(onVIP)
		for _, name := range onVIP {
			if err := add(model.TypeVirtualService, name); err != nil {
				return nil, err
			}
		}
	}
	if parent := out[model.TypeVirtualService+"/"+owner.Name]; parent != nil {
		var children []string
		a.m.scan(tenant, model.TypeVirtualService, func(k mkey, e *entry) {
			if e.child && parent.uuid != "" && e.parent() == parent.uuid {
				children = append(children, k.name)
			}
		})
		for _, name := range children {
			if err := add(model.TypeVirtualService, name); err != nil {
				return nil, err
			}
		}
	}
	for _, d := range want {
		reach[d.typ+"/"+d.name] = true
	}
	// Order matters: policy sets (and an adopted AKO parent's datascript)
	// are reached from virtual services, pool groups from them, pools from
	// pool groups.
	for _, typ := range []string{model.TypeHTTPPolicySet, model.TypeVSDataScriptSet, model.TypePoolGroup, model.TypePool, model.TypeSSLKeyAndCertificate} {
		var names []string
		for k := range reach {
			if t, n, _ := strings.Cut(k, "/"); t == typ {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			if err := add(typ, n); err != nil {
				return nil, err
			}
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
