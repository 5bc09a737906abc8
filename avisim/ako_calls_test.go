package avisim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/vmware/alb-sdk/go/clients"
	"github.com/vmware/alb-sdk/go/models"
	"github.com/vmware/alb-sdk/go/session"
)

// akoClient issues calls the way AKO's lib.AviGet / AviGetCollectionRaw /
// RestOp layer does: through alb-sdk's session, with the URI exactly as AKO
// builds it (leading "/api/", bare include_name, "?&..." and all).
type akoClient struct {
	t *testing.T
	c *clients.AviClient
}

type doc = map[string]any

// coll is lib.AviGetCollectionRaw.
func (a akoClient) coll(uri string) (int, []doc) {
	a.t.Helper()
	raw, err := a.c.AviSession.GetCollectionRaw(uri)
	if err != nil {
		a.t.Fatalf("GET %s: %v", uri, err)
	}
	var res []doc
	if err := json.Unmarshal(raw.Results, &res); err != nil {
		a.t.Fatalf("GET %s: results: %v", uri, err)
	}
	return raw.Count, res
}

// one expects a collection answer with exactly one object.
func (a akoClient) one(uri string) doc {
	a.t.Helper()
	n, res := a.coll(uri)
	if n != 1 || len(res) != 1 {
		a.t.Fatalf("GET %s: count %d (%d results), want 1", uri, n, len(res))
	}
	return res[0]
}

// get is lib.AviGet.
func (a akoClient) get(uri string) doc {
	a.t.Helper()
	var out doc
	if err := a.c.AviSession.Get(uri, &out); err != nil {
		a.t.Fatalf("GET %s: %v", uri, err)
	}
	return out
}

func (a akoClient) post(uri string, body any) doc {
	a.t.Helper()
	var out doc
	if err := a.c.AviSession.Post(uri, body, &out); err != nil {
		a.t.Fatalf("POST %s: %v", uri, err)
	}
	return out
}

func (a akoClient) put(uri string, body any) doc {
	a.t.Helper()
	var out doc
	if err := a.c.AviSession.Put(uri, body, &out); err != nil {
		a.t.Fatalf("PUT %s: %v", uri, err)
	}
	return out
}

// refName is the "#name" part of a reference read with include_name.
func refName(t *testing.T, v any) string {
	t.Helper()
	s, _ := v.(string)
	_, name, ok := strings.Cut(s, "#")
	if !ok {
		t.Fatalf("reference %q has no #name", s)
	}
	return name
}

func names(res []doc) string {
	var out []string
	for _, r := range res {
		out = append(out, r["name"].(string))
	}
	return strings.Join(out, ",")
}

