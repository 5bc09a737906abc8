package inventory

import (
	"fmt"
	"maps"
	"math/rand/v2"
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

// withOneByOne is With as it was first written: each change applied alone,
// scanning every address in use. TestWithMatchesOneByOne holds the
// single-pass With to it.
func withOneByOne(s *Snapshot, changes []VsVipChange) map[netip.Addr]Holder {
	inUse := maps.Clone(s.InUse)
	for _, c := range changes {
		for a, h := range inUse {
			if h.VsVip == c.Holder.VsVip && h.Tenant == c.Holder.Tenant {
				delete(inUse, a)
			}
		}
		if !c.Deleted {
			for _, a := range c.Addrs {
				inUse[a] = c.Holder
			}
		}
	}
	return inUse
}

// TestWithMatchesOneByOne: random batches over a few VsVips, tenants and
// addresses (so changes of one VsVip repeat within a batch and addresses
// change hands) give the addresses in use that applying each change alone gives.
func TestWithMatchesOneByOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	addr := func() netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(12))}) }
	holder := func() Holder {
		return Holder{VsVip: fmt.Sprintf("vs-%d", rng.IntN(4)), Tenant: []string{"admin", "t1"}[rng.IntN(2)]}
	}
	for i := range 2000 {
		base := &Snapshot{InUse: map[netip.Addr]Holder{}, VsVips: map[string][]Holder{}}
		for range rng.IntN(10) {
			h := holder()
			base.InUse[addr()] = h
			base.VsVips[h.VsVip] = append(base.VsVips[h.VsVip], h)
		}
		var changes []VsVipChange
		for range 1 + rng.IntN(6) {
			c := VsVipChange{Holder: holder(), Deleted: rng.IntN(4) == 0}
			for range rng.IntN(3) {
				c.Addrs = append(c.Addrs, addr())
			}
			changes = append(changes, c)
		}
		want := withOneByOne(base, changes)
		if got := base.With(changes).InUse; !maps.Equal(got, want) {
			t.Fatalf("case %d: base %v, changes %+v: in use %v, want %v", i, base.InUse, changes, got, want)
		}
	}
}

// TestRangeSize: the arithmetic size equals the address-by-address count,
// up to the cap.
func TestRangeSize(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name string
		r    Range
		want int
	}{
		{"one address", Range{a("10.0.0.1"), a("10.0.0.1")}, 1},
		{"bench network", Range{a("10.80.0.10"), a("10.80.255.200")}, 65471},
		{"across octets", Range{a("10.0.0.250"), a("10.0.1.5")}, 12},
		{"reversed", Range{a("10.0.0.5"), a("10.0.0.1")}, 0},
		{"top of IPv4", Range{a("255.255.255.250"), a("255.255.255.255")}, 6},
		{"IPv6", Range{a("fd00::1"), a("fd00::ff")}, 255},
		{"IPv6 across the low 64 bits", Range{a("fd00::ffff:ffff:ffff:fffe"), a("fd00:0:0:1::1")}, 4},
		{"huge IPv6 capped", Range{a("fd00::"), a("fd00::ffff:ffff")}, sizeCap},
		{"mixed families walk", Range{a("255.255.255.254"), a("::1")}, 2},
		{"invalid begin", Range{netip.Addr{}, a("10.0.0.1")}, 0},
	}
	for _, tt := range tests {
		if got := tt.r.Size(); got != tt.want {
			t.Errorf("%s: %v.Size() = %d, want %d", tt.name, tt.r, got, tt.want)
		}
		if tt.r.Begin.Is4() == tt.r.End.Is4() {
			if walked := tt.r.walk(); walked != tt.want {
				t.Errorf("%s: walk = %d, want %d (the table is wrong)", tt.name, walked, tt.want)
			}
		}
	}
}

