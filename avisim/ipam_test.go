package avisim

import (
	"net/http"
	"testing"

	"github.com/vmware/alb-sdk/go/clients"
	"github.com/vmware/alb-sdk/go/models"
)

// vsvip builds a one-vip VsVip; network "" leaves the choice to the cloud's
// IPAM, ip "" asks for auto allocation.
func vsvip(name, network, ip string) *models.VsVip {
	v := &models.Vip{VipID: s("0")}
	if network != "" {
		v.IPAMNetworkSubnet = &models.IPNetworkSubnet{NetworkRef: s("/api/network/?name=" + network)}
	}
	if ip != "" {
		v.IPAddress = &models.IPAddr{Addr: s(ip), Type: s("V4")}
	} else {
		v.AutoAllocateIP = b(true)
	}
	return &models.VsVip{Name: s(name), Vip: []*models.Vip{v}}
}

func vipAddr(v *models.VsVip, i int) string { return *v.Vip[i].IPAddress.Addr }

func TestIPAMAllocation(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	steps := []struct {
		name           string
		vip            *models.VsVip
		wantIP         string
		code           int
		msg            string
		wantNetworkRef string
	}{
		{"auto from cloud IPAM takes the first free address", vsvip("a1", "", ""), "10.50.0.10", 0, "", "vip-net-a"},
		{"auto again takes the next", vsvip("a2", "", ""), "10.50.0.11", 0, "", "vip-net-a"},
		{"auto from a named network", vsvip("b1", "vip-net-b", ""), "10.60.0.2", 0, "", "vip-net-b"},
		{"requested free address", vsvip("r1", "vip-net-a", "10.50.0.100"), "10.50.0.100", 0, "", "vip-net-a"},
		{"requested address without a network uses the cloud's IPAM networks", vsvip("r2", "", "10.60.0.5"), "10.60.0.5", 0, "", "vip-net-b"},
		{"requested address already taken", vsvip("r3", "vip-net-a", "10.50.0.100"), "", 400, "IP 10.50.0.100 is already in use by VsVip r1", ""},
		{"requested address outside the static range", vsvip("r4", "vip-net-a", "10.50.0.5"), "", 400, "IP 10.50.0.5 is not in a static VIP range of vip-net-a 10.50.0.0/24 (10.50.0.10-10.50.0.200)", ""},
		{"requested address in another network's range", vsvip("r5", "vip-net-a", "10.60.0.3"), "", 400, "not in a static VIP range", ""},
		{"auto fills vip-net-b", vsvip("b2", "vip-net-b", ""), "10.60.0.3", 0, "", "vip-net-b"},
		{"auto fills vip-net-b (last)", vsvip("b3", "vip-net-b", ""), "10.60.0.4", 0, "", "vip-net-b"},
		{"vip-net-b exhausted", vsvip("b4", "vip-net-b", ""), "", 400, "No available free IPs", ""},
		{"two vips on a vCenter cloud", &models.VsVip{Name: s("two"), Vip: []*models.Vip{
			{VipID: s("1"), AutoAllocateIP: b(true)}, {VipID: s("2"), AutoAllocateIP: b(true)}}}, "", 400, "more than one vip is only supported on CLOUD_AWS clouds", ""},
		{"neither auto nor address", &models.VsVip{Name: s("none"), Vip: []*models.Vip{{VipID: s("0")}}}, "", 400, "set auto_allocate_ip or ip_address", ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, err := c.VsVip.Create(st.vip)
			if st.code != 0 {
				wantAviErr(t, err, st.code, st.msg)
				return
			}
			must(t, err)
			if vipAddr(got, 0) != st.wantIP {
				t.Fatalf("got %s, want %s", vipAddr(got, 0), st.wantIP)
			}
			nw, err := c.Network.GetByName(st.wantNetworkRef)
			must(t, err)
			if *got.Vip[0].IPAMNetworkSubnet.NetworkRef != *nw.URL {
				t.Fatalf("network_ref %s, want %s", *got.Vip[0].IPAMNetworkSubnet.NetworkRef, *nw.URL)
			}
		})
	}

	// Changing the address of an existing vip is refused; sending it back
	// keeps it.
	a1, err := c.VsVip.GetByName("a1")
	must(t, err)
	a1.Vip[0].IPAddress.Addr = s("10.50.0.150")
	_, err = c.VsVip.Update(a1)
	wantAviErr(t, err, http.StatusBadRequest, "changing the IP address of an existing vip (10.50.0.10 to 10.50.0.150) is not supported; delete the VsVip and create it again")
	a1, err = c.VsVip.GetByName("a1")
	must(t, err)
	a1.EastWestPlacement = b(false)
	upd, err := c.VsVip.Update(a1)
	must(t, err)
	if vipAddr(upd, 0) != "10.50.0.10" {
		t.Fatalf("address after update %s", vipAddr(upd, 0))
	}

	// Deleting a VsVip frees its address for the next allocation.
	b1, err := c.VsVip.GetByName("b1")
	must(t, err)
	must(t, c.VsVip.Delete(*b1.UUID))
	again, err := c.VsVip.Create(vsvip("b5", "vip-net-b", ""))
	must(t, err)
	if vipAddr(again, 0) != "10.60.0.2" {
		t.Fatalf("freed address not reused: %s", vipAddr(again, 0))
	}
	// A network with allocations cannot be deleted.
	nb, err := c.Network.GetByName("vip-net-b")
	must(t, err)
	wantAviErr(t, c.Network.Delete(*nb.UUID), http.StatusConflict, "VsVip b2")
}

