package avisim

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/vmware/alb-sdk/go/models"
	"github.com/vmware/alb-sdk/go/session"
)

// TestSystemObjects: the objects a fresh controller ships exist on every
// seed, with the type fields clients read (AKO's rule CRD checks read
// applicationprofile.type and networkprofile.profile.type).
func TestSystemObjects(t *testing.T) {
	for _, seed := range []*Seed{nil, DemoSeed(), AWSSeed(), tierSeed(tierEssentials)} {
		sim, err := New(Options{Seed: seed})
		must(t, err)
		want := []struct{ typ, name, field, value string }{
			{"applicationprofile", "System-HTTP", "type", "APPLICATION_PROFILE_TYPE_HTTP"},
			{"applicationprofile", "System-Secure-HTTP", "type", "APPLICATION_PROFILE_TYPE_HTTP"},
			{"applicationprofile", "System-L4-Application", "type", "APPLICATION_PROFILE_TYPE_L4"},
			{"applicationprofile", "System-SSL-Application", "type", "APPLICATION_PROFILE_TYPE_SSL"},
			{"applicationprofile", "System-DNS", "type", "APPLICATION_PROFILE_TYPE_DNS"},
			{"applicationprofile", "System-Syslog", "type", "APPLICATION_PROFILE_TYPE_SYSLOG"},
			{"networkprofile", "System-TCP-Proxy", "profile.type", "PROTOCOL_TYPE_TCP_PROXY"},
			{"networkprofile", "System-TCP-Fast-Path", "profile.type", "PROTOCOL_TYPE_TCP_FAST_PATH"},
			{"networkprofile", "System-UDP-Fast-Path", "profile.type", "PROTOCOL_TYPE_UDP_FAST_PATH"},
			{"networkprofile", "System-UDP-Per-Pkt", "profile.udp_fast_path_profile.per_pkt_loadbalance", "true"},
			{"networkprofile", "System-UDP-No-SNAT", "profile.udp_fast_path_profile.snat", "false"},
			{"networkprofile", "System-UDP-Proxy", "profile.type", "PROTOCOL_TYPE_UDP_PROXY"},
			{"networkprofile", "System-SCTP-Proxy", "profile.type", "PROTOCOL_TYPE_SCTP_PROXY"},
			{"healthmonitor", "System-TCP", "type", "HEALTH_MONITOR_TCP"},
			{"healthmonitor", "System-UDP", "type", "HEALTH_MONITOR_UDP"},
			{"healthmonitor", "System-SCTP", "type", "HEALTH_MONITOR_SCTP"},
			{"healthmonitor", "System-HTTP", "type", "HEALTH_MONITOR_HTTP"},
			{"healthmonitor", "System-HTTPS", "type", "HEALTH_MONITOR_HTTPS"},
			{"healthmonitor", "System-Ping", "type", "HEALTH_MONITOR_PING"},
			{"sslprofile", "System-Standard", "type", "SSL_PROFILE_TYPE_APPLICATION"},
			{"sslkeyandcertificate", "System-Default-Cert", "type", "SSL_CERTIFICATE_TYPE_VIRTUALSERVICE"},
			{"sslkeyandcertificate", "System-Default-Cert-EC", "type", "SSL_CERTIFICATE_TYPE_VIRTUALSERVICE"},
			{"analyticsprofile", "System-Analytics-Profile", "name", "System-Analytics-Profile"},
			{"applicationpersistenceprofile", "System-Persistence-Client-IP", "persistence_type", "PERSISTENCE_TYPE_CLIENT_IP_ADDRESS"},
			{"applicationpersistenceprofile", "System-Persistence-Http-Cookie", "persistence_type", "PERSISTENCE_TYPE_HTTP_COOKIE"},
			{"applicationpersistenceprofile", "System-Persistence-App-Cookie", "persistence_type", "PERSISTENCE_TYPE_APP_COOKIE"},
			{"applicationpersistenceprofile", "System-Persistence-Custom-Http-Header", "persistence_type", "PERSISTENCE_TYPE_CUSTOM_HTTP_HEADER"},
			{"applicationpersistenceprofile", "System-Persistence-TLS", "persistence_type", "PERSISTENCE_TYPE_TLS"},
			{"wafprofile", "System-WAF-Profile", "name", "System-WAF-Profile"},
			{"wafpolicy", "System-WAF-Policy", "mode", "WAF_MODE_DETECTION_ONLY"},
			{"errorpageprofile", "Custom-Error-Page-Profile", "name", "Custom-Error-Page-Profile"},
			{"stringgroup", "System-Rewritable-Content-Types", "type", "SG_TYPE_STRING"},
			{"stringgroup", "System-Compressible-Content-Types", "type", "SG_TYPE_STRING"},
			{"protocolparser", "Default-TLS", "name", "Default-TLS"},
			{"vsdatascriptset", "Default-PASV-FTP", "name", "Default-PASV-FTP"},
			{"vsdatascriptset", "Default-ACTIVE-FTP", "name", "Default-ACTIVE-FTP"},
			{"vsdatascriptset", "Default-FULL-FTP", "name", "Default-FULL-FTP"},
		}
		for _, w := range want {
			var got *map[string]any
			for _, o := range sim.Objects("admin", w.typ) {
				if o["name"] == w.name {
					o := o
					got = &o
				}
			}
			if got == nil {
				t.Fatalf("%s %s missing", w.typ, w.name)
			}
			vals := valuesAt(*got, strings.Split(w.field, "."))
			if len(vals) != 1 || scalarString(vals[0]) != w.value {
				t.Fatalf("%s %s: %s = %v, want %s", w.typ, w.name, w.field, vals, w.value)
			}
		}
		// The WAF policy refers to its profile, so the profile is protected.
		waf := sim.Objects("admin", "wafpolicy")[0]
		if !strings.Contains(waf["waf_profile_ref"].(string), "/api/wafprofile/wafprofile-") {
			t.Fatalf("waf_profile_ref %v", waf["waf_profile_ref"])
		}
	}
	// The default certificates are real, self-signed, with their keys.
	cert := systemObjects()
	for _, o := range cert {
		if kc, ok := o.model.(*models.SSLKeyAndCertificate); ok {
			if _, err := tls.X509KeyPair([]byte(*kc.Certificate.Certificate), []byte(*kc.Key)); err != nil {
				t.Fatalf("%s: %v", *kc.Name, err)
			}
		}
	}
}

