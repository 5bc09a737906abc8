package avisim

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/vmware/alb-sdk/go/models"
	"github.com/vmware/alb-sdk/go/session"
)

func s(v string) *string { return &v }
func b(v bool) *bool     { return &v }

// TestCRUDEachType creates, reads, renames and deletes one object of every
// type through alb-sdk's session, with typed models as request bodies.
func TestCRUDEachType(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	sess := c.AviSession
	cases := []struct {
		typ string
		mk  func(name string) any
	}{
		{"tenant", func(n string) any { return &models.Tenant{Name: s(n)} }},
		{"cloud", func(n string) any { return &models.Cloud{Name: s(n), Vtype: s("CLOUD_NONE")} }},
		{"vrfcontext", func(n string) any { return &models.VrfContext{Name: s(n)} }},
		{"network", func(n string) any { return &models.Network{Name: s(n)} }},
		{"serviceenginegroup", func(n string) any { return &models.ServiceEngineGroup{Name: s(n)} }},
		{"ipamdnsproviderprofile", func(n string) any {
			return &models.IPAMDNSProviderProfile{Name: s(n), Type: s("IPAMDNS_TYPE_INTERNAL")}
		}},
		{"vsvip", func(n string) any {
			return &models.VsVip{Name: s(n), Vip: []*models.Vip{{VipID: s("0"), AutoAllocateIP: b(true)}}}
		}},
		{"pool", func(n string) any { return &models.Pool{Name: s(n)} }},
		{"poolgroup", func(n string) any { return &models.PoolGroup{Name: s(n)} }},
		{"virtualservice", func(n string) any { return &models.VirtualService{Name: s(n)} }},
		{"httppolicyset", func(n string) any { return &models.HTTPPolicySet{Name: s(n)} }},
		{"l4policyset", func(n string) any { return &models.L4PolicySet{Name: s(n)} }},
		{"sslkeyandcertificate", func(n string) any {
			return &models.SSLKeyAndCertificate{Name: s(n), Certificate: &models.SSLCertificate{Certificate: s("-----BEGIN CERTIFICATE-----")}}
		}},
		{"applicationprofile", func(n string) any {
			return &models.ApplicationProfile{Name: s(n), Type: s("APPLICATION_PROFILE_TYPE_L4")}
		}},
		{"networkprofile", func(n string) any {
			return &models.NetworkProfile{Name: s(n), Profile: &models.NetworkProfileUnion{Type: s("PROTOCOL_TYPE_TCP_FAST_PATH")}}
		}},
		{"healthmonitor", func(n string) any { return &models.HealthMonitor{Name: s(n), Type: s("HEALTH_MONITOR_TCP")} }},
		{"sslprofile", func(n string) any { return &models.SSLProfile{Name: s(n)} }},
		{"analyticsprofile", func(n string) any { return &models.AnalyticsProfile{Name: s(n)} }},
		{"applicationpersistenceprofile", func(n string) any { return &models.ApplicationPersistenceProfile{Name: s(n)} }},
		{"pkiprofile", func(n string) any { return &models.PKIprofile{Name: s(n)} }},
		{"wafpolicy", func(n string) any {
			return &models.WafPolicy{Name: s(n), WafProfileRef: s("/api/wafprofile/?name=System-WAF-Profile")}
		}},
		{"wafprofile", func(n string) any { return &models.WafProfile{Name: s(n), Config: &models.WafConfig{}} }},
		{"errorpageprofile", func(n string) any { return &models.ErrorPageProfile{Name: s(n)} }},
		{"errorpagebody", func(n string) any { return &models.ErrorPageBody{Name: s(n), ErrorPageBody: s("<html>oops</html>")} }},
		{"vsdatascriptset", func(n string) any {
			return &models.VSDataScriptSet{Name: s(n), Datascript: []*models.VSDataScript{{Evt: s("VS_DATASCRIPT_EVT_HTTP_REQ"), Script: s("-- noop")}}}
		}},
		{"stringgroup", func(n string) any { return &models.StringGroup{Name: s(n), Kv: []*models.KeyValue{{Key: s("/a")}}} }},
		{"protocolparser", func(n string) any { return &models.ProtocolParser{Name: s(n), ParserCode: s("-- parser")} }},
		{"ssopolicy", func(n string) any { return &models.SSOPolicy{Name: s(n), Type: s("SSO_TYPE_SAML")} }},
		{"authprofile", func(n string) any { return &models.AuthProfile{Name: s(n), Type: s("AUTH_PROFILE_LDAP")} }},
		{"networksecuritypolicy", func(n string) any { return &models.NetworkSecurityPolicy{Name: s(n)} }},
		{"trafficcloneprofile", func(n string) any { return &models.TrafficCloneProfile{Name: s(n)} }},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			name := "crud-" + tc.typ
			var created map[string]any
			must(t, sess.Post("api/"+tc.typ, tc.mk(name), &created))
			uuid, _ := created["uuid"].(string)
			if !strings.HasPrefix(uuid, tc.typ+"-") {
				t.Fatalf("uuid %q", uuid)
			}
			if want := "https://" + sim.Host() + "/api/" + tc.typ + "/" + uuid; created["url"] != want {
				t.Fatalf("url %v, want %s", created["url"], want)
			}
			if created["_last_modified"] == "" || created["_last_modified"] == nil {
				t.Fatal("no _last_modified")
			}
			if tc.typ != "tenant" && !strings.Contains(created["tenant_ref"].(string), "/api/tenant/") {
				t.Fatalf("tenant_ref %v", created["tenant_ref"])
			}

			// Read back into the typed model and PUT it with a new name, as
			// alb-sdk's Update does.
			m := tc.mk("")
			must(t, sess.Get("api/"+tc.typ+"/"+uuid, m))
			kinds[tc.typ].setStr(m, kinds[tc.typ].fName, name+"-2")
			var updated map[string]any
			must(t, sess.Put("api/"+tc.typ+"/"+uuid, m, &updated))
			if updated["name"] != name+"-2" || updated["_last_modified"] == created["_last_modified"] {
				t.Fatalf("update: %v", updated)
			}
			got, err := sess.GetCollectionRaw("api/" + tc.typ + "?name=" + name + "-2")
			must(t, err)
			if got.Count != 1 {
				t.Fatalf("count by new name = %d", got.Count)
			}

			must(t, sess.Delete("api/"+tc.typ+"/"+uuid))
			var gone map[string]any
			wantAviErr(t, sess.Get("api/"+tc.typ+"/"+uuid, &gone), http.StatusNotFound, "not found")
		})
	}
	if w := sim.Writes(); w != 3*len(cases) {
		t.Fatalf("writes = %d, want %d", w, 3*len(cases))
	}
	if got := sim.Counts()["PUT vsvip"]; got != 1 {
		t.Fatalf("PUT vsvip = %d", got)
	}
}

