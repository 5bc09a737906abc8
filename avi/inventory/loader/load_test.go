package loader_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/vipgate/vipgate/avi"
	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/inventory/loader"
	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
)

func connect(t *testing.T, seed *avisim.Seed) (*avisim.Sim, *session.Client, *config.Settings) {
	t.Helper()
	sim, err := avisim.New(avisim.Options{Seed: seed, Username: "admin", Password: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	sim.StartTLS()
	t.Cleanup(sim.Close)
	s := config.Defaults()
	s.ControllerSettings.ControllerHost = sim.Host()
	c, err := session.New(context.Background(), s.ControllerSettings, config.Credentials{Username: "admin", Password: "admin", CertificateAuthorityData: string(sim.CACertPEM())}, session.Options{PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return sim, c, &s
}

func TestLoadDemo(t *testing.T) {
	_, c, s := connect(t, avisim.DemoSeed())
	snap, err := loader.Load(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Cloud.Name != "Default-Cloud" || snap.Cloud.Type != inventory.CloudVCenter || snap.Cloud.MultiVIP() {
		t.Fatalf("cloud %+v", snap.Cloud)
	}
	a := snap.Network("vip-net-a")
	if a == nil || len(a.Subnets) != 1 || a.Subnets[0].Prefix != netip.MustParsePrefix("10.50.0.0/24") {
		t.Fatalf("vip-net-a %+v", a)
	}
	if r := a.Subnets[0].VIPRanges; len(r) != 1 || r[0].String() != "10.50.0.10-10.50.0.200" || a.Subnets[0].Free != 191 {
		t.Fatalf("ranges %+v free %d", r, a.Subnets[0].Free)
	}
	if b := snap.Network("vip-net-b"); b == nil || b.Subnets[0].Free != 4 {
		t.Fatalf("vip-net-b %+v", b)
	}
	if g, ok := snap.SEGroups["edge-seg"]; !ok || g.Labels["tier"] != "edge" {
		t.Fatalf("SE groups %+v", snap.SEGroups)
	}
	if _, ok := snap.SEGroups["Default-Group"]; !ok {
		t.Fatal("Default-Group missing")
	}
	if snap.Age(time.Now()) > time.Hour {
		t.Fatal("FetchedAt not set")
	}
}

func TestLoadAWSZones(t *testing.T) {
	_, c, s := connect(t, avisim.AWSSeed())
	seed := avisim.AWSSeed()
	s.ControllerSettings.CloudName = seed.Clouds[0].Name
	snap, err := loader.Load(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Cloud.MultiVIP() || len(snap.Networks) != 3 {
		t.Fatalf("cloud %+v networks %d", snap.Cloud, len(snap.Networks))
	}
	zones := map[string]bool{}
	for _, n := range snap.Networks {
		if n.AvailabilityZone == "" {
			t.Fatalf("network %s has no AZ", n.Name)
		}
		zones[n.AvailabilityZone] = true
	}
	if len(zones) != 3 {
		t.Fatalf("zones %v", zones)
	}
}

func TestLoadUnknownCloud(t *testing.T) {
	_, c, s := connect(t, avisim.DemoSeed())
	s.ControllerSettings.CloudName = "nope"
	if _, err := loader.Load(context.Background(), c, s); err == nil {
		t.Fatal("want error for an unknown cloud")
	}
}

func TestCache(t *testing.T) {
	n := 0
	fail := false
	c := loader.NewCache(func(ctx context.Context) (*inventory.Snapshot, error) {
		if fail {
			return nil, context.DeadlineExceeded
		}
		n++
		return &inventory.Snapshot{FetchedAt: time.Unix(int64(n)*100, 0)}, nil
	}, time.Minute)
	if c.Snapshot() != nil || !c.Stale(time.Unix(0, 0), time.Hour) {
		t.Fatal("empty cache must be stale")
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.Stale(time.Unix(150, 0), time.Minute) || !c.Stale(time.Unix(200, 0), time.Minute) {
		t.Fatal("staleness bound")
	}
	c.Invalidate()
	if !c.Dirty() {
		t.Fatal("invalidate must mark dirty")
	}
	fail = true
	if err := c.Refresh(context.Background()); err == nil || c.Snapshot().FetchedAt != time.Unix(100, 0) || !c.Dirty() {
		t.Fatal("failed refresh must keep the old snapshot and stay dirty")
	}
	fail = false
	if err := c.Refresh(context.Background()); err != nil || c.Dirty() || c.Snapshot().FetchedAt != time.Unix(200, 0) {
		t.Fatal("refresh after invalidate")
	}
}

func TestCacheStartRefreshSoon(t *testing.T) {
	loads := make(chan struct{}, 10)
	c := loader.NewCache(func(ctx context.Context) (*inventory.Snapshot, error) {
		loads <- struct{}{}
		return &inventory.Snapshot{FetchedAt: time.Now()}, nil
	}, time.Hour)
	c.MinGap = 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Start(ctx) }()
	<-loads // initial load
	c.RefreshSoon()
	<-loads // triggered load
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestLoad10kVsVipsPaged(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 10k VsVips")
	}
	seed := avisim.DemoSeed()
	seed.Networks = append(seed.Networks, avisim.SeedNetwork{Name: "big", Cloud: "Default-Cloud", VRF: "global",
		Subnets: []avisim.SeedSubnet{{Prefix: "10.100.0.0/16", StaticRanges: []avisim.SeedRange{{Begin: "10.100.0.1", End: "10.100.255.254"}}}}})
	seed.Clouds[0].IPAMNetworks = append(seed.Clouds[0].IPAMNetworks, "big")
	sim, c, s := connect(t, seed)
	ctx := context.Background()
	const n = 10000
	for i := 0; i < n; i++ {
		v := map[string]any{"name": fmt.Sprintf("v%05d", i), "cloud_ref": "/api/cloud/?name=Default-Cloud",
			"markers": []any{map[string]any{"key": "created_by", "values": []any{"vipgate-x"}}},
			"vip": []any{map[string]any{"vip_id": "1", "auto_allocate_ip": true,
				"ipam_network_subnet": map[string]any{"network_ref": "/api/network/?name=big"}}}}
		if err := c.Create(ctx, "vsvip", v, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	sim.ResetCounts()
	snap, err := loader.Load(ctx, c, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.InUse) != n || snap.Network("big").Subnets[0].Free != 65534-n {
		t.Fatalf("in use %d, free %d", len(snap.InUse), snap.Network("big").Subnets[0].Free)
	}
	if h := snap.InUse[netip.MustParseAddr("10.100.0.1")]; h.VsVip == "" || h.Tenant != "admin" || h.CreatedBy != "vipgate-x" {
		t.Fatalf("holder %+v", h)
	}
	if got := sim.Counts()["GET vsvip"]; got > n/avi.PageSize+3 {
		t.Fatalf("%d GETs for %d VsVips: not paged", got, n)
	}
}

func TestLoadDNSDomainsAndLicense(t *testing.T) {
	seed := avisim.DemoSeed()
	seed.Clouds[0].DNSDomains = []string{"zeta.example.com", ".apps.example.com"}
	seed.LicenseTier = "BASIC"
	_, c, s := connect(t, seed)
	snap, err := loader.Load(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(snap.DNSSubdomains()); got != "[apps.example.com zeta.example.com]" {
		t.Errorf("DNS subdomains %s, want [apps.example.com zeta.example.com] (sorted, no leading dot)", got)
	}
	if snap.LicenseTier != "BASIC" || snap.FullProxyLicense() {
		t.Errorf("license tier %q full proxy %v, want BASIC false", snap.LicenseTier, snap.FullProxyLicense())
	}

	_, c, s = connect(t, avisim.DemoSeed())
	snap, err = loader.Load(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	if snap.DNSSubdomains() != nil || !snap.FullProxyLicense() {
		t.Errorf("demo seed: DNS subdomains %v full proxy %v, want none and true (ENTERPRISE)", snap.DNSSubdomains(), snap.FullProxyLicense())
	}
}

// recording is an avi.Client that notes the fields= of every read by type.
type recording struct {
	avi.Client
	fields map[string]string
}

func (r *recording) List(ctx context.Context, objType string, q url.Values, tenant string, pageSize int, fn func(json.RawMessage) error) error {
	r.fields[objType] = q.Get("fields")
	return r.Client.List(ctx, objType, q, tenant, pageSize, fn)
}

func (r *recording) Get(ctx context.Context, objType, uuid string, q url.Values, tenant string, out any) error {
	r.fields[objType] = q.Get("fields")
	return r.Client.Get(ctx, objType, uuid, q, tenant, out)
}

// TestLoadIPAMType records the IPAM profile's type and usable networks of
// each seed's cloud, and whether the provider (not static ranges) hands out
// the addresses; the cloud and the profile are read with fields= that leave
// out provider credentials.
func TestLoadIPAMType(t *testing.T) {
	tests := []struct {
		seed         string
		ipamType     string
		provider     bool
		byName       bool
		ipamNetworks []string
		zones        map[string]string
	}{
		{"demo", inventory.IPAMInternal, false, false, []string{"vip-net-a", "vip-net-b"}, nil},
		{"aws", inventory.IPAMInternal, false, false, []string{"vip-az-a", "vip-az-b", "vip-az-c"},
			map[string]string{"vip-az-a": "us-west-2a", "vip-az-b": "us-west-2b", "vip-az-c": "us-west-2c"}},
		{"aws-provider", inventory.IPAMAWS, true, true, []string{"vip-az-a", "vip-az-b", "vip-az-c"},
			map[string]string{"vip-az-a": "us-west-2a", "vip-az-b": "us-west-2b", "vip-az-c": "us-west-2c"}},
		{"azure", inventory.IPAMAzure, true, true, []string{"vip-subnet-a", "vip-subnet-b"}, nil},
		{"gcp", inventory.IPAMGCP, true, false, []string{"frontend-a", "frontend-b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.seed, func(t *testing.T) {
			seed, err := avisim.EmbeddedSeed(tt.seed)
			if err != nil {
				t.Fatal(err)
			}
			_, c, s := connect(t, seed)
			rec := &recording{Client: c, fields: map[string]string{}}
			snap, err := loader.Load(context.Background(), rec, s)
			if err != nil {
				t.Fatal(err)
			}
			cl := snap.Cloud
			if cl.IPAMType != tt.ipamType || cl.ProviderIPAM() != tt.provider || cl.SubnetByName() != tt.byName {
				t.Fatalf("cloud %+v: IPAM type %q provider %v by name %v, want %q %v %v", cl, cl.IPAMType, cl.ProviderIPAM(), cl.SubnetByName(), tt.ipamType, tt.provider, tt.byName)
			}
			if fmt.Sprint(cl.IPAMNetworks) != fmt.Sprint(tt.ipamNetworks) {
				t.Fatalf("IPAM networks %v, want %v", cl.IPAMNetworks, tt.ipamNetworks)
			}
			for name, az := range tt.zones {
				if n := snap.Network(name); n == nil || n.AvailabilityZone != az {
					t.Fatalf("network %s: %+v, want zone %s", name, n, az)
				}
			}
			if got := rec.fields["cloud"]; got != "name,uuid,vtype,ipam_provider_ref,dns_provider_ref" {
				t.Fatalf("cloud read with fields=%q", got)
			}
			if got := rec.fields["ipamdnsproviderprofile"]; got != "name,uuid,type,internal_profile,aws_profile,azure_profile,gcp_profile" {
				t.Fatalf("IPAM profile read with fields=%q", got)
			}
		})
	}
}

// TestLoadRefs reads the objects rule CRDs may name, with the field that
// decides their use, in the admin tenant and in another tenant.
func TestLoadRefs(t *testing.T) {
	seed := avisim.DemoSeed()
	seed.Tenants = append(seed.Tenants, "team-a")
	_, c, s := connect(t, seed)
	waf := map[string]any{"name": "team-waf", "waf_profile_ref": "/api/wafprofile/?name=System-WAF-Profile"}
	if err := c.Create(context.Background(), "wafpolicy", waf, "team-a", nil); err != nil {
		t.Fatal(err)
	}
	snap, err := loader.Load(context.Background(), c, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		typ, tenant, name, kind string
		found                   bool
	}{
		{"wafpolicy", "admin", "demo-waf", "", true},
		{"wafpolicy", "team-a", "demo-waf", "", true}, // admin's are shared
		{"wafpolicy", "team-a", "team-waf", "", true},
		{"wafpolicy", "admin", "team-waf", "", false}, // a tenant's are not
		{"applicationprofile", "admin", "demo-http", inventory.AppProfileTypeHTTP, true},
		{"applicationprofile", "admin", "System-L4-Application", inventory.AppProfileTypeL4, true},
		{"applicationprofile", "admin", "System-SSL-Application", inventory.AppProfileTypeSSL, true},
		{"networkprofile", "admin", "System-UDP-Fast-Path", inventory.NetProfileTypeUDPFastPath, true},
		{"healthmonitor", "admin", "System-HTTP", "HEALTH_MONITOR_HTTP", true},
		{"applicationpersistenceprofile", "admin", "System-Persistence-Client-IP", "PERSISTENCE_TYPE_CLIENT_IP_ADDRESS", true},
		{"sslkeyandcertificate", "admin", "System-Default-Cert", inventory.CertTypeVirtualService, true},
		{"pkiprofile", "admin", "none", "", false},
	} {
		o, found, known := snap.Ref(tc.typ, tc.tenant, tc.name)
		if !known || found != tc.found || o.Kind != tc.kind {
			t.Errorf("Ref(%s, %s, %s) = %+v found %v known %v, want kind %q found %v", tc.typ, tc.tenant, tc.name, o, found, known, tc.kind, tc.found)
		}
	}
	if got := snap.RefNames("applicationprofile", "team-a", "", inventory.AppProfileTypeHTTP); fmt.Sprint(got) != "[System-HTTP System-Secure-HTTP demo-http]" {
		t.Errorf("HTTP application profiles = %v", got)
	}
	if len(snap.Refs) != len(inventory.RefTypes) {
		t.Errorf("loaded %d types, want %d", len(snap.Refs), len(inventory.RefTypes))
	}
}
