package check

import (
	"bytes"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vipgate/vipgate/avi/inventory"
)

// TestInventoryRoundTrip: a snapshot written and read back is the same
// snapshot, and writing it again gives the same bytes (sorted lists, so
// exports of one controller state diff cleanly).
func TestInventoryRoundTrip(t *testing.T) {
	snap := &inventory.Snapshot{
		FetchedAt: time.Date(2026, 3, 1, 11, 0, 0, 0, time.FixedZone("CET", 3600)),
		Cloud: inventory.Cloud{Name: "Default-Cloud", UUID: "cloud-1", Type: inventory.CloudAWS, IPAMNetworks: []string{"a", "b"},
			IPAMType: inventory.IPAMAWS, DNSDomains: []string{"apps.example.com"}},
		LicenseTier: "ENTERPRISE",
		// A type listed with no objects is known to be empty; one not listed is unknown.
		Refs: map[string]inventory.RefTable{
			inventory.TypeWAFPolicy:          {"admin": {"waf-a": {}}, "t1": {"waf-t": {CreatedBy: "admin-tool"}}},
			inventory.TypeApplicationProfile: {"admin": {"System-HTTP": {Kind: inventory.AppProfileTypeHTTP}}},
			inventory.TypeICAPProfile:        {},
		},
		Networks: map[string]*inventory.Network{
			"b": {Name: "b", UUID: "network-b", AvailabilityZone: "us-east-1b", Subnets: []inventory.Subnet{
				{Prefix: netip.MustParsePrefix("10.2.0.0/24"), VIPRanges: []inventory.Range{{Begin: netip.MustParseAddr("10.2.0.10"), End: netip.MustParseAddr("10.2.0.12")}}},
				{Prefix: netip.MustParsePrefix("2001:db8::/64"), VIPRanges: []inventory.Range{{Begin: netip.MustParseAddr("2001:db8::10"), End: netip.MustParseAddr("2001:db8::1f")}}},
			}},
			"a": {Name: "a", UUID: "network-a", AvailabilityZone: "us-east-1a", Subnets: []inventory.Subnet{
				{Prefix: netip.MustParsePrefix("10.1.0.0/24")},
			}},
		},
		SEGroups: map[string]inventory.SEGroup{
			"Default-Group": {Name: "Default-Group", UUID: "seg-1"},
			"edge":          {Name: "edge", UUID: "seg-2", Labels: map[string]string{"clustername": "demo"}},
		},
		InUse: map[netip.Addr]inventory.Holder{
			netip.MustParseAddr("10.2.0.11"):    {VsVip: "demo--default-web", CreatedBy: "vipgate-demo", Tenant: "admin", ClusterID: "uid-1", Owner: "Service/default/web"},
			netip.MustParseAddr("2001:db8::10"): {VsVip: "legacy", CreatedBy: "ako-prod", Tenant: "t1"},
			netip.MustParseAddr("10.2.0.10"):    {VsVip: "legacy", CreatedBy: "ako-prod", Tenant: "t1"},
		},
		VsVips: map[string][]inventory.Holder{
			"demo--default-web": {{VsVip: "demo--default-web", CreatedBy: "vipgate-demo", Tenant: "admin", ClusterID: "uid-1", Owner: "Service/default/web"}},
			"legacy":            {{VsVip: "legacy", Tenant: "admin"}, {VsVip: "legacy", CreatedBy: "ako-prod", Tenant: "t1"}}, // by tenant, as in the file
		},
	}
	snap.ComputeFree()
	var first bytes.Buffer
	if err := WriteInventory(&first, snap, "c.example.com", "admin"); err != nil {
		t.Fatal(err)
	}
	back, file, err := ReadInventory(bytes.NewReader(first.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if file.Controller != "c.example.com" || file.Tenant != "admin" || !back.FetchedAt.Equal(snap.FetchedAt) {
		t.Errorf("file %+v", file)
	}
	back.FetchedAt = snap.FetchedAt // same instant, UTC in the file
	if !reflect.DeepEqual(back, snap) {
		t.Errorf("read back\n  %+v\nwant\n  %+v", back, snap)
	}
	if free := back.Network("b").Subnets[0].Free; free != 1 {
		t.Errorf("free addresses of 10.2.0.0/24: %d, want 1", free)
	}
	for range 3 { // map order must not show in the file
		var again bytes.Buffer
		if err := WriteInventory(&again, back, "c.example.com", "admin"); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Bytes(), first.Bytes()) {
			t.Fatalf("second export differs:\n%s\nfirst:\n%s", again.String(), first.String())
		}
	}
	for _, want := range []string{`"fetchedAt": "2026-03-01T10:00:00Z"`, `"vipRanges": [` + "\n" + `            "10.2.0.10-10.2.0.12"`, `"ip": "2001:db8::10"`} {
		if !strings.Contains(first.String(), want) {
			t.Errorf("file lacks %s:\n%s", want, first.String())
		}
	}
}

// TestInventoryFileIsStrict: a file that is not an inventory, or is damaged,
// is refused rather than read as a controller with nothing on it.
func TestInventoryFileIsStrict(t *testing.T) {
	good, err := os.ReadFile("testdata/inventory.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"another kind", `"kind": "VipgateInventory"`, `"kind": "Snapshot"`, `not a vipgate inventory file: kind is "Snapshot", want "VipgateInventory" (write one with vipgate inventory export)`},
		{"another version", `"version": 1`, `"version": 2`, "inventory file version 2 is not supported (this vipgate reads version 1); export it again with this vipgate"},
		{"an unknown field", `"tenant": "admin",`, `"tenant": "admin", "password": "x",`, `not a vipgate inventory file: json: unknown field "password"`},
		{"no fetchedAt", `"fetchedAt": "2026-03-01T11:00:00Z",`, ``, "inventory file has no fetchedAt"},
		{"a bad range", `"10.60.0.2-10.60.0.5"`, `"10.60.0.5-10.60.0.2"`, `networks[2].subnets[0].vipRanges[0]: "10.60.0.5-10.60.0.2" is not a range begin-end of one address family`},
		{"a bad prefix", `"10.50.0.0/24"`, `"10.50.0.0/33"`, `networks[1].subnets[0].prefix: netip.ParsePrefix("10.50.0.0/33"): prefix length out of range`},
		{"a bad address", `"ip": "10.50.0.11"`, `"ip": "10.50.0"`, `vipsInUse[1].ip: ParseAddr("10.50.0"): IPv4 address too short`},
		{"a network twice", `"name": "vip-net-b"`, `"name": "vip-net-a"`, `networks[2]: network "vip-net-a" is listed twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := strings.Replace(string(good), tc.from, tc.to, 1)
			if data == string(good) {
				t.Fatalf("fixture lacks %s", tc.from)
			}
			_, _, err := ReadInventory(strings.NewReader(data))
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v\nwant  %s", err, tc.want)
			}
		})
	}
}

func TestInventoryMatchesSettings(t *testing.T) {
	f := &InventoryFile{Cloud: InventoryCloud{Name: "Default-Cloud"}}
	if err := f.MatchSettings(demoSettings()); err != nil {
		t.Error(err)
	}
	s := demoSettings()
	s.ControllerSettings.CloudName = "aws"
	if err := f.MatchSettings(s); err == nil || err.Error() != `the inventory was exported from cloud "Default-Cloud", but ControllerSettings.cloudName is "aws"; export it again with these settings` {
		t.Errorf("other cloud: %v", err)
	}
}