// TestTypedClients uses the generated alb-sdk clients end to end.
func TestTypedClients(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	vip, err := c.VsVip.Create(&models.VsVip{Name: s("vs1"), Vip: []*models.Vip{{VipID: s("0"), AutoAllocateIP: b(true)}}})
	must(t, err)
	pool, err := c.Pool.Create(&models.Pool{Name: s("vs1-pool"), CreatedBy: s("vipgate-c1")})
	must(t, err)
	vs, err := c.VirtualService.Create(&models.VirtualService{
		Name:                  s("vs1"),
		VsvipRef:              vip.URL,
		PoolRef:               s("/api/pool/?name=vs1-pool"),
		ApplicationProfileRef: s("/api/applicationprofile/?name=System-L4-Application"),
		NetworkProfileRef:     s("/api/networkprofile/?name=System-TCP-Proxy"),
		SeGroupRef:            s("/api/serviceenginegroup/?name=edge-seg"),
		Services:              []*models.Service{{Port: ptr(uint32(80))}},
	})
	must(t, err)
	if *vs.PoolRef != *pool.URL {
		t.Fatalf("pool_ref %s, want %s", *vs.PoolRef, *pool.URL)
	}
	if !strings.HasPrefix(*vs.CloudRef, "https://"+sim.Host()+"/api/cloud/cloud-") {
		t.Fatalf("cloud_ref defaulted to %s", *vs.CloudRef)
	}
	got, err := c.VirtualService.GetByName("vs1")
	must(t, err)
	got.EnableRhi = b(true)
	upd, err := c.VirtualService.Update(got)
	must(t, err)
	if !*upd.EnableRhi {
		t.Fatal("update lost enable_rhi")
	}
	// Update with a stale _last_modified is a concurrent update.
	_, err = c.VirtualService.Update(got)
	wantAviErr(t, err, http.StatusPreconditionFailed, "Concurrent Update Error")

	all, err := c.Pool.GetAll()
	must(t, err)
	if len(all) != 1 || *all[0].Name != "vs1-pool" {
		t.Fatalf("pools %v", all)
	}
	must(t, c.VirtualService.Delete(*vs.UUID))
	must(t, c.Pool.DeleteByName("vs1-pool"))
	must(t, c.VsVip.Delete(*vip.UUID))
}