// TestAKOCalls makes every REST call AKO makes (at boot, for L4 Services,
// for Ingresses and for the rule CRDs' reference checks) as AKO builds it,
// and checks avisim's answer against what AKO reads from it. Each subtest
// is one row of avisim/CALLS.md, named by the row's id.
func TestAKOCalls(t *testing.T) {
	seed := DemoSeed()
	seed.Clouds[0].DNSDomains = []string{"avi.example.com", "apps.example.com"}
	sim := startSim(t, seed)
	a := akoClient{t, newClient(t, sim, session.SetTenant("admin"))}
	const akoUser = "ako-c1"
	var cloudUUID, netUUID, segUUID string

	// --- Boot -----------------------------------------------------------
	t.Run("B01 initial-data", func(t *testing.T) {
		v, err := a.c.AviSession.GetControllerVersion()
		must(t, err)
		if v != "22.1.3" {
			t.Fatalf("version %q", v)
		}
	})
	t.Run("B02 cluster runtime", func(t *testing.T) {
		rt := a.get("/api/cluster/runtime")
		if rt["cluster_state"].(doc)["state"] != "CLUSTER_UP_NO_HA" {
			t.Fatalf("state %v", rt["cluster_state"])
		}
		node := rt["node_states"].([]any)[0].(doc)
		if node["role"] != "CLUSTER_LEADER" || node["up_since"] == "" || node["name"] == "" {
			t.Fatalf("leader %v", node)
		}
		// AKO restarts itself when the leader's up_since changes: it must
		// be stable across reads.
		if again := a.get("/api/cluster/runtime")["node_states"].([]any)[0].(doc)["up_since"]; again != node["up_since"] {
			t.Fatalf("up_since changed: %v then %v", node["up_since"], again)
		}
	})
	t.Run("B03 cluster uuid", func(t *testing.T) {
		cl := a.get("/api/cluster")
		if u, _ := cl["uuid"].(string); !strings.HasPrefix(u, "cluster-") {
			t.Fatalf("cluster %v", cl)
		}
	})
	t.Run("B04 systemconfiguration license tier", func(t *testing.T) {
		sc := a.get("/api/systemconfiguration")
		if sc["default_license_tier"] != "ENTERPRISE" {
			t.Fatalf("default_license_tier %v", sc["default_license_tier"])
		}
	})
	t.Run("B05 tenant by name, bare include_name", func(t *testing.T) {
		ten := a.one("/api/tenant/?include_name&name=admin")
		if ten["name"] != "admin" {
			t.Fatalf("tenant %v", ten)
		}
	})
	t.Run("B06 cloud by name, bare include_name", func(t *testing.T) {
		cl := a.one("/api/cloud/?include_name&name=Default-Cloud")
		cloudUUID = cl["uuid"].(string)
		if cl["vtype"] != "CLOUD_VCENTER" || !strings.HasSuffix(cl["tenant_ref"].(string), "#admin") {
			t.Fatalf("cloud %v", cl)
		}
		// AKO splits ipam_provider_ref on "#" and reads [1].
		if refName(t, cl["ipam_provider_ref"]) != "Default-Cloud-ipam" || refName(t, cl["dns_provider_ref"]) != "Default-Cloud-dns" {
			t.Fatalf("providers %v %v", cl["ipam_provider_ref"], cl["dns_provider_ref"])
		}
		if cl["license_tier"] != "ENTERPRISE" {
			t.Fatalf("license_tier %v", cl["license_tier"])
		}
	})
	t.Run("B07 IPAM profile by name", func(t *testing.T) {
		p := a.one("/api/ipamdnsproviderprofile/?include_name&name=Default-Cloud-ipam")
		if p["type"] != "IPAMDNS_TYPE_INTERNAL" {
			t.Fatalf("type %v", p["type"])
		}
		nets := p["internal_profile"].(doc)["usable_networks"].([]any)
		if refName(t, nets[0].(doc)["nw_ref"]) != "vip-net-a" {
			t.Fatalf("usable networks %v", nets)
		}
	})
	t.Run("B08 IPAM profile by uuid with include_name", func(t *testing.T) {
		p := a.one("/api/ipamdnsproviderprofile/?include_name&name=Default-Cloud-ipam")
		byUUID := a.get("/api/ipamdnsproviderprofile/" + p["uuid"].(string) + "/?include_name")
		if refName(t, byUUID["internal_profile"].(doc)["usable_networks"].([]any)[1].(doc)["nw_ref"]) != "vip-net-b" {
			t.Fatalf("profile %v", byUUID)
		}
	})
	t.Run("B09 DNS sub-domains of the cloud", func(t *testing.T) {
		dl := a.get("/api/ipamdnsproviderprofiledomainlist?cloud_uuid=" + cloudUUID)
		got, _ := json.Marshal(dl["domains"])
		if string(got) != `["avi.example.com","apps.example.com"]` {
			t.Fatalf("domains %s", got)
		}
	})
	t.Run("B10 VRF by name in the cloud", func(t *testing.T) {
		v := a.one("/api/vrfcontext/?include_name&name=global&cloud_ref.name=Default-Cloud")
		if refName(t, v["cloud_ref"]) != "Default-Cloud" {
			t.Fatalf("vrf %v", v)
		}
		if n, _ := a.coll("/api/vrfcontext/?include_name&name=global&cloud_ref.name=Other-Cloud"); n != 0 {
			t.Fatalf("vrf of another cloud: %d", n)
		}
	})
	t.Run("B11 VIP network by name, cloud and VRF", func(t *testing.T) {
		n := a.one("/api/network/?include_name=true&name=vip-net-a&cloud_ref.name=Default-Cloud&vrf_context_ref.name=global")
		netUUID = n["uuid"].(string)
		if refName(t, n["vrf_context_ref"]) != "global" {
			t.Fatalf("network %v", n)
		}
		if c, _ := a.coll("/api/network/?include_name=true&name=vip-net-a&cloud_ref.name=Default-Cloud&vrf_context_ref.name=other"); c != 0 {
			t.Fatalf("vrf filter ignored: %d", c)
		}
	})
	t.Run("B12 network by name, bare include_name", func(t *testing.T) {
		n := a.one("/api/network/?include_name&name=vip-net-a&cloud_ref.name=Default-Cloud")
		// AKO reads the VRF name as vrf_context_ref split on "#".
		if refName(t, n["vrf_context_ref"]) != "global" {
			t.Fatalf("vrf_context_ref %v", n["vrf_context_ref"])
		}
	})
	t.Run("B13 network by uuid in the cloud", func(t *testing.T) {
		n := a.get("/api/network/" + netUUID + "?cloud_uuid=" + cloudUUID + "&include_name")
		if n["name"] != "vip-net-a" || refName(t, n["vrf_context_ref"]) != "global" {
			t.Fatalf("network %v", n)
		}
		var out doc
		err := a.c.AviSession.Get("/api/network/"+netUUID+"?cloud_uuid=cloud-0000&include_name", &out)
		wantAviErr(t, err, http.StatusNotFound, "network object with uuid "+netUUID+" not found")
	})
	t.Run("B14 networks by name.in", func(t *testing.T) {
		n, res := a.coll("/api/network/?include_name&page_size=100&name.in=vip-net-b,vip-net-a")
		if n != 2 || names(res) != "vip-net-a,vip-net-b" {
			t.Fatalf("name.in: %d %s", n, names(res))
		}
	})
	t.Run("B15 SE groups by name.in", func(t *testing.T) {
		n, res := a.coll("/api/serviceenginegroup/?include_name&page_size=100&cloud_ref.name=Default-Cloud&name.in=Default-Group")
		if n != 1 || names(res) != "Default-Group" {
			t.Fatalf("name.in: %d %s", n, names(res))
		}
		segUUID = res[0]["uuid"].(string)
		if refName(t, res[0]["cloud_ref"]) != "Default-Cloud" {
			t.Fatalf("seg %v", res[0])
		}
	})
	t.Run("B16 SE group labels PUT", func(t *testing.T) {
		seg := a.get("/api/serviceenginegroup/" + segUUID)
		seg["labels"] = []any{doc{"key": "clustername", "value": "c1"}}
		out := a.put("/api/serviceenginegroup/"+segUUID, seg)
		if l := out["labels"].([]any); len(l) != 1 || l[0].(doc)["value"] != "c1" {
			t.Fatalf("labels %v", out["labels"])
		}
		// A second PUT of the first read is stale: 412, which AKO handles
		// by reading the SE group again.
		var stale doc
		wantAviErr(t, a.c.AviSession.Put("/api/serviceenginegroup/"+segUUID, seg, &stale), http.StatusPreconditionFailed, "Concurrent Update Error")
	})
	t.Run("B17 SE group by name and by uuid", func(t *testing.T) {
		g := a.one("/api/serviceenginegroup/?include_name&name=Default-Group&cloud_ref.name=Default-Cloud")
		again := a.get("/api/serviceenginegroup/" + g["uuid"].(string))
		if again["labels"].([]any)[0].(doc)["key"] != "clustername" {
			t.Fatalf("labels %v", again["labels"])
		}
	})
	t.Run("B18 SE groups of the cloud", func(t *testing.T) {
		n, res := a.coll("/api/serviceenginegroup/?include_name&page_size=100&cloud_ref.name=Default-Cloud")
		if n != 2 || names(res) != "Default-Group,edge-seg" {
			t.Fatalf("%d %s", n, names(res))
		}
	})
	t.Run("B19 tenants, fields and paging", func(t *testing.T) {
		for _, tn := range []string{"t1", "t2", "t3"} {
			a.post("api/tenant", doc{"name": tn})
		}
		_, res := a.coll("/api/tenant?fields=name,attrs")
		if names(res) != "admin,t1,t2,t3" || res[0]["uuid"] == nil || res[0]["url"] == nil {
			t.Fatalf("tenants %v", res)
		}
		raw, err := a.c.AviSession.GetCollectionRaw("/api/tenant?page_size=2")
		must(t, err)
		// AKO follows "next" by splitting it on "/api/tenant".
		_, rest, ok := strings.Cut(raw.Next, "/api/tenant")
		if raw.Count != 4 || !ok {
			t.Fatalf("count %d next %q", raw.Count, raw.Next)
		}
		_, res = a.coll("/api/tenant" + rest)
		if names(res) != "t2,t3" {
			t.Fatalf("page 2: %s", names(res))
		}
	})
	t.Run("B20 VRFs of the cloud", func(t *testing.T) {
		n, res := a.coll("/api/vrfcontext?&include_name=true&cloud_ref.name=Default-Cloud&page_size=100")
		if n != 1 || names(res) != "global" {
			t.Fatalf("%d %s", n, names(res))
		}
	})

	t.Run("B21 VRF static routes", func(t *testing.T) {
		// AKO (ClusterIP mode) reads the VRF by uuid and PUTs it back with
		// its routes (labelled clustername) merged with everyone else's.
		v := a.one("/api/vrfcontext/?include_name&name=global&cloud_ref.name=Default-Cloud")
		uri := "/api/vrfcontext/" + v["uuid"].(string)
		var vrf models.VrfContext
		must(t, a.c.AviSession.Get(uri, &vrf))
		vrf.StaticRoutes = append(vrf.StaticRoutes, &models.StaticRoute{RouteID: s("c1-1"),
			Prefix:  &models.IPAddrPrefix{IPAddr: &models.IPAddr{Addr: s("10.244.1.0"), Type: s("V4")}, Mask: ptr(int32(24))},
			NextHop: &models.IPAddr{Addr: s("192.168.1.10"), Type: s("V4")},
			Labels:  []*models.KeyValue{{Key: s("clustername"), Value: s("c1")}}})
		out := a.put(uri, &vrf)
		if len(out["static_routes"].([]any)) != 1 {
			t.Fatalf("routes %v", out["static_routes"])
		}
	})

	// --- L4 Service -----------------------------------------------------
	var vipUUID, poolUUID, vsUUID, l4psUUID string
	t.Run("L01 POST vsvip", func(t *testing.T) {
		v := a.post("/api/vsvip", doc{
			"name": "c1--default-web", "tenant_ref": "/api/tenant/?name=admin", "cloud_ref": "/api/cloud?name=Default-Cloud",
			"vrf_context_ref": "/api/vrfcontext?name=global", "east_west_placement": false,
			"vip":     []any{doc{"vip_id": "0", "auto_allocate_ip": true, "ipam_network_subnet": doc{"network_ref": "/api/network/?name=vip-net-a"}}},
			"markers": []any{doc{"key": "clustername", "values": []any{"c1"}}},
		})
		vipUUID = v["uuid"].(string)
		if v["vip"].([]any)[0].(doc)["ip_address"].(doc)["addr"] != "10.50.0.10" {
			t.Fatalf("vip %v", v["vip"])
		}
	})
	t.Run("L02 POST pool", func(t *testing.T) {
		p := a.post("/api/pool/", doc{
			"name": "c1--default-web-TCP-80", "tenant_ref": "/api/tenant/?name=admin", "cloud_ref": "/api/cloud?name=Default-Cloud",
			"vrf_ref": "/api/vrfcontext?name=global", "created_by": akoUser,
			"servers":             []any{doc{"ip": doc{"addr": "10.244.1.5", "type": "V4"}, "port": 8080}},
			"health_monitor_refs": []any{"/api/healthmonitor/?name=System-TCP"},
			"markers":             []any{doc{"key": "clustername", "values": []any{"c1"}}},
		})
		poolUUID = p["uuid"].(string)
	})
	t.Run("L03 POST l4policyset", func(t *testing.T) {
		ps := a.post("/api/l4policyset/", doc{
			"name": "c1--default-web", "tenant_ref": "/api/tenant/?name=admin", "created_by": akoUser,
			"l4_connection_policy": doc{"rules": []any{doc{"name": "rule-tcp-80", "index": 0, "enable": true,
				"match":  doc{"port": doc{"match_criteria": "IS_IN", "ports": []any{80}}, "protocol": doc{"match_criteria": "IS_IN", "protocol": "PROTOCOL_TCP"}},
				"action": doc{"select_pool": doc{"action_type": "L4_RULE_ACTION_SELECT_POOL", "pool_ref": "/api/pool?name=c1--default-web-TCP-80"}}}}},
		})
		l4psUUID = ps["uuid"].(string)
	})
	t.Run("L04 POST L4 virtualservice", func(t *testing.T) {
		vs := a.post("/api/virtualservice/", doc{
			"name": "c1--default-web", "created_by": akoUser, "cloud_ref": "/api/cloud?name=Default-Cloud",
			"tenant_ref": "/api/tenant/?name=admin", "application_profile_ref": "/api/applicationprofile/?name=System-L4-Application",
			"se_group_ref": "/api/serviceenginegroup?name=Default-Group", "vrf_context_ref": "/api/vrfcontext?name=global",
			"network_profile_ref": "/api/networkprofile/?name=System-TCP-Proxy", "vsvip_ref": "/api/vsvip/?name=c1--default-web",
			"east_west_placement": false, "service_metadata": `{"namespace":"default","svc_name":"web"}`,
			"services":    []any{doc{"port": 80, "port_range_end": 80, "enable_ssl": false, "enable_http2": false}},
			"l4_policies": []any{doc{"index": 0, "l4_policy_set_ref": "/api/l4policyset/?name=c1--default-web"}},
		})
		vsUUID = vs["uuid"].(string)
	})
	t.Run("L05 cache: virtual services of AKO", func(t *testing.T) {
		_, res := a.coll("/api/virtualservice/?include_name=true&cloud_ref.name=Default-Cloud&created_by=" + akoUser + "&page_size=100")
		if names(res) != "c1--default-web" || refName(t, res[0]["vsvip_ref"]) != "c1--default-web" ||
			refName(t, res[0]["l4_policies"].([]any)[0].(doc)["l4_policy_set_ref"]) != "c1--default-web" {
			t.Fatalf("vs %v", res)
		}
	})
	t.Run("L06 cache: VsVips by name prefix", func(t *testing.T) {
		_, res := a.coll("/api/vsvip/?name.contains=c1--&include_name=true&cloud_ref.name=Default-Cloud&page_size=100")
		if names(res) != "c1--default-web" || refName(t, res[0]["vrf_context_ref"]) != "global" {
			t.Fatalf("vsvips %v", res)
		}
	})
	t.Run("L07 cache: pools of AKO", func(t *testing.T) {
		_, res := a.coll("/api/pool/?&include_name=true&cloud_ref.name=Default-Cloud&created_by=" + akoUser + "&page_size=100")
		if names(res) != "c1--default-web-TCP-80" || refName(t, res[0]["health_monitor_refs"].([]any)[0]) != "System-TCP" {
			t.Fatalf("pools %v", res)
		}
	})
	t.Run("L08 cache: L4 policy sets of AKO", func(t *testing.T) {
		_, res := a.coll("/api/l4policyset/?&include_name=true&created_by=" + akoUser + "&page_size=100")
		if names(res) != "c1--default-web" {
			t.Fatalf("l4policysets %s", names(res))
		}
	})
	t.Run("L09 refresh one object by name", func(t *testing.T) {
		for _, uri := range []string{
			"/api/pool?name=c1--default-web-TCP-80&include_name=true&created_by=" + akoUser,
			"/api/l4policyset?name=c1--default-web&include_name=true&created_by=" + akoUser,
			"/api/vsvip?name=c1--default-web&cloud_ref.name=Default-Cloud&include_name=true",
			"/api/virtualservice?name=c1--default-web&cloud_ref.name=Default-Cloud&include_name=true&created_by=" + akoUser,
		} {
			a.one(uri)
		}
		// Another cluster's created_by sees nothing.
		if n, _ := a.coll("/api/pool?name=c1--default-web-TCP-80&include_name=true&created_by=ako-c2"); n != 0 {
			t.Fatalf("created_by ignored: %d", n)
		}
	})
	t.Run("L10 GET vsvip by uuid with include_name", func(t *testing.T) {
		v := a.get("/api/vsvip/" + vipUUID + "/?include_name")
		if refName(t, v["vip"].([]any)[0].(doc)["ipam_network_subnet"].(doc)["network_ref"]) != "vip-net-a" {
			t.Fatalf("vsvip %v", v)
		}
	})
	t.Run("L11 PUT vsvip as AKO builds it", func(t *testing.T) {
		// AKO re-reads the VsVip and sends vip 0 rebuilt with
		// auto_allocate_ip and the old ipam_network_subnet, but without
		// ip_address: avisim re-allocates (the pessimistic reading), so the
		// address moves.
		v := a.get("/api/vsvip/" + vipUUID + "/?include_name")
		old := v["vip"].([]any)[0].(doc)
		v["vip"] = []any{doc{"vip_id": "0", "auto_allocate_ip": true, "ipam_network_subnet": old["ipam_network_subnet"]}}
		v["dns_info"] = []any{doc{"fqdn": "web.avi.example.com"}}
		out := a.put("/api/vsvip/"+vipUUID, v)
		if got := out["vip"].([]any)[0].(doc)["ip_address"].(doc)["addr"]; got != "10.50.0.11" {
			t.Fatalf("address after PUT without ip_address: %v", got)
		}
	})
	t.Run("L12 PUT pool and virtualservice", func(t *testing.T) {
		p := a.get("/api/pool/" + poolUUID)
		p["servers"] = append(p["servers"].([]any), doc{"ip": doc{"addr": "10.244.2.7", "type": "V4"}, "port": 8080})
		if out := a.put("/api/pool/"+poolUUID, p); len(out["servers"].([]any)) != 2 {
			t.Fatalf("servers %v", out["servers"])
		}
		vs := a.get("/api/virtualservice/" + vsUUID)
		vs["services"] = append(vs["services"].([]any), doc{"port": 53, "port_range_end": 53, "override_network_profile_ref": "/api/networkprofile/?name=System-UDP-Fast-Path"})
		a.put("/api/virtualservice/"+vsUUID, vs)
	})
	t.Run("L13 DELETE in reverse order", func(t *testing.T) {
		var out doc
		// The pool is still used by the L4 policy set.
		wantAviErr(t, a.c.AviSession.Delete("/api/pool/"+poolUUID), http.StatusConflict, "'L4PolicySet c1--default-web'")
		for _, p := range []string{"/api/virtualservice/" + vsUUID, "/api/l4policyset/" + l4psUUID, "/api/pool/" + poolUUID, "/api/vsvip/" + vipUUID} {
			must(t, a.c.AviSession.Delete(p))
		}
		wantAviErr(t, a.c.AviSession.Get("/api/vsvip/"+vipUUID, &out), http.StatusNotFound, "not found")
	})

	// --- Ingress (shared L7 parent, SNI child, datascript) --------------
	t.Run("I01 POST parent vsvip with dns_info", func(t *testing.T) {
		a.post("/api/vsvip", doc{
			"name": "c1--Shared-L7-0", "tenant_ref": "/api/tenant/?name=admin", "cloud_ref": "/api/cloud?name=Default-Cloud",
			"vrf_context_ref": "/api/vrfcontext?name=global",
			"dns_info":        []any{doc{"fqdn": "foo.avi.example.com"}},
			"vip":             []any{doc{"vip_id": "0", "auto_allocate_ip": true, "ipam_network_subnet": doc{"network_ref": "/api/network/?name=vip-net-a"}}},
		})
	})
	t.Run("I02 POST pools and pool group", func(t *testing.T) {
		a.post("/api/pool/", doc{"name": "c1--default-foo.avi.example.com_-ing", "cloud_ref": "/api/cloud?name=Default-Cloud",
			"tenant_ref": "/api/tenant/?name=admin", "created_by": akoUser, "vrf_ref": "/api/vrfcontext?name=global",
			"ssl_profile_ref":     "/api/sslprofile?name=System-Standard",
			"health_monitor_refs": []any{"/api/healthmonitor/?name=System-HTTP"}})
		a.post("/api/poolgroup/", doc{"name": "c1--Shared-L7-0", "cloud_ref": "/api/cloud?name=Default-Cloud",
			"tenant_ref": "/api/tenant/?name=admin", "created_by": akoUser,
			"members": []any{doc{"pool_ref": "/api/pool?name=c1--default-foo.avi.example.com_-ing", "ratio": 100}}})
	})
	t.Run("I03 POST httppolicyset", func(t *testing.T) {
		a.post("/api/httppolicyset/", doc{"name": "c1--default-foo.avi.example.com_-ing", "tenant_ref": "/api/tenant/?name=admin", "created_by": akoUser,
			"http_request_policy": doc{"rules": []any{doc{"name": "r0", "index": 0, "enable": true,
				"match":            doc{"host_hdr": doc{"match_criteria": "HDR_EQUALS", "value": []any{"foo.avi.example.com"}}},
				"switching_action": doc{"action": "HTTP_SWITCHING_SELECT_POOLGROUP", "pool_group_ref": "/api/poolgroup/?name=c1--Shared-L7-0"}}}}})
	})
	t.Run("I04 POST vsdatascriptset", func(t *testing.T) {
		ds := a.post("/api/vsdatascriptset", doc{"name": "c1--Shared-L7-0", "tenant_ref": "/api/tenant/?name=admin", "created_by": akoUser,
			"pool_group_refs": []any{"/api/poolgroup/?name=c1--Shared-L7-0"},
			"datascript":      []any{doc{"evt": "VS_DATASCRIPT_EVT_HTTP_REQ", "script": "host = avi.http.get_host_tokens(1)"}},
			"markers":         []any{doc{"key": "clustername", "values": []any{"c1"}}}})
		if ds["created_by"] != akoUser {
			t.Fatalf("datascript %v", ds)
		}
	})
	t.Run("I05 POST shared parent: SSL port, no certificate", func(t *testing.T) {
		vs := a.post("/api/virtualservice/", doc{
			"name": "c1--Shared-L7-0", "created_by": akoUser, "type": "VS_TYPE_VH_PARENT", "cloud_ref": "/api/cloud?name=Default-Cloud",
			"tenant_ref": "/api/tenant/?name=admin", "application_profile_ref": "/api/applicationprofile/?name=System-Secure-HTTP",
			"network_profile_ref": "/api/networkprofile/?name=System-TCP-Proxy", "se_group_ref": "/api/serviceenginegroup?name=Default-Group",
			"vrf_context_ref": "/api/vrfcontext?name=global", "vsvip_ref": "/api/vsvip/?name=c1--Shared-L7-0",
			"pool_group_ref": "/api/poolgroup/?name=c1--Shared-L7-0",
			"services": []any{doc{"port": 80, "port_range_end": 80, "enable_ssl": false, "enable_http2": false},
				doc{"port": 443, "port_range_end": 443, "enable_ssl": true, "enable_http2": false}},
			"vs_datascripts": []any{doc{"index": 0, "vs_datascript_set_ref": "/api/vsdatascriptset/?name=c1--Shared-L7-0"}},
			"http_policies":  []any{doc{"index": 11, "http_policy_set_ref": "/api/httppolicyset/?name=c1--default-foo.avi.example.com_-ing"}},
		})
		got := a.get("/api/virtualservice/" + vs["uuid"].(string) + "?include_name")
		certs := got["ssl_key_and_certificate_refs"].([]any)
		if len(certs) != 2 || refName(t, certs[0]) != "System-Default-Cert" || refName(t, certs[1]) != "System-Default-Cert-EC" ||
			refName(t, got["ssl_profile_ref"]) != "System-Standard" {
			t.Fatalf("parent certificates %v, ssl profile %v", certs, got["ssl_profile_ref"])
		}
	})
	t.Run("I06 POST sslkeyandcertificate", func(t *testing.T) {
		rsa, _ := defaultCertificates()
		a.post("/api/sslkeyandcertificate", doc{"name": "c1--foo.avi.example.com", "tenant_ref": "/api/tenant/?name=admin", "created_by": akoUser,
			"type": "SSL_CERTIFICATE_TYPE_VIRTUALSERVICE", "certificate": doc{"certificate": rsa.cert}, "key": rsa.key})
	})
	t.Run("I07 POST SNI child", func(t *testing.T) {
		child := a.post("/api/virtualservice", doc{
			"name": "c1--foo.avi.example.com", "created_by": akoUser, "type": "VS_TYPE_VH_CHILD", "cloud_ref": "/api/cloud?name=Default-Cloud",
			"tenant_ref": "/api/tenant/?name=admin", "network_profile_ref": "/api/networkprofile/?name=System-TCP-Proxy",
			"application_profile_ref": "/api/applicationprofile/?name=System-Secure-HTTP", "east_west_placement": false,
			"se_group_ref": "/api/serviceenginegroup?name=Default-Group", "vrf_context_ref": "/api/vrfcontext?name=global",
			"vh_parent_vs_ref": "/api/virtualservice/?name=c1--Shared-L7-0", "vh_domain_name": []any{"foo.avi.example.com"},
			"ign_pool_net_reach": false, "error_page_profile_ref": "", "cloud_config_cksum": "123",
			"ssl_key_and_certificate_refs": []any{"/api/sslkeyandcertificate/?name=c1--foo.avi.example.com"},
			"pool_group_ref":               "/api/poolgroup/?name=c1--Shared-L7-0",
		})
		got := a.get("/api/virtualservice/" + child["uuid"].(string) + "?include_name")
		if refName(t, got["vh_parent_vs_ref"]) != "c1--Shared-L7-0" || refName(t, got["ssl_key_and_certificate_refs"].([]any)[0]) != "c1--foo.avi.example.com" {
			t.Fatalf("child %v", got)
		}
	})
	t.Run("I08 POST stringgroup with created_by marker", func(t *testing.T) {
		a.post("/api/stringgroup", doc{"name": "c1--regex-foo", "tenant_ref": "/api/tenant/?name=admin", "type": "SG_TYPE_STRING",
			"kv": []any{doc{"key": "/api/v[0-9]+"}}, "longest_match": true,
			"markers": []any{doc{"key": "clustername", "values": []any{"c1"}}, doc{"key": "created_by", "values": []any{akoUser}}}})
		a.post("/api/stringgroup", doc{"name": "c2--regex-foo", "tenant_ref": "/api/tenant/?name=admin", "type": "SG_TYPE_STRING",
			"markers": []any{doc{"key": "created_by", "values": []any{"ako-c2"}}}})
	})
	t.Run("I09 cache: string groups by label", func(t *testing.T) {
		_, res := a.coll("/api/stringgroup?&include_name=true&label_key=created_by&label_value=" + akoUser + "&page_size=100")
		if names(res) != "c1--regex-foo" {
			t.Fatalf("label filter: %s", names(res))
		}
		a.one("/api/stringgroup?name=c1--regex-foo&include_name=true&label_key=created_by&label_value=" + akoUser)
	})
	t.Run("I10 cache: datascripts, pool groups, policies, certificates of AKO", func(t *testing.T) {
		for uri, want := range map[string]string{
			"/api/vsdatascriptset/?&include_name=true&created_by=" + akoUser:                                          "c1--Shared-L7-0",
			"/api/poolgroup/?include_name=true&cloud_ref.name=Default-Cloud&created_by=" + akoUser + "&page_size=100": "c1--Shared-L7-0",
			"/api/httppolicyset/?&include_name=true&created_by=" + akoUser + "&page_size=100":                         "c1--default-foo.avi.example.com_-ing",
			"/api/sslkeyandcertificate/?&include_name=true&created_by=" + akoUser + "&page_size=100":                  "c1--foo.avi.example.com",
			"/api/pkiprofile/?&include_name=true&created_by=" + akoUser + "&page_size=100":                            "",
		} {
			if _, res := a.coll(uri); names(res) != want {
				t.Fatalf("%s: %q, want %q", uri, names(res), want)
			}
		}
		ds := a.one("/api/vsdatascriptset?name=c1--Shared-L7-0&include_name=true&created_by=" + akoUser)
		if refName(t, ds["pool_group_refs"].([]any)[0]) != "c1--Shared-L7-0" {
			t.Fatalf("datascript %v", ds)
		}
		a.one("/api/poolgroup?name=c1--Shared-L7-0&include_name=true&created_by=" + akoUser)
		hps := a.one("/api/httppolicyset?name=c1--default-foo.avi.example.com_-ing&include_name=true&created_by=" + akoUser)
		a.get("/api/httppolicyset/" + hps["uuid"].(string))
		a.one("/api/sslkeyandcertificate?name=c1--foo.avi.example.com&include_name=true&created_by=" + akoUser)
	})
	t.Run("I11 AKO-made profiles and monitors", func(t *testing.T) {
		// Persistence profile (HTTPRule), PKI profile (HTTPRule
		// re-encrypt), proxy-protocol application profile and TCP
		// half-open monitor (advanced L4), as AKO creates and reads them.
		a.post("/api/applicationpersistenceprofile", doc{"name": "c1--default-persist", "tenant_ref": "/api/tenant/?name=admin",
			"persistence_type": "PERSISTENCE_TYPE_HTTP_COOKIE", "http_cookie_persistence_profile": doc{"cookie_name": "c1"}})
		_, res := a.coll("/api/applicationpersistenceprofile/?name.contains=c1--&include_name=true&page_size=100")
		if names(res) != "c1--default-persist" {
			t.Fatalf("persistence %s", names(res))
		}
		a.one("/api/applicationpersistenceprofile?name=c1--default-persist&include_name=true")
		rsa, _ := defaultCertificates()
		a.post("/api/sslkeyandcertificate", doc{"name": "c1--ca", "tenant_ref": "/api/tenant/?name=admin", "type": "SSL_CERTIFICATE_TYPE_CA",
			"certificate": doc{"certificate": rsa.cert}, "created_by": akoUser})
		a.post("/api/pkiprofile", doc{"name": "c1--default-pki", "tenant_ref": "/api/tenant/?name=admin", "created_by": akoUser,
			"ca_certs": []any{doc{"certificate": rsa.cert}}, "crl_check": false})
		a.one("/api/pkiprofile?name=c1--default-pki&include_name=true&created_by=" + akoUser)
		ap := a.post("/api/applicationprofile", doc{"name": "c1--proxy-protocol", "tenant_ref": "/api/tenant/?name=admin", "created_by": akoUser,
			"type": "APPLICATION_PROFILE_TYPE_L4", "tcp_app_profile": doc{"proxy_protocol_enabled": true}})
		a.one("/api/applicationprofile/?name=c1--proxy-protocol")
		a.put("/api/applicationprofile/"+ap["uuid"].(string), ap)
		hm := a.post("/api/healthmonitor", doc{"name": "c1--tcp-half-open", "tenant_ref": "/api/tenant/?name=admin",
			"type": "HEALTH_MONITOR_TCP", "tcp_monitor": doc{"tcp_half_open": true}})
		a.one("/api/healthmonitor/?name=c1--tcp-half-open")
		a.put("/api/healthmonitor/"+hm["uuid"].(string), hm)
	})

	t.Run("I12 TLS passthrough datascript", func(t *testing.T) {
		ds := a.post("/api/vsdatascriptset", doc{"name": "c1--Shared-Passthrough-0-L4", "tenant_ref": "/api/tenant/?name=admin", "created_by": akoUser,
			"datascript":           []any{doc{"evt": "VS_DATASCRIPT_EVT_L4_REQUEST", "script": "-- passthrough"}},
			"protocol_parser_refs": []any{"/api/protocolparser/?name=Default-TLS"}})
		got := a.get("/api/vsdatascriptset/" + ds["uuid"].(string) + "?include_name")
		if refName(t, got["protocol_parser_refs"].([]any)[0]) != "Default-TLS" {
			t.Fatalf("datascript %v", got)
		}
	})

	// --- Rule CRDs: reference checks and the references they produce -----
	refChecks := []struct {
		typ, name string
		check     func(doc) bool
	}{
		{"sslkeyandcertificate", "System-Default-Cert", func(d doc) bool { return d["type"] == "SSL_CERTIFICATE_TYPE_VIRTUALSERVICE" }},
		{"wafpolicy", "System-WAF-Policy", nil},
		{"wafpolicy", "demo-waf", nil},
		{"httppolicyset", "c1--default-foo.avi.example.com_-ing", func(d doc) bool { return d["created_by"] == akoUser }},
		{"sslprofile", "System-Standard", nil},
		{"applicationprofile", "System-HTTP", func(d doc) bool { return d["type"] == "APPLICATION_PROFILE_TYPE_HTTP" }},
		{"applicationprofile", "demo-http", func(d doc) bool { return d["type"] == "APPLICATION_PROFILE_TYPE_HTTP" }},
		{"applicationprofile", "System-L4-Application", func(d doc) bool { return d["type"] == "APPLICATION_PROFILE_TYPE_L4" }},
		{"applicationprofile", "System-SSL-Application", func(d doc) bool { return d["type"] == "APPLICATION_PROFILE_TYPE_SSL" }},
		{"analyticsprofile", "System-Analytics-Profile", nil},
		{"errorpageprofile", "Custom-Error-Page-Profile", nil},
		{"vsdatascriptset", "Default-FULL-FTP", nil},
		{"healthmonitor", "System-HTTP", func(d doc) bool { return d["type"] == "HEALTH_MONITOR_HTTP" }},
		{"applicationpersistenceprofile", "System-Persistence-Http-Cookie", nil},
		{"pkiprofile", "c1--default-pki", func(d doc) bool { return d["created_by"] == akoUser }},
		{"serviceenginegroup", "edge-seg", func(d doc) bool { return len(d["labels"].([]any)) == 1 }},
		{"network", "vip-net-b", nil},
		{"networkprofile", "System-UDP-Fast-Path", nil},
	}
	for _, rc := range refChecks {
		t.Run("X01 ref check "+rc.typ+" "+rc.name, func(t *testing.T) {
			d := a.one("/api/" + rc.typ + "?name=" + url.QueryEscape(rc.name) + "&fields=name,type,labels,created_by")
			if d["name"] != rc.name || d["uuid"] == nil || d["url"] == nil {
				t.Fatalf("%v", d)
			}
			for k := range d {
				if !strings.Contains(" name type labels created_by uuid url ", " "+k+" ") {
					t.Fatalf("field %s returned for fields=name,type,labels,created_by", k)
				}
			}
			if rc.check != nil && !rc.check(d) {
				t.Fatalf("%v", d)
			}
		})
	}
	t.Run("X01 ref check of a missing object", func(t *testing.T) {
		for _, typ := range []string{"wafpolicy", "ssopolicy", "authprofile", "icapprofile", "securitypolicy", "networksecuritypolicy", "botdetectionpolicy", "trafficcloneprofile", "errorpageprofile"} {
			if n, _ := a.coll("/api/" + typ + "?name=nope&fields=name,type,labels,created_by"); n != 0 {
				t.Fatalf("%s nope: %d", typ, n)
			}
		}
	})
	t.Run("X02 network profile type for L4Rule SSL", func(t *testing.T) {
		d := a.one("/api/networkprofile?name=System-TCP-Proxy&fields=name,profile,labels,created_by")
		if d["profile"].(doc)["type"] != "PROTOCOL_TYPE_TCP_PROXY" {
			t.Fatalf("%v", d)
		}
		d = a.one("/api/networkprofile?name=System-TCP-Fast-Path&fields=name,profile,labels,created_by")
		if d["profile"].(doc)["type"] != "PROTOCOL_TYPE_TCP_FAST_PATH" {
			t.Fatalf("%v", d)
		}
	})
	t.Run("X03 network by uuid for AviInfraSetting", func(t *testing.T) {
		a.get("/api/network/" + netUUID + "?cloud_uuid=" + cloudUUID)
	})
	t.Run("X04 HostRule references on the SNI child", func(t *testing.T) {
		child := a.one("/api/virtualservice?name=c1--foo.avi.example.com&cloud_ref.name=Default-Cloud&include_name=true&created_by=" + akoUser)
		child["waf_policy_ref"] = "/api/wafpolicy?name=demo-waf"
		child["application_profile_ref"] = "/api/applicationprofile?name=demo-http"
		child["error_page_profile_ref"] = "/api/errorpageprofile?name=Custom-Error-Page-Profile"
		child["analytics_profile_ref"] = "/api/analyticsprofile?name=System-Analytics-Profile"
		child["ssl_profile_ref"] = "/api/sslprofile?name=System-Standard"
		child["vs_datascripts"] = []any{doc{"index": 0, "vs_datascript_set_ref": "/api/vsdatascriptset?name=Default-FULL-FTP"}}
		child["ssl_key_and_certificate_refs"] = []any{"/api/sslkeyandcertificate?name=System-Default-Cert", "/api/sslkeyandcertificate?name=System-Default-Cert-EC"}
		out := a.put("/api/virtualservice/"+child["uuid"].(string)+"?include_name", child)
		if refName(t, out["waf_policy_ref"]) != "demo-waf" || refName(t, out["error_page_profile_ref"]) != "Custom-Error-Page-Profile" {
			t.Fatalf("child %v", out)
		}
		// A referenced WAF policy cannot be deleted.
		waf := a.one("/api/wafpolicy?name=demo-waf")
		wantAviErr(t, a.c.AviSession.Delete("/api/wafpolicy/"+waf["uuid"].(string)), http.StatusConflict, "'VirtualService c1--foo.avi.example.com'")
	})
	t.Run("X05 HTTPRule references on a pool", func(t *testing.T) {
		p := a.one("/api/pool?name=c1--default-foo.avi.example.com_-ing&include_name=true&created_by=" + akoUser)
		p["application_persistence_profile_ref"] = "/api/applicationpersistenceprofile?name=System-Persistence-Http-Cookie"
		p["pki_profile_ref"] = "/api/pkiprofile?name=c1--default-pki"
		p["health_monitor_refs"] = []any{"/api/healthmonitor?name=System-HTTPS", "/api/healthmonitor?name=c1--tcp-half-open"}
		p["lb_algorithm"] = "LB_ALGORITHM_CONSISTENT_HASH"
		out := a.put("/api/pool/"+p["uuid"].(string)+"?include_name", p)
		if refName(t, out["pki_profile_ref"]) != "c1--default-pki" {
			t.Fatalf("pool %v", out)
		}
	})
}
