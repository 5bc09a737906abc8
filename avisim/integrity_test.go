package avisim

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/vmware/alb-sdk/go/models"
	"github.com/vmware/alb-sdk/go/session"
)

// TestRequiredFieldsAndEnums: a required field without a default is a 400,
// one with a default gets the controller's default, and the enumerated type
// fields take only their enum's values.
func TestRequiredFieldsAndEnums(t *testing.T) {
	sim := startSim(t, DemoSeed())
	sess := newClient(t, sim).AviSession
	refused := []struct {
		typ  string
		body map[string]any
		msg  string
	}{
		{"applicationprofile", map[string]any{"name": "x"}, "Field 'type' is required"},
		{"healthmonitor", map[string]any{"name": "x"}, "Field 'type' is required"},
		{"networkprofile", map[string]any{"name": "x"}, "Field 'profile' is required"},
		{"wafpolicy", map[string]any{"name": "x"}, "Field 'waf_profile_ref' is required"},
		{"sslkeyandcertificate", map[string]any{"name": "x"}, "Field 'certificate' is required"},
		{"ipamdnsproviderprofile", map[string]any{"name": "x"}, "Field 'type' is required"},
		{"errorpagebody", map[string]any{"name": "x"}, "Field 'error_page_body' is required"},
		{"applicationprofile", map[string]any{"name": "x", "type": "HTTP"}, "Invalid value 'HTTP' for field 'type': expected one of APPLICATION_PROFILE_TYPE_L4, APPLICATION_PROFILE_TYPE_HTTP, APPLICATION_PROFILE_TYPE_SYSLOG, APPLICATION_PROFILE_TYPE_DNS, APPLICATION_PROFILE_TYPE_SSL, APPLICATION_PROFILE_TYPE_SIP"},
		{"healthmonitor", map[string]any{"name": "x", "type": "TCP"}, "Invalid value 'TCP' for field 'type'"},
		{"networkprofile", map[string]any{"name": "x", "profile": map[string]any{"type": "TCP_PROXY"}}, "Invalid value 'TCP_PROXY' for field 'profile.type'"},
		{"stringgroup", map[string]any{"name": "x", "type": "SG_TYPE_REGEX"}, "Invalid value 'SG_TYPE_REGEX' for field 'type': expected one of SG_TYPE_STRING, SG_TYPE_KEYVAL"},
		{"virtualservice", map[string]any{"name": "x", "type": "VS_TYPE_VH_SNI"}, "Invalid value 'VS_TYPE_VH_SNI' for field 'type'"},
		{"cloud", map[string]any{"name": "x", "license_tier": "GOLD"}, "Invalid value 'GOLD' for field 'license_tier'"},
	}
	for _, tc := range refused {
		t.Run(tc.typ+" "+tc.msg, func(t *testing.T) {
			var out any
			wantAviErr(t, sess.Post("api/"+tc.typ, tc.body, &out), http.StatusBadRequest, tc.msg)
		})
	}
	defaulted := []struct {
		typ   string
		body  map[string]any
		field string
		want  string
	}{
		{"stringgroup", map[string]any{"name": "sg"}, "type", "SG_TYPE_STRING"},
		{"wafpolicy", map[string]any{"name": "wp", "waf_profile_ref": "/api/wafprofile/?name=System-WAF-Profile"}, "mode", "WAF_MODE_DETECTION_ONLY"},
		{"cloud", map[string]any{"name": "c"}, "vtype", "CLOUD_NONE"},
		{"cloud", map[string]any{"name": "c2"}, "license_tier", "ENTERPRISE"},
		{"applicationpersistenceprofile", map[string]any{"name": "ap"}, "persistence_type", "PERSISTENCE_TYPE_CLIENT_IP_ADDRESS"},
		{"networkprofile", map[string]any{"name": "np", "profile": map[string]any{}}, "profile.type", "PROTOCOL_TYPE_TCP_PROXY"},
		{"serviceenginegroup", map[string]any{"name": "seg"}, "license_tier", "ENTERPRISE"},
	}
	for _, tc := range defaulted {
		t.Run(tc.typ+" default "+tc.field, func(t *testing.T) {
			var out map[string]any
			must(t, sess.Post("api/"+tc.typ, tc.body, &out))
			var got map[string]any
			must(t, sess.Get("api/"+tc.typ+"/"+out["uuid"].(string), &got))
			vals := valuesAt(got, strings.Split(tc.field, "."))
			if len(vals) != 1 || vals[0] != tc.want {
				t.Fatalf("%s = %v, want %s", tc.field, vals, tc.want)
			}
		})
	}
}