func TestPatch(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	vrf, err := c.VrfContext.GetByName("global")
	must(t, err)
	route := map[string]any{"route_id": "c1-1", "prefix": map[string]any{"ip_addr": map[string]any{"addr": "10.244.1.0", "type": "V4"}, "mask": 24},
		"next_hop": map[string]any{"addr": "192.168.1.10", "type": "V4"}}
	out, err := c.VrfContext.Patch(*vrf.UUID, map[string]any{"static_routes": []any{route}}, "add")
	must(t, err)
	if len(out.StaticRoutes) != 1 || *out.StaticRoutes[0].RouteID != "c1-1" {
		t.Fatalf("after add: %+v", out.StaticRoutes)
	}
	out, err = c.VrfContext.Patch(*vrf.UUID, map[string]any{"static_routes": []any{route}}, "delete")
	must(t, err)
	if len(out.StaticRoutes) != 0 {
		t.Fatalf("after delete: %+v", out.StaticRoutes)
	}
	_, err = c.VrfContext.Patch(*vrf.UUID, map[string]any{"bogus": 1}, "replace")
	wantAviErr(t, err, http.StatusBadRequest, "Unknown field 'bogus'")
}

func TestStrictDecoding(t *testing.T) {
	sim := startSim(t, DemoSeed())
	sess := newClient(t, sim).AviSession
	cases := []struct {
		name, typ string
		body      map[string]any
		msg       string
	}{
		{"top-level", "vsvip", map[string]any{"name": "x", "foo": 1}, "Unknown field 'foo'"},
		{"nested", "vsvip", map[string]any{"name": "x", "vip": []any{map[string]any{"vip_id": "0", "auto_allocate_ip": true, "ipaddr": "1.2.3.4"}}}, "Unknown field 'ipaddr'"},
		{"wrong type", "pool", map[string]any{"name": "x", "servers": "10.0.0.1"}, "Invalid request body"},
		{"missing name", "pool", map[string]any{"description": "x"}, "Field 'name' is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out any
			wantAviErr(t, sess.Post("api/"+tc.typ, tc.body, &out), http.StatusBadRequest, tc.msg)
		})
	}
	if n := len(sim.Objects("admin", "vsvip")); n != 0 {
		t.Fatalf("%d vsvips stored after rejected requests", n)
	}
}