// BenchmarkWith10k: one fold of a few new VsVips into a snapshot holding
// 10,000 VIPs, as the loader folds vipgate's writes during a burst (at most
// every 50 ms, so its cost grows with the VIPs in use).
func BenchmarkWith10k(b *testing.B) {
	base := &Snapshot{InUse: map[netip.Addr]Holder{}, VsVips: map[string][]Holder{},
		Networks: map[string]*Network{"net": {Name: "net", Subnets: []Subnet{{Prefix: netip.MustParsePrefix("10.100.0.0/16"),
			VIPRanges: []Range{{netip.MustParseAddr("10.100.0.1"), netip.MustParseAddr("10.100.255.254")}}}}}}}
	for i := range 10_000 {
		h := Holder{VsVip: fmt.Sprintf("c--ns-svc-%d", i), Tenant: "admin", CreatedBy: "vipgate-c"}
		base.InUse[netip.AddrFrom4([4]byte{10, 100, byte(i >> 8), byte(i)})] = h
		base.VsVips[h.VsVip] = []Holder{h}
	}
	base.ComputeFree()
	var changes []VsVipChange
	for i := range 3 {
		h := Holder{VsVip: fmt.Sprintf("c--ns-new-%d", i), Tenant: "admin", CreatedBy: "vipgate-c"}
		changes = append(changes, VsVipChange{Holder: h, Addrs: []netip.Addr{netip.AddrFrom4([4]byte{10, 100, 200, byte(i)})}})
	}
	b.ReportAllocs()
	for b.Loop() {
		base.With(changes)
	}
}

func TestHoldsAddress(t *testing.T) {
	a := netip.MustParseAddr
	mine := func(h Holder) bool { return h.CreatedBy == "vipgate-c" }
	snap := &Snapshot{
		InUse: map[netip.Addr]Holder{a("10.0.0.10"): {VsVip: "c--ns-web", Tenant: "admin", CreatedBy: "vipgate-c"}},
		VsVips: map[string][]Holder{
			"c--ns-web":   {{VsVip: "c--ns-web", Tenant: "admin", CreatedBy: "vipgate-c"}},
			"c--ns-empty": {{VsVip: "c--ns-empty", Tenant: "admin", CreatedBy: "vipgate-c"}},
		},
	}
	for _, tc := range []struct {
		name string
		snap *Snapshot
		want bool
	}{
		{"c--ns-web", snap, true},
		{"c--ns-empty", snap, false}, // a VsVip without an address
		{"c--ns-none", snap, false},
		{"c--ns-web", nil, false},
	} {
		if got := tc.snap.HoldsAddress(tc.name, mine); got != tc.want {
			t.Errorf("HoldsAddress(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
	if snap.HoldsAddress("c--ns-web", func(h Holder) bool { return h.CreatedBy == "other" }) {
		t.Error("a holder the matcher refuses holds the address")
	}
}

// TestHoldsAddressMatchesScan: on snapshots built as the loader builds them
// and then changed by With, HoldsAddress answers as a pass over every
// address in use does.
func TestHoldsAddressMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	addr := func() netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(12))}) }
	holder := func() Holder {
		return Holder{VsVip: fmt.Sprintf("vs-%d", rng.IntN(4)), Tenant: []string{"admin", "t1"}[rng.IntN(2)]}
	}
	inTenant := func(tenant string) func(Holder) bool { return func(h Holder) bool { return h.Tenant == tenant } }
	for i := range 2000 {
		snap := &Snapshot{InUse: map[netip.Addr]Holder{}, VsVips: map[string][]Holder{}}
		for range rng.IntN(10) {
			h := holder()
			snap.VsVips[h.VsVip] = append(snap.VsVips[h.VsVip], h)
			if rng.IntN(3) > 0 {
				snap.InUse[addr()] = h
			}
		}
		var changes []VsVipChange
		for range rng.IntN(6) {
			c := VsVipChange{Holder: holder(), Deleted: rng.IntN(4) == 0}
			for range rng.IntN(3) {
				c.Addrs = append(c.Addrs, addr())
			}
			changes = append(changes, c)
		}
		snap = snap.With(changes)
		for v := range 4 {
			for _, tenant := range []string{"admin", "t1"} {
				name, match := fmt.Sprintf("vs-%d", v), inTenant(tenant)
				want := false
				for _, h := range snap.InUse {
					want = want || (h.VsVip == name && match(h))
				}
				if got := snap.HoldsAddress(name, match); got != want {
					t.Fatalf("case %d: %s in %s: HoldsAddress %v, a pass over in use %v (in use %v, vsvips %v)", i, name, tenant, got, want, snap.InUse, snap.VsVips)
				}
			}
		}
	}
}