// TestDuplicateNames: a name already used in the tenant for that type is a
// 409 on POST, for every type; admin's shared objects (System-*) hold
// their names in every tenant.
func TestDuplicateNames(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	sess := c.AviSession
	bodies := map[string]map[string]any{
		"pool":                 {"name": "dup"},
		"poolgroup":            {"name": "dup"},
		"vsvip":                {"name": "dup", "vip": []any{map[string]any{"vip_id": "0", "auto_allocate_ip": true}}},
		"virtualservice":       {"name": "dup"},
		"httppolicyset":        {"name": "dup"},
		"l4policyset":          {"name": "dup"},
		"vsdatascriptset":      {"name": "dup"},
		"stringgroup":          {"name": "dup"},
		"wafpolicy":            {"name": "dup", "waf_profile_ref": "/api/wafprofile/?name=System-WAF-Profile"},
		"errorpageprofile":     {"name": "dup"},
		"sslkeyandcertificate": {"name": "dup", "certificate": map[string]any{"certificate": "x"}},
		"applicationprofile":   {"name": "dup", "type": "APPLICATION_PROFILE_TYPE_L4"},
		"healthmonitor":        {"name": "dup", "type": "HEALTH_MONITOR_TCP"},
		"pkiprofile":           {"name": "dup"},
	}
	for _, typ := range sortedKeysOf(bodies) {
		t.Run(typ, func(t *testing.T) {
			var out map[string]any
			must(t, sess.Post("api/"+typ, bodies[typ], &out))
			err := sess.Post("api/"+typ, bodies[typ], &out)
			wantAviErr(t, err, http.StatusConflict, kinds[typ].display+" with this Name and Tenant ref already exists.")
		})
	}
	var out map[string]any
	wantAviErr(t, sess.Post("api/applicationprofile", map[string]any{"name": "System-HTTP", "type": "APPLICATION_PROFILE_TYPE_HTTP"}, &out),
		http.StatusConflict, "ApplicationProfile with this Name and Tenant ref already exists.")
	_, err := c.Tenant.Create(tenantModel("team"))
	must(t, err)
	inTeam := session.SetOptTenant("team")
	// A tenant's own pool may reuse an admin pool's name; not a shared
	// profile's.
	var pool map[string]any
	must(t, sess.Post("api/pool", map[string]any{"name": "dup"}, &pool, inTeam))
	wantAviErr(t, sess.Post("api/healthmonitor", map[string]any{"name": "System-TCP", "type": "HEALTH_MONITOR_TCP"}, &out, inTeam),
		http.StatusConflict, "HealthMonitor with this Name already exists in the admin tenant.")
}

func sortedKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestDeleteReferenced: an object another refers to cannot be deleted
// (409, naming the referrer); once the referrer is gone it can.
func TestDeleteReferenced(t *testing.T) {
	sim := startSim(t, DemoSeed())
	sess := newClient(t, sim).AviSession
	post := func(t *testing.T, typ string, body map[string]any) string {
		t.Helper()
		var out map[string]any
		must(t, sess.Post("api/"+typ, body, &out))
		return out["uuid"].(string)
	}
	cases := []struct {
		typ      string
		body     map[string]any
		refTyp   string
		referrer func(i int) map[string]any
	}{
		{"pool", map[string]any{"name": "p"}, "poolgroup", func(i int) map[string]any {
			return map[string]any{"name": fmt.Sprint("pg", i), "members": []any{map[string]any{"pool_ref": "/api/pool/?name=p"}}}
		}},
		{"poolgroup", map[string]any{"name": "g"}, "vsdatascriptset", func(i int) map[string]any {
			return map[string]any{"name": fmt.Sprint("ds", i), "pool_group_refs": []any{"/api/poolgroup/?name=g"}}
		}},
		{"vsdatascriptset", map[string]any{"name": "d"}, "virtualservice", func(i int) map[string]any {
			return map[string]any{"name": fmt.Sprint("vs", i), "vs_datascripts": []any{map[string]any{"index": 0, "vs_datascript_set_ref": "/api/vsdatascriptset/?name=d"}}}
		}},
		{"stringgroup", map[string]any{"name": "sg"}, "httppolicyset", func(i int) map[string]any {
			return map[string]any{"name": fmt.Sprint("hp", i), "http_request_policy": map[string]any{"rules": []any{map[string]any{"name": "r", "index": 0,
				"match": map[string]any{"path": map[string]any{"match_criteria": "BEGINS_WITH", "string_group_refs": []any{"/api/stringgroup/?name=sg"}}}}}}}
		}},
		{"wafpolicy", map[string]any{"name": "w", "waf_profile_ref": "/api/wafprofile/?name=System-WAF-Profile"}, "virtualservice", func(i int) map[string]any {
			return map[string]any{"name": fmt.Sprint("vs", i), "waf_policy_ref": "/api/wafpolicy/?name=w"}
		}},
		{"errorpageprofile", map[string]any{"name": "e"}, "virtualservice", func(i int) map[string]any {
			return map[string]any{"name": fmt.Sprint("vs", i), "error_page_profile_ref": "/api/errorpageprofile/?name=e"}
		}},
		{"applicationprofile", map[string]any{"name": "a", "type": "APPLICATION_PROFILE_TYPE_HTTP"}, "virtualservice", func(i int) map[string]any {
			return map[string]any{"name": fmt.Sprint("vs", i), "application_profile_ref": "/api/applicationprofile/?name=a"}
		}},
		{"healthmonitor", map[string]any{"name": "h", "type": "HEALTH_MONITOR_TCP"}, "pool", func(i int) map[string]any {
			return map[string]any{"name": fmt.Sprint("pool", i), "health_monitor_refs": []any{"/api/healthmonitor/?name=h"}}
		}},
		{"pkiprofile", map[string]any{"name": "k"}, "pool", func(i int) map[string]any {
			return map[string]any{"name": fmt.Sprint("pool", i), "pki_profile_ref": "/api/pkiprofile/?name=k"}
		}},
		{"applicationpersistenceprofile", map[string]any{"name": "ps"}, "pool", func(i int) map[string]any {
			return map[string]any{"name": fmt.Sprint("pool", i), "application_persistence_profile_ref": "/api/applicationpersistenceprofile/?name=ps"}
		}},
		{"sslkeyandcertificate", map[string]any{"name": "c", "certificate": map[string]any{"certificate": "x"}}, "virtualservice", func(i int) map[string]any {
			return map[string]any{"name": fmt.Sprint("vs", i), "ssl_key_and_certificate_refs": []any{"/api/sslkeyandcertificate/?name=c"}}
		}},
		{"wafprofile", map[string]any{"name": "wf", "config": map[string]any{}}, "wafpolicy", func(i int) map[string]any {
			return map[string]any{"name": fmt.Sprint("wp", i), "waf_profile_ref": "/api/wafprofile/?name=wf"}
		}},
	}
	for i, tc := range cases {
		t.Run(tc.typ+" used by "+tc.refTyp, func(t *testing.T) {
			target := post(t, tc.typ, tc.body)
			body := tc.referrer(i)
			referrer := post(t, tc.refTyp, body)
			want := fmt.Sprintf("Cannot delete, object is referred by: ['%s %s']", kinds[tc.refTyp].display, body["name"])
			wantAviErr(t, sess.Delete("api/"+tc.typ+"/"+target), http.StatusConflict, want)
			must(t, sess.Delete("api/"+tc.refTyp+"/"+referrer))
			must(t, sess.Delete("api/"+tc.typ+"/"+target))
		})
	}
	// System objects are protected the same way while used.
	var hm map[string]any
	must(t, sess.Get("api/healthmonitor?name=System-TCP", &hm))
	uuid := hm["results"].([]any)[0].(map[string]any)["uuid"].(string)
	post(t, "pool", map[string]any{"name": "uses-system-tcp", "health_monitor_refs": []any{"/api/healthmonitor/?name=System-TCP"}})
	wantAviErr(t, sess.Delete("api/healthmonitor/"+uuid), http.StatusConflict, "Cannot delete, object is referred by: ['Pool uses-system-tcp']")
}

func tenantModel(name string) *models.Tenant { return &models.Tenant{Name: s(name)} }