func TestReferencesAndIntegrity(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	sess := c.AviSession
	p1, err := c.Pool.Create(&models.Pool{Name: s("p1")})
	must(t, err)
	base := "https://" + sim.Host()

	cases := []struct {
		name string
		ref  string
		code int
		msg  string
	}{
		{"by uuid", "/api/pool/" + *p1.UUID, 0, ""},
		{"by full url", "https://controller.example.com/api/pool/" + *p1.UUID, 0, ""},
		{"by name", "/api/pool/?name=p1", 0, ""},
		{"with #name", base + "/api/pool/" + *p1.UUID + "#p1", 0, ""},
		{"unknown name", "/api/pool/?name=nope", 400, "pool object with name 'nope' not found"},
		{"unknown uuid", "/api/pool/pool-0000", 400, "pool object with uuid pool-0000 not found"},
		{"wrong type", "/api/vsvip/?name=p1", 400, "expected a reference to pool"},
		{"garbage", "p1", 400, "Invalid reference"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pg := &models.PoolGroup{Name: s("pg-" + string(rune('a'+i))), Members: []*models.PoolGroupMember{{PoolRef: s(tc.ref)}}}
			out, err := c.PoolGroup.Create(pg)
			if tc.code != 0 {
				wantAviErr(t, err, tc.code, tc.msg)
				return
			}
			must(t, err)
			if want := base + "/api/pool/" + *p1.UUID; *out.Members[0].PoolRef != want {
				t.Fatalf("stored %s, want %s", *out.Members[0].PoolRef, want)
			}
		})
	}

	// Duplicate names are refused per type and tenant.
	_, err = c.Pool.Create(&models.Pool{Name: s("p1")})
	wantAviErr(t, err, http.StatusConflict, "Pool with this Name and Tenant ref already exists")

	// A referenced object cannot be deleted; the message names referrers.
	err = c.Pool.Delete(*p1.UUID)
	wantAviErr(t, err, http.StatusConflict, "Cannot delete, object is referred by: ['PoolGroup pg-a'")

	// refers_to and include_name.
	pgs, err := c.PoolGroup.GetAll(session.SetParams(map[string]string{"refers_to": "pool:" + *p1.UUID, "include_name": "true"}))
	must(t, err)
	if len(pgs) != 4 {
		t.Fatalf("refers_to matched %d poolgroups", len(pgs))
	}
	if want := base + "/api/pool/" + *p1.UUID + "#p1"; *pgs[0].Members[0].PoolRef != want {
		t.Fatalf("include_name ref %s, want %s", *pgs[0].Members[0].PoolRef, want)
	}
	for _, pg := range pgs {
		must(t, c.PoolGroup.Delete(*pg.UUID))
	}
	must(t, c.Pool.Delete(*p1.UUID))

	// Seeded infrastructure is protected the same way.
	net, err := c.Network.GetByName("vip-net-a")
	must(t, err)
	var out any
	wantAviErr(t, sess.Delete("api/network/"+*net.UUID, nil, &out), http.StatusConflict, "IPAMDNSProviderProfile Default-Cloud-ipam")
}