// TestDemoSeedObjects: the demo seed adds a custom WAF policy and HTTP
// application profile, created the way a client would.
func TestDemoSeedObjects(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	waf, err := c.WafPolicy.GetObject(session.SetName("demo-waf"), session.SetIncludeName(true))
	must(t, err)
	if str(waf.Mode) != "WAF_MODE_ENFORCEMENT" || !strings.HasSuffix(str(waf.WafProfileRef), "#System-WAF-Profile") {
		t.Fatalf("demo-waf %s %s", str(waf.Mode), str(waf.WafProfileRef))
	}
	ap, err := c.ApplicationProfile.GetByName("demo-http")
	must(t, err)
	if str(ap.Type) != "APPLICATION_PROFILE_TYPE_HTTP" || ap.HTTPProfile == nil || !*ap.HTTPProfile.HTTPToHTTPS {
		t.Fatalf("demo-http %+v", ap)
	}

	bad := []struct {
		name string
		obj  SeedObject
		msg  string
	}{
		{"unknown type", SeedObject{Type: "gadget", Body: []byte(`{"name":"x"}`)}, `avisim seed: objects[0]: unknown type "gadget"`},
		{"unknown field", SeedObject{Type: "wafpolicy", Body: []byte(`{"name":"x","modes":"y"}`)}, "avisim seed: objects[0] (wafpolicy): Unknown field 'modes'"},
		{"missing reference", SeedObject{Type: "wafpolicy", Body: []byte(`{"name":"x","waf_profile_ref":"/api/wafprofile/?name=nope"}`)},
			"avisim seed: wafpolicy x: Invalid reference in field waf_profile_ref: wafprofile object with name 'nope' not found"},
		{"missing required field", SeedObject{Type: "healthmonitor", Body: []byte(`{"name":"h"}`)}, "avisim seed: healthmonitor h: Field 'type' is required"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Seed: &Seed{Objects: []SeedObject{tc.obj}}})
			if err == nil || !strings.HasPrefix(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %s", err, tc.msg)
			}
		})
	}
}