func awsVsVip(name string, ips ...string) *models.VsVip {
	nets := []string{"vip-az-a", "vip-az-b", "vip-az-c"}
	vs := &models.VsVip{Name: s(name)}
	for i, n := range nets {
		v := &models.Vip{VipID: s(string(rune('1' + i))), IPAMNetworkSubnet: &models.IPNetworkSubnet{NetworkRef: s("/api/network/?name=" + n)}}
		if i < len(ips) && ips[i] != "" {
			v.IPAddress = &models.IPAddr{Addr: s(ips[i]), Type: s("V4")}
		} else {
			v.AutoAllocateIP = b(true)
		}
		vs.Vip = append(vs.Vip, v)
	}
	return vs
}

func TestAWSMultiVip(t *testing.T) {
	sim := startSim(t, AWSSeed())
	c := newClient(t, sim)
	got, err := c.VsVip.Create(awsVsVip("multi"))
	must(t, err)
	wantIPs := []string{"10.70.1.10", "10.70.2.10", "10.70.3.10"}
	wantAZ := []string{"us-west-2a", "us-west-2b", "us-west-2c"}
	for i := range wantIPs {
		if vipAddr(got, i) != wantIPs[i] || *got.Vip[i].AvailabilityZone != wantAZ[i] || *got.Vip[i].VipID != string(rune('1'+i)) {
			t.Fatalf("vip %d: %s in %s", i, vipAddr(got, i), *got.Vip[i].AvailabilityZone)
		}
	}

	// One vip asks for a taken address: the whole request fails and the
	// other two allocations are not kept.
	_, err = c.VsVip.Create(awsVsVip("partial", "", "", "10.70.3.10"))
	wantAviErr(t, err, http.StatusBadRequest, "IP 10.70.3.10 is already in use by VsVip multi")
	next, err := c.VsVip.Create(awsVsVip("after"))
	must(t, err)
	for i, want := range []string{"10.70.1.11", "10.70.2.11", "10.70.3.11"} {
		if vipAddr(next, i) != want {
			t.Fatalf("vip %d got %s, want %s (a failed request leaked an address)", i, vipAddr(next, i), want)
		}
	}

	// Two vips in one subnet is refused.
	dup := awsVsVip("dup")
	dup.Vip[1].IPAMNetworkSubnet.NetworkRef = s("/api/network/?name=vip-az-a")
	_, err = c.VsVip.Create(dup)
	wantAviErr(t, err, http.StatusBadRequest, "use one vip per subnet")

	// Adding a vip on update allocates it; existing ones stay.
	two := awsVsVip("grow")
	two.Vip = two.Vip[:2]
	g, err := c.VsVip.Create(two)
	must(t, err)
	g.Vip = append(g.Vip, awsVsVip("x").Vip[2])
	g2, err := c.VsVip.Update(g)
	must(t, err)
	if len(g2.Vip) != 3 || vipAddr(g2, 0) != vipAddr(g, 0) || vipAddr(g2, 2) != "10.70.3.12" {
		t.Fatalf("grow: %v %v %v", vipAddr(g2, 0), vipAddr(g2, 1), vipAddr(g2, 2))
	}
}

// TestIPAMExhaustionWithManyClients allocates the whole small range from
// parallel clients: every address is handed out once, then 400.
func TestIPAMExhaustionWithManyClients(t *testing.T) {
	sim := startSim(t, DemoSeed())
	cs := []*clients.AviClient{newClient(t, sim), newClient(t, sim), newClient(t, sim)}
	type res struct {
		ip  string
		err error
	}
	out := make(chan res, 6)
	for i := 0; i < 6; i++ {
		go func(i int) {
			v, err := cs[i%3].VsVip.Create(vsvip("p"+string(rune('a'+i)), "vip-net-b", ""))
			if err != nil {
				out <- res{err: err}
				return
			}
			out <- res{ip: vipAddr(v, 0)}
		}(i)
	}
	seen := map[string]bool{}
	fails := 0
	for i := 0; i < 6; i++ {
		r := <-out
		if r.err != nil {
			wantAviErr(t, r.err, http.StatusBadRequest, "No available free IPs")
			fails++
			continue
		}
		if seen[r.ip] {
			t.Fatalf("%s handed out twice", r.ip)
		}
		seen[r.ip] = true
	}
	if len(seen) != 4 || fails != 2 {
		t.Fatalf("allocated %d, failed %d", len(seen), fails)
	}
}