func TestTenants(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	_, err := c.Tenant.Create(&models.Tenant{Name: s("team-a")})
	must(t, err)
	inA := session.SetOptTenant("team-a")
	pa, err := c.Pool.Create(&models.Pool{Name: s("shared-name")}, inA)
	must(t, err)
	_, err = c.Pool.Create(&models.Pool{Name: s("shared-name")})
	must(t, err)
	if !strings.Contains(*pa.TenantRef, "/api/tenant/tenant-") {
		t.Fatalf("tenant_ref %s", *pa.TenantRef)
	}
	if len(sim.Objects("team-a", "pool")) != 1 || len(sim.Objects("admin", "pool")) != 1 {
		t.Fatal("objects not per tenant")
	}
	// Provider objects (clouds, networks) of admin are visible from team-a.
	_, err = c.Cloud.GetByName("Default-Cloud", inA)
	must(t, err)
	vip, err := c.VsVip.Create(&models.VsVip{Name: s("v"), Vip: []*models.Vip{{VipID: s("0"), AutoAllocateIP: b(true)}}}, inA)
	must(t, err)
	// "X-Avi-Tenant: *" reads a collection across tenants, and only that.
	all := session.SetOptTenant("*")
	pools, err := c.Pool.GetAll(all)
	must(t, err)
	if len(pools) != 2 {
		t.Fatalf("pools across tenants: %d, want 2", len(pools))
	}
	byName, err := c.Pool.GetAll(all, session.SetName("shared-name"))
	must(t, err)
	if len(byName) != 2 {
		t.Fatalf("pools named shared-name across tenants: %d, want 2", len(byName))
	}
	_, err = c.Pool.Create(&models.Pool{Name: s("nowhere")}, all)
	wantAviErr(t, err, http.StatusBadRequest, "Tenant '*' is valid only for reading collections")
	// An admin object cannot be read by uuid from another tenant.
	admPool, err := c.Pool.GetByName("shared-name")
	must(t, err)
	_, err = c.Pool.Get(*admPool.UUID, inA)
	wantAviErr(t, err, http.StatusNotFound, "not found")
	// A tenant with objects cannot be deleted.
	ten, err := c.Tenant.GetByName("team-a")
	must(t, err)
	wantAviErr(t, c.Tenant.Delete(*ten.UUID), http.StatusConflict, "Pool shared-name")
	must(t, c.Pool.Delete(*pa.UUID, inA))
	must(t, c.VsVip.Delete(*vip.UUID, inA))
	must(t, c.Tenant.Delete(*ten.UUID))
	_, err = c.Pool.GetAll(inA)
	wantAviErr(t, err, http.StatusBadRequest, "Tenant 'team-a' not found")
}

func TestCollectionFilters(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	sess := c.AviSession
	for i, n := range []string{"c1--ns-a", "c1--ns-b", "c2--ns-a", "other"} {
		by := []string{"vipgate-c1", "vipgate-c1", "vipgate-c2", ""}[i]
		p := &models.Pool{Name: s(n)}
		if by != "" {
			p.CreatedBy = s(by)
		}
		_, err := c.Pool.Create(p)
		must(t, err)
	}
	names := func(params map[string]string) []string {
		t.Helper()
		ps, err := c.Pool.GetAll(session.SetParams(params))
		must(t, err)
		var out []string
		for _, p := range ps {
			out = append(out, *p.Name)
		}
		return out
	}
	cases := []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"all sorted by name", nil, "c1--ns-a,c1--ns-b,c2--ns-a,other"},
		{"name", map[string]string{"name": "c2--ns-a"}, "c2--ns-a"},
		{"name.contains", map[string]string{"name.contains": "ns-a"}, "c1--ns-a,c2--ns-a"},
		{"created_by", map[string]string{"created_by": "vipgate-c1"}, "c1--ns-a,c1--ns-b"},
		{"cloud_ref.name", map[string]string{"cloud_ref.name": "Default-Cloud", "created_by": "vipgate-c2"}, "c2--ns-a"},
		{"cloud_ref.name other cloud", map[string]string{"cloud_ref.name": "nope"}, ""},
		{"page 2", map[string]string{"page_size": "3", "page": "2"}, "other"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(names(tc.params), ","); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}

	raw, err := sess.GetCollectionRaw("api/pool?page_size=2")
	must(t, err)
	if raw.Count != 4 || !strings.Contains(raw.Next, "page=2") || !strings.HasPrefix(raw.Next, "https://"+sim.Host()+"/api/pool?") {
		t.Fatalf("count %d next %q", raw.Count, raw.Next)
	}
	_, err = sess.GetCollectionRaw("api/pool?page_size=500")
	wantAviErr(t, err, http.StatusBadRequest, "page_size can range from 1 to 200")

	var res struct {
		Results []map[string]any `json:"results"`
	}
	raw, err = sess.GetCollectionRaw("api/pool?fields=name&name=other")
	must(t, err)
	must(t, jsonUnmarshal(raw, &res))
	if len(res.Results) != 1 || len(res.Results[0]) != 3 || res.Results[0]["name"] != "other" {
		t.Fatalf("fields=name gave %v", res.Results)
	}
}