// TestClusterAndDomains: GET /api/cluster gives the cluster's uuid (and
// only GET is served); the DNS domain list needs a cloud with a DNS
// profile.
func TestClusterAndDomains(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	var cl, again map[string]any
	must(t, c.AviSession.Get("api/cluster", &cl))
	must(t, c.AviSession.Get("api/cluster", &again))
	if cl["uuid"] == "" || cl["uuid"] != again["uuid"] || !strings.HasSuffix(cl["tenant_ref"].(string), "/api/tenant/"+uuidOfRef(cl["tenant_ref"].(string))) {
		t.Fatalf("cluster %v / %v", cl, again)
	}
	other := startSim(t, DemoSeed())
	var ocl map[string]any
	must(t, newClient(t, other).AviSession.Get("api/cluster", &ocl))
	if ocl["uuid"] == cl["uuid"] {
		t.Fatal("two controllers share a cluster uuid")
	}
	var out map[string]any
	wantAviErr(t, c.AviSession.Put("api/cluster", map[string]any{"name": "x"}, &out), http.StatusMethodNotAllowed, "avisim serves GET /api/cluster only")

	cloud, err := c.Cloud.GetByName("Default-Cloud")
	must(t, err)
	cases := []struct {
		uri  string
		code int
		msg  string
	}{
		{"api/ipamdnsproviderprofiledomainlist", 400, "cloud_uuid is required"},
		{"api/ipamdnsproviderprofiledomainlist?cloud_uuid=cloud-x", 404, "cloud object with uuid cloud-x not found"},
		{"api/ipamdnsproviderprofiledomainlist?cloud_uuid=" + *cloud.UUID, 404, "Cloud Default-Cloud has no DNS provider profile (dns_provider_ref)"},
		{"api/ipamdnsproviderprofiledomainlist?cloud_uuid=" + *cloud.UUID + "&name=x&other=1", 400, "Unknown query parameter 'other'"},
	}
	for _, tc := range cases {
		t.Run(tc.uri, func(t *testing.T) {
			wantAviErr(t, c.AviSession.Get(tc.uri, &out), tc.code, tc.msg)
		})
	}
}

// TestSystemConfigurationRefs: the DNS virtual services named in the
// systemconfiguration are resolved, shown with include_name and protected
// from DELETE like any reference.
func TestSystemConfigurationRefs(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	vip, err := c.VsVip.Create(vsvip("dns", "vip-net-a", ""))
	must(t, err)
	vs, err := c.VirtualService.Create(&models.VirtualService{Name: s("dns-vs"), VsvipRef: vip.URL,
		ApplicationProfileRef: s("/api/applicationprofile/?name=System-DNS"), NetworkProfileRef: s("/api/networkprofile/?name=System-UDP-Per-Pkt"),
		Services: []*models.Service{{Port: u32(53)}}})
	must(t, err)
	sc, err := c.SystemConfiguration.Get("")
	must(t, err)
	sc.DNSVirtualserviceRefs = []string{"/api/virtualservice/?name=dns-vs"}
	_, err = c.SystemConfiguration.Update(sc)
	must(t, err)
	var got map[string]any
	must(t, c.AviSession.Get("api/systemconfiguration?include_name", &got))
	if ref := got["dns_virtualservice_refs"].([]any)[0].(string); ref != *vs.URL+"#dns-vs" {
		t.Fatalf("dns_virtualservice_refs %v, want %s#dns-vs", ref, *vs.URL)
	}
	wantAviErr(t, c.VirtualService.Delete(*vs.UUID), http.StatusConflict, "Cannot delete, object is referred by: ['SystemConfiguration']")
	sc, err = c.SystemConfiguration.Get("")
	must(t, err)
	sc.DNSVirtualserviceRefs = nil
	_, err = c.SystemConfiguration.Update(sc)
	must(t, err)
	must(t, c.VirtualService.Delete(*vs.UUID))
	sc.DNSVirtualserviceRefs = []string{"/api/virtualservice/?name=dns-vs"}
	sc.LastModified = nil
	_, err = c.SystemConfiguration.Update(sc)
	wantAviErr(t, err, http.StatusBadRequest, "Invalid reference in field dns_virtualservice_refs: virtualservice object with name 'dns-vs' not found")
}
