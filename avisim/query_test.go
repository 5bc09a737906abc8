package avisim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/vmware/alb-sdk/go/models"
)

// TestQueryFilters: the controller's collection options and field filters
// as AKO and vipgate send them, and a 400 for a query avisim cannot
// answer faithfully (an ignored filter would return every object).
func TestQueryFilters(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	sess := c.AviSession
	p1, err := c.Pool.Create(&models.Pool{Name: s("web-a"), CreatedBy: s("ako-c1"), LbAlgorithm: s("LB_ALGORITHM_ROUND_ROBIN"), Enabled: b(true),
		Markers: []*models.RoleFilterMatchLabel{{Key: s("created_by"), Values: []string{"ako-c1"}}}})
	must(t, err)
	_, err = c.Pool.Create(&models.Pool{Name: s("Web-B"), CreatedBy: s("ako-c2"), Enabled: b(false),
		Markers: []*models.RoleFilterMatchLabel{{Key: s("created_by"), Values: []string{"ako-c2"}}, {Key: s("team"), Values: []string{"x"}}}})
	must(t, err)
	p3, err := c.Pool.Create(&models.Pool{Name: s("db"), VrfRef: s("/api/vrfcontext/?name=global")})
	must(t, err)
	pg, err := c.PoolGroup.Create(&models.PoolGroup{Name: s("pg"), Members: []*models.PoolGroupMember{{PoolRef: p1.URL}}})
	must(t, err)
	vip, err := c.VsVip.Create(vsvip("v", "vip-net-a", ""))
	must(t, err)
	_, err = c.VirtualService.Create(&models.VirtualService{Name: s("parent"), Type: s("VS_TYPE_VH_PARENT"), VsvipRef: vip.URL, PoolRef: p3.URL})
	must(t, err)
	_, err = c.VirtualService.Create(&models.VirtualService{Name: s("normal"), VsvipRef: vip.URL})
	must(t, err)

	list := func(t *testing.T, uri string) string {
		t.Helper()
		raw, err := sess.GetCollectionRaw(uri)
		must(t, err)
		var res []map[string]any
		must(t, json.Unmarshal(raw.Results, &res))
		var out []string
		for _, r := range res {
			out = append(out, r["name"].(string))
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		name, uri, want string
	}{
		{"everything, sorted by name", "api/pool", "Web-B,db,web-a"},
		{"name.in", "api/pool?name.in=db,web-a,nope", "db,web-a"},
		{"uuid.in", "api/pool?uuid.in=" + *p1.UUID + "," + *p3.UUID, "db,web-a"},
		{"name.icontains", "api/pool?name.icontains=WEB", "Web-B,web-a"},
		{"name.contains is case sensitive", "api/pool?name.contains=web", "web-a"},
		{"created_by", "api/pool?created_by=ako-c1", "web-a"},
		{"enum field", "api/pool?lb_algorithm=LB_ALGORITHM_ROUND_ROBIN", "web-a"},
		{"bool field", "api/pool?enabled=false", "Web-B"},
		{"field.in", "api/pool?created_by.in=ako-c1,ako-c2", "Web-B,web-a"},
		{"field.contains", "api/pool?created_by.contains=c2", "Web-B"},
		{"ref field by name", "api/pool?vrf_ref.name=global", "db"},
		{"ref field by uuid", "api/pool?cloud_ref.uuid=" + uuidOfRef(*p3.CloudRef), "Web-B,db,web-a"},
		{"ref field by reference", "api/virtualservice?pool_ref=" + *p3.URL, "parent"},
		{"cloud_uuid", "api/pool?cloud_uuid=" + uuidOfRef(*p3.CloudRef) + "&created_by=ako-c2", "Web-B"},
		{"type", "api/virtualservice?type=VS_TYPE_VH_PARENT", "parent"},
		{"label_key and label_value", "api/pool?label_key=created_by&label_value=ako-c2", "Web-B"},
		{"label_key alone", "api/pool?label_key=team", "Web-B"},
		{"refers_to", "api/poolgroup?refers_to=pool:" + *p1.UUID, "pg"},
		{"referred_by", "api/pool?referred_by=poolgroup:" + *pg.UUID, "web-a"},
		{"SE group labels", "api/serviceenginegroup?label_key=tier&label_value=edge", "edge-seg"},
		{"skip_default is accepted", "api/pool?skip_default=true&name=db", "db"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(t, tc.uri); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}

	errs := []struct {
		name, uri, msg string
	}{
		{"unknown parameter", "api/pool?bogus=1", "Unknown query parameter 'bogus' (pool has no field 'bogus')"},
		{"created_by on a type without it", "api/vsvip?created_by=ako-c1", "Unknown query parameter 'created_by' (vsvip has no field 'created_by')"},
		{"unknown operator", "api/pool?name.startswith=w", "Unknown query parameter 'name.startswith'"},
		{"ref operator on a scalar", "api/pool?created_by.name=x", "Unknown query parameter 'created_by.name'"},
		{"non-scalar field", "api/pool?servers=10.0.0.1", "Query parameter 'servers': filtering on field 'servers' of pool is not supported by avisim"},
		{"sort is not implemented", "api/pool?sort=name", "Query parameter 'sort' is not implemented by avisim"},
		{"search is not implemented", "api/pool?search=(name,web)", "Query parameter 'search' is not implemented by avisim"},
		{"label_value without label_key", "api/pool?label_value=x", "label_value needs label_key"},
		{"cloud filter on a type without cloud", "api/httppolicyset?cloud_ref.name=Default-Cloud", "Unknown query parameter 'cloud_ref.name' (httppolicyset has no field 'cloud_ref')"},
		{"cloud_uuid on a type without cloud", "api/httppolicyset?cloud_uuid=x", "Cannot filter httppolicyset by cloud_uuid: the type has no cloud_ref"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sess.GetCollectionRaw(tc.uri)
			wantAviErr(t, err, http.StatusBadRequest, tc.msg)
		})
	}
}

// TestIncludeName: the controller treats the key's presence as the
// request; "#name" follows every reference and the object's url.
func TestIncludeName(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	cl, err := c.Cloud.GetByName("Default-Cloud")
	must(t, err)
	cases := []struct {
		query string
		named bool
	}{
		{"include_name", true},
		{"include_name=true", true},
		{"include_name=", true},
		{"include_name=false", true},
		{"fields=name", false},
		{"", false},
	}
	for _, tc := range cases {
		t.Run("collection "+tc.query, func(t *testing.T) {
			raw, err := c.AviSession.GetCollectionRaw("api/network?name=vip-net-a&" + tc.query)
			must(t, err)
			named := strings.Contains(string(raw.Results), "#global") && strings.Contains(string(raw.Results), "#Default-Cloud")
			if tc.query == "fields=name" {
				named = strings.Contains(string(raw.Results), "#")
			}
			if named != tc.named {
				t.Fatalf("names %v, want %v: %s", named, tc.named, raw.Results)
			}
		})
		t.Run("object "+tc.query, func(t *testing.T) {
			var out map[string]any
			must(t, c.AviSession.Get("api/cloud/"+*cl.UUID+"?"+tc.query, &out))
			if strings.HasSuffix(out["url"].(string), "#Default-Cloud") != tc.named {
				t.Fatalf("url %v", out["url"])
			}
		})
	}
}

// TestObjectQueries: calls on one object take include_name, fields,
// skip_default (and cloud_uuid on GET); anything else is a 400, and
// fields always returns name, url and uuid.
func TestObjectQueries(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	p, err := c.Pool.Create(&models.Pool{Name: s("p"), Description: s("d")})
	must(t, err)
	var out map[string]any
	must(t, c.AviSession.Get("api/pool/"+*p.UUID+"?fields=description", &out))
	if len(out) != 4 || out["name"] != "p" || out["description"] != "d" || out["uuid"] != *p.UUID || out["url"] != *p.URL {
		t.Fatalf("fields=description: %v", out)
	}
	cases := []struct {
		name string
		do   func() error
		code int
		msg  string
	}{
		{"GET unknown parameter", func() error { return c.AviSession.Get("api/pool/"+*p.UUID+"?bogus=1", &out) }, 400, "Unknown query parameter 'bogus'"},
		{"GET join_subresources", func() error { return c.AviSession.Get("api/pool/"+*p.UUID+"?join_subresources=runtime", &out) }, 400, "Query parameter 'join_subresources' is not implemented by avisim"},
		{"GET cloud_uuid of another cloud", func() error { return c.AviSession.Get("api/pool/"+*p.UUID+"?cloud_uuid=cloud-x", &out) }, 404, "pool object with uuid " + *p.UUID + " not found"},
		{"POST unknown parameter", func() error { return c.AviSession.Post("api/pool?dry_run=1", map[string]any{"name": "q"}, &out) }, 400, "Unknown query parameter 'dry_run'"},
		{"PUT unknown parameter", func() error { return c.AviSession.Put("api/pool/"+*p.UUID+"?force=1", p, &out) }, 400, "Unknown query parameter 'force'"},
		{"DELETE unknown parameter", func() error { return c.AviSession.Delete("api/pool/" + *p.UUID + "?force=true") }, 400, "Unknown query parameter 'force'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantAviErr(t, tc.do(), tc.code, tc.msg) })
	}
	must(t, c.AviSession.Get("api/pool/"+*p.UUID+"?cloud_uuid="+uuidOfRef(*p.CloudRef)+"&skip_default=true", &out))
}

// A listing's pages come from one filtered and sorted copy of the
// collection (listCache); a write between two pages must show in the next.
func TestListPagesSeeWritesBetweenPages(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	for _, n := range []string{"pg-a1", "pg-a2", "pg-a3", "pg-a4"} {
		_, err := c.Pool.Create(&models.Pool{Name: s(n), CreatedBy: s("pages")})
		must(t, err)
	}
	page := func(p int) (int, []string) {
		t.Helper()
		res, err := c.AviSession.GetCollectionRaw(fmt.Sprintf("api/pool?created_by=pages&page_size=2&page=%d", p))
		must(t, err)
		var objs []struct{ Name string }
		must(t, json.Unmarshal(res.Results, &objs))
		var names []string
		for _, o := range objs {
			names = append(names, o.Name)
		}
		return res.Count, names
	}
	if n, names := page(1); n != 4 || !slices.Equal(names, []string{"pg-a1", "pg-a2"}) {
		t.Fatalf("page 1 = %d %v, want 4 [pg-a1 pg-a2]", n, names)
	}
	_, err := c.Pool.Create(&models.Pool{Name: s("pg-a0"), CreatedBy: s("pages")})
	must(t, err)
	if n, names := page(2); n != 5 || !slices.Equal(names, []string{"pg-a2", "pg-a3"}) {
		t.Errorf("page 2 after a create = %d %v, want 5 [pg-a2 pg-a3]", n, names)
	}
	must(t, c.Pool.DeleteByName("pg-a0"))
	if n, names := page(2); n != 4 || !slices.Equal(names, []string{"pg-a3", "pg-a4"}) {
		t.Errorf("page 2 after a delete = %d %v, want 4 [pg-a3 pg-a4]", n, names)
	}
}