// TestSSLPortGetsDefaultCertificate: like the controller, avisim accepts a
// virtual service with an SSL port and no certificate (AKO's shared L7
// parent keeps its certificates on the SNI children) and stores the system
// default certificates and SSL profile on it, so a GET shows what the
// controller shows. A certificate the client names is kept as given.
func TestSSLPortGetsDefaultCertificate(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	vip, err := c.VsVip.Create(vsvip("ssl-vip", "vip-net-a", ""))
	must(t, err)
	refName := func(kind, name string) string {
		t.Helper()
		var out struct {
			Results []struct {
				URL string `json:"url"`
			} `json:"results"`
		}
		raw, err := c.AviSession.GetCollectionRaw("api/" + kind + "?name=" + name)
		must(t, err)
		must(t, jsonUnmarshal(raw, &out))
		if len(out.Results) != 1 {
			t.Fatalf("%s %s: %d results", kind, name, len(out.Results))
		}
		return out.Results[0].URL
	}
	cases := []struct {
		name      string
		typ       string
		certs     []string
		wantCerts []string
	}{
		{"parent without certificate", "VS_TYPE_VH_PARENT", nil, []string{refName("sslkeyandcertificate", "System-Default-Cert"), refName("sslkeyandcertificate", "System-Default-Cert-EC")}},
		{"normal without certificate", "VS_TYPE_NORMAL", nil, []string{refName("sslkeyandcertificate", "System-Default-Cert"), refName("sslkeyandcertificate", "System-Default-Cert-EC")}},
		{"named certificate is kept", "VS_TYPE_NORMAL", []string{"/api/sslkeyandcertificate/?name=System-Default-Cert-EC"}, []string{refName("sslkeyandcertificate", "System-Default-Cert-EC")}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vs, err := c.VirtualService.Create(&models.VirtualService{
				Name: s(fmt.Sprintf("ssl-vs-%d", i)), VsvipRef: vip.URL, Type: s(tc.typ),
				Services:                 []*models.Service{{Port: u32(80)}, {Port: u32(443), EnableSsl: b(true)}},
				SslKeyAndCertificateRefs: tc.certs,
			})
			must(t, err)
			got, err := c.VirtualService.Get(*vs.UUID)
			must(t, err)
			if strings.Join(got.SslKeyAndCertificateRefs, " ") != strings.Join(tc.wantCerts, " ") {
				t.Fatalf("certificates %v, want %v", got.SslKeyAndCertificateRefs, tc.wantCerts)
			}
			if want := refName("sslprofile", "System-Standard"); str(got.SslProfileRef) != want {
				t.Fatalf("ssl_profile_ref %s, want %s", str(got.SslProfileRef), want)
			}
			if want := refName("applicationprofile", "System-HTTP"); str(got.ApplicationProfileRef) != want {
				t.Fatalf("application_profile_ref %s, want %s", str(got.ApplicationProfileRef), want)
			}
			if want := refName("networkprofile", "System-TCP-Proxy"); str(got.NetworkProfileRef) != want {
				t.Fatalf("network_profile_ref %s, want %s", str(got.NetworkProfileRef), want)
			}
		})
	}
	// The default certificate is now referenced: it cannot be deleted.
	cert, err := c.SSLKeyAndCertificate.GetByName("System-Default-Cert")
	must(t, err)
	wantAviErr(t, c.SSLKeyAndCertificate.Delete(*cert.UUID), http.StatusConflict, "'VirtualService ssl-vs-0'")
	// Without SSL ports nothing certificate-related is added.
	plain, err := c.VirtualService.Create(&models.VirtualService{Name: s("plain"), VsvipRef: vip.URL, Services: []*models.Service{{Port: u32(80)}}})
	must(t, err)
	if len(plain.SslKeyAndCertificateRefs) != 0 || plain.SslProfileRef != nil {
		t.Fatalf("plain VS got %v %v", plain.SslKeyAndCertificateRefs, plain.SslProfileRef)
	}
}

func u32(v uint32) *uint32 { return &v }