// TestVsVipPutWithoutAddressMoves: a PUT whose vip leaves ip_address out
// (auto_allocate_ip still true) releases the address and allocates again,
// and avisim hands out a different free one, so a client that forgets to
// send its allocated address back sees its VIP move. Sending it back keeps
// it; with no other address free, the old one comes back.
func TestVsVipPutWithoutAddressMoves(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	create := func(name, network string) *models.VsVip {
		t.Helper()
		v, err := c.VsVip.Create(vsvip(name, network, ""))
		must(t, err)
		return v
	}
	// putWithout sends the VsVip back the way a forgetful client does:
	// everything it read, minus the vip's ip_address.
	putWithout := func(v *models.VsVip) (*models.VsVip, error) {
		v.Vip[0].IPAddress = nil
		return c.VsVip.Update(v)
	}
	a1, a2 := create("a1", "vip-net-a"), create("a2", "vip-net-a")
	if vipAddr(a1, 0) != "10.50.0.10" || vipAddr(a2, 0) != "10.50.0.11" {
		t.Fatalf("setup: %s %s", vipAddr(a1, 0), vipAddr(a2, 0))
	}

	steps := []struct {
		name string
		do   func() (*models.VsVip, error)
		want string
		msg  string
	}{
		{"same address sent back is kept", func() (*models.VsVip, error) {
			v, err := c.VsVip.Get(*a1.UUID)
			must(t, err)
			v.EastWestPlacement = b(false)
			return c.VsVip.Update(v)
		}, "10.50.0.10", ""},
		{"address left out moves to the next free one", func() (*models.VsVip, error) {
			v, err := c.VsVip.Get(*a1.UUID)
			must(t, err)
			return putWithout(v)
		}, "10.50.0.12", ""},
		{"the released address is free again", func() (*models.VsVip, error) {
			return c.VsVip.Create(vsvip("a3", "vip-net-a", ""))
		}, "10.50.0.10", ""},
		{"no auto_allocate_ip and no address is refused", func() (*models.VsVip, error) {
			v, err := c.VsVip.Get(*a2.UUID)
			must(t, err)
			v.Vip[0].AutoAllocateIP = b(false)
			return putWithout(v)
		}, "", "vip_id 0: set auto_allocate_ip or ip_address"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, err := st.do()
			if st.msg != "" {
				wantAviErr(t, err, http.StatusBadRequest, st.msg)
				return
			}
			must(t, err)
			if vipAddr(got, 0) != st.want {
				t.Fatalf("got %s, want %s", vipAddr(got, 0), st.want)
			}
		})
	}

	// vip-net-b has four addresses (.2-.5): the search wraps around after
	// the last one, and a vip whose network has nothing else free keeps
	// its address.
	var bs []*models.VsVip
	for _, n := range []string{"b1", "b2", "b3", "b4"} {
		bs = append(bs, create(n, "vip-net-b"))
	}
	if vipAddr(bs[3], 0) != "10.60.0.5" {
		t.Fatalf("b4 at %s", vipAddr(bs[3], 0))
	}
	same, err := putWithout(bs[3])
	must(t, err)
	if vipAddr(same, 0) != "10.60.0.5" {
		t.Fatalf("full network: b4 moved to %s", vipAddr(same, 0))
	}
	must(t, c.VsVip.Delete(*bs[0].UUID))
	wrapped, err := putWithout(same)
	must(t, err)
	if vipAddr(wrapped, 0) != "10.60.0.2" {
		t.Fatalf("wrap-around: b4 moved to %s, want 10.60.0.2", vipAddr(wrapped, 0))
	}
	if got := sim.Objects("admin", "vsvip"); len(got) != 6 {
		t.Fatalf("%d vsvips", len(got))
	}
}

// TestAWSVsVipPutWithoutAddresses: on a multi-AZ VsVip every vip sent
// back without its address moves within its own subnet.
func TestAWSVsVipPutWithoutAddresses(t *testing.T) {
	sim := startSim(t, AWSSeed())
	c := newClient(t, sim)
	v, err := c.VsVip.Create(awsVsVip("multi"))
	must(t, err)
	for _, vip := range v.Vip {
		vip.IPAddress = nil
	}
	moved, err := c.VsVip.Update(v)
	must(t, err)
	for i, want := range []string{"10.70.1.11", "10.70.2.11", "10.70.3.11"} {
		if vipAddr(moved, i) != want {
			t.Fatalf("vip %d at %s, want %s", i, vipAddr(moved, i), want)
		}
	}
}
