package inventory

import (
	"net/netip"
	"testing"
)

// TestWith: a VsVip write moves its addresses in the snapshot (the old ones
// are released, the new ones held), a deletion frees them, free counts
// follow, and the original snapshot is untouched.
func TestWith(t *testing.T) {
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	base := &Snapshot{
		Networks: map[string]*Network{"net": {Name: "net", Subnets: []Subnet{{Prefix: netip.MustParsePrefix("10.0.0.0/24"),
			VIPRanges: []Range{{a("10.0.0.10"), a("10.0.0.13")}}}}}},
		InUse:  map[netip.Addr]Holder{a("10.0.0.10"): {VsVip: "c--ns-web", Tenant: "admin"}},
		VsVips: map[string][]Holder{"c--ns-web": {{VsVip: "c--ns-web", Tenant: "admin"}}},
	}
	base.ComputeFree()
	web := Holder{VsVip: "c--ns-web", Tenant: "admin", CreatedBy: "vipgate-c"}
	api := Holder{VsVip: "c--ns-api", Tenant: "admin", CreatedBy: "vipgate-c"}
	next := base.With([]VsVipChange{{Holder: web, Addrs: []netip.Addr{a("10.0.0.11")}}, {Holder: api, Addrs: []netip.Addr{a("10.0.0.12")}}})
	if _, ok := next.InUse[a("10.0.0.10")]; ok {
		t.Error("the moved address is still in use")
	}
	if next.InUse[a("10.0.0.11")] != web || next.InUse[a("10.0.0.12")] != api {
		t.Errorf("in use %v", next.InUse)
	}
	if got := next.Networks["net"].Subnets[0].Free; got != 2 {
		t.Errorf("free %d, want 2", got)
	}
	if base.Networks["net"].Subnets[0].Free != 3 || len(base.InUse) != 1 {
		t.Errorf("the base snapshot changed: %+v", base)
	}
	gone := next.With([]VsVipChange{{Holder: Holder{VsVip: "c--ns-api", Tenant: "admin"}, Deleted: true}})
	if _, ok := gone.InUse[a("10.0.0.12")]; ok || len(gone.VsVips["c--ns-api"]) != 0 || gone.Networks["net"].Subnets[0].Free != 3 {
		t.Errorf("after a deletion: in use %v, vsvips %v", gone.InUse, gone.VsVips)
	}
}
