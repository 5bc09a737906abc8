package avisim

import (
	"net/http"
	"testing"

	"github.com/vmware/alb-sdk/go/models"
	"github.com/vmware/alb-sdk/go/session"
)

// tierSeed is the demo seed on the given license tier.
func tierSeed(tier string) *Seed {
	s := DemoSeed()
	s.LicenseTier = tier
	return s
}

// l4VS is an L4 virtual service the way AKO builds it, with the network
// profile chosen by the caller.
func l4VS(name, vsvipURL, netProfile string) *models.VirtualService {
	vs := &models.VirtualService{
		Name:                  s(name),
		VsvipRef:              s(vsvipURL),
		ApplicationProfileRef: s("/api/applicationprofile/?name=System-L4-Application"),
		SeGroupRef:            s("/api/serviceenginegroup?name=Default-Group"),
		Services:              []*models.Service{{Port: u32(80), PortRangeEnd: u32(80), EnableSsl: b(false), EnableHttp2: b(false)}},
	}
	if netProfile != "" {
		vs.NetworkProfileRef = s("/api/networkprofile/?name=" + netProfile)
	}
	return vs
}

// TestLicenseTiers: what each tier refuses that a client might send, from
// the swagger's "Allowed in ... edition" notes. ESSENTIALS allows only fast
// path network profiles and L4 application profiles on virtual services,
// which is why AKO picks System-TCP-Fast-Path unless the license is
// ENTERPRISE.
func TestLicenseTiers(t *testing.T) {
	type step struct {
		name string
		vs   func(vip string) *models.VirtualService
		msg  string // "" = accepted
	}
	l7 := func(vip string) *models.VirtualService {
		vs := l4VS("l7", vip, "System-TCP-Proxy")
		vs.ApplicationProfileRef = s("/api/applicationprofile/?name=System-HTTP")
		return vs
	}
	cases := []struct {
		tier  string
		steps []step
	}{
		{tierEssentials, []step{
			{"TCP proxy refused", func(v string) *models.VirtualService { return l4VS("tcp-proxy", v, "System-TCP-Proxy") },
				"VirtualService tcp-proxy: network_profile_ref System-TCP-Proxy: value 'PROTOCOL_TYPE_TCP_PROXY' of field 'profile.type' is not allowed in the ESSENTIALS license tier (allowed: PROTOCOL_TYPE_TCP_FAST_PATH, PROTOCOL_TYPE_UDP_FAST_PATH)"},
			{"TCP fast path accepted", func(v string) *models.VirtualService { return l4VS("tcp-fast", v, "System-TCP-Fast-Path") }, ""},
			{"UDP fast path accepted", func(v string) *models.VirtualService { return l4VS("udp-fast", v, "System-UDP-Fast-Path") }, ""},
			{"UDP per packet refused", func(v string) *models.VirtualService { return l4VS("udp-pkt", v, "System-UDP-Per-Pkt") },
				"field 'profile.udp_fast_path_profile.per_pkt_loadbalance'"},
			{"SCTP proxy refused", func(v string) *models.VirtualService { return l4VS("sctp", v, "System-SCTP-Proxy") },
				"value 'PROTOCOL_TYPE_SCTP_PROXY' of field 'profile.type' is not allowed in the ESSENTIALS license tier"},
			{"HTTP application profile refused", l7,
				"VirtualService l7: application_profile_ref System-HTTP: value 'APPLICATION_PROFILE_TYPE_HTTP' of field 'type' is not allowed in the ESSENTIALS license tier (allowed: APPLICATION_PROFILE_TYPE_L4)"},
			{"SNI parent refused", func(v string) *models.VirtualService {
				vs := l4VS("parent", v, "System-TCP-Fast-Path")
				vs.Type = s("VS_TYPE_VH_PARENT")
				return vs
			}, "VirtualService parent: value 'VS_TYPE_VH_PARENT' of field 'type' is not allowed in the ESSENTIALS license tier (allowed: VS_TYPE_NORMAL)"},
			{"WAF policy refused", func(v string) *models.VirtualService {
				vs := l4VS("waf", v, "System-TCP-Fast-Path")
				vs.WafPolicyRef = s("/api/wafpolicy/?name=System-WAF-Policy")
				return vs
			}, "VirtualService waf: field 'waf_policy_ref' is not available in the ESSENTIALS license tier"},
			{"datascripts refused", func(v string) *models.VirtualService {
				vs := l4VS("ds", v, "System-TCP-Fast-Path")
				vs.VsDatascripts = []*models.VSDataScripts{{Index: ptr(int32(0)), VsDatascriptSetRef: s("/api/vsdatascriptset/?name=Default-FULL-FTP")}}
				return vs
			}, "VirtualService ds: field 'vs_datascripts' is not available in the ESSENTIALS license tier"},
			{"service network profile override refused", func(v string) *models.VirtualService {
				vs := l4VS("mixed", v, "System-TCP-Fast-Path")
				vs.Services = append(vs.Services, &models.Service{Port: u32(53), OverrideNetworkProfileRef: s("/api/networkprofile/?name=System-UDP-Fast-Path")})
				return vs
			}, "VirtualService mixed: field 'services.override_network_profile_ref' is not available in the ESSENTIALS license tier"},
		}},
		{tierBasic, []step{
			{"TCP proxy accepted", func(v string) *models.VirtualService { return l4VS("tcp-proxy", v, "System-TCP-Proxy") }, ""},
			{"HTTP application profile accepted", l7, ""},
			{"SNI parent accepted", func(v string) *models.VirtualService {
				vs := l4VS("parent", v, "System-TCP-Proxy")
				vs.Type = s("VS_TYPE_VH_PARENT")
				return vs
			}, ""},
			{"SNI child refused", func(v string) *models.VirtualService {
				vs := l4VS("child", v, "System-TCP-Proxy")
				vs.Type = s("VS_TYPE_VH_CHILD")
				vs.VsvipRef = nil
				return vs
			}, "value 'VS_TYPE_VH_CHILD' of field 'type' is not allowed in the BASIC license tier (allowed: VS_TYPE_NORMAL, VS_TYPE_VH_PARENT)"},
			{"WAF policy refused", func(v string) *models.VirtualService {
				vs := l4VS("waf", v, "System-TCP-Proxy")
				vs.WafPolicyRef = s("/api/wafpolicy/?name=System-WAF-Policy")
				return vs
			}, "field 'waf_policy_ref' is not available in the BASIC license tier"},
		}},
		{tierEnterprise, []step{
			{"TCP proxy accepted", func(v string) *models.VirtualService { return l4VS("tcp-proxy", v, "System-TCP-Proxy") }, ""},
			{"SCTP proxy accepted", func(v string) *models.VirtualService { return l4VS("sctp", v, "System-SCTP-Proxy") }, ""},
			{"WAF policy accepted", func(v string) *models.VirtualService {
				vs := l7(v)
				vs.Name = s("waf")
				vs.WafPolicyRef = s("/api/wafpolicy/?name=System-WAF-Policy")
				return vs
			}, ""},
		}},
		{tierEnterpriseCS, []step{
			{"TCP proxy accepted", func(v string) *models.VirtualService { return l4VS("tcp-proxy", v, "System-TCP-Proxy") }, ""},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.tier, func(t *testing.T) {
			sim := startSim(t, tierSeed(tc.tier))
			c := newClient(t, sim)
			sc, err := c.SystemConfiguration.Get("")
			must(t, err)
			if str(sc.DefaultLicenseTier) != tc.tier {
				t.Fatalf("default_license_tier %s", str(sc.DefaultLicenseTier))
			}
			cloud, err := c.Cloud.GetByName("Default-Cloud")
			must(t, err)
			seg, err := c.ServiceEngineGroup.GetByName("Default-Group")
			must(t, err)
			if str(cloud.LicenseTier) != tc.tier || str(seg.LicenseTier) != tc.tier {
				t.Fatalf("cloud tier %s, SE group tier %s", str(cloud.LicenseTier), str(seg.LicenseTier))
			}
			for _, st := range tc.steps {
				t.Run(st.name, func(t *testing.T) {
					vip, err := c.VsVip.Create(vsvip("vip-"+st.name, "vip-net-a", ""))
					must(t, err)
					_, err = c.VirtualService.Create(st.vs(*vip.URL))
					if st.msg != "" {
						wantAviErr(t, err, http.StatusBadRequest, st.msg)
						return
					}
					must(t, err)
				})
			}
		})
	}
}

// TestLicenseDefaultsAndObjects: on ESSENTIALS a virtual service that names
// no profiles gets the swagger's special defaults (System-L4-Application,
// System-TCP-Fast-Path); pools, monitors and profiles are held to the tier
// too; the system objects themselves exist on every tier.
func TestLicenseDefaultsAndObjects(t *testing.T) {
	sim := startSim(t, tierSeed(tierEssentials))
	c := newClient(t, sim)
	vip, err := c.VsVip.Create(vsvip("v", "vip-net-a", ""))
	must(t, err)
	if vip.Vip[0].AviAllocatedVip != nil {
		t.Fatalf("avi_allocated_vip %v on ESSENTIALS (only false is allowed)", *vip.Vip[0].AviAllocatedVip)
	}
	vs := l4VS("bare", *vip.URL, "")
	vs.ApplicationProfileRef = nil
	got, err := c.VirtualService.Create(vs)
	must(t, err)
	ap, err := c.ApplicationProfile.GetByName("System-L4-Application")
	must(t, err)
	np, err := c.NetworkProfile.GetByName("System-TCP-Fast-Path")
	must(t, err)
	if uuidOfRef(str(got.ApplicationProfileRef)) != *ap.UUID || uuidOfRef(str(got.NetworkProfileRef)) != *np.UUID {
		t.Fatalf("defaults: %s %s", str(got.ApplicationProfileRef), str(got.NetworkProfileRef))
	}

	cases := []struct {
		name string
		do   func() error
		msg  string
	}{
		{"round robin pool accepted", func() error {
			_, err := c.Pool.Create(&models.Pool{Name: s("rr"), LbAlgorithm: s("LB_ALGORITHM_ROUND_ROBIN")})
			return err
		}, ""},
		{"fastest response pool refused", func() error {
			_, err := c.Pool.Create(&models.Pool{Name: s("fr"), LbAlgorithm: s("LB_ALGORITHM_FASTEST_RESPONSE")})
			return err
		}, "Pool fr: value 'LB_ALGORITHM_FASTEST_RESPONSE' of field 'lb_algorithm' is not allowed in the ESSENTIALS license tier"},
		{"HTTP monitor on a pool refused", func() error {
			_, err := c.Pool.Create(&models.Pool{Name: s("hm"), HealthMonitorRefs: []string{"/api/healthmonitor/?name=System-HTTP"}})
			return err
		}, "Pool hm: health_monitor_refs System-HTTP: value 'HEALTH_MONITOR_HTTP' of field 'type' is not allowed in the ESSENTIALS license tier"},
		{"TCP monitor on a pool accepted", func() error {
			_, err := c.Pool.Create(&models.Pool{Name: s("tcp"), HealthMonitorRefs: []string{"/api/healthmonitor/?name=System-TCP"}})
			return err
		}, ""},
		{"HTTP application profile not creatable", func() error {
			_, err := c.ApplicationProfile.Create(&models.ApplicationProfile{Name: s("my-http"), Type: s("APPLICATION_PROFILE_TYPE_HTTP")})
			return err
		}, "ApplicationProfile my-http: value 'APPLICATION_PROFILE_TYPE_HTTP' of field 'type' is not allowed in the ESSENTIALS license tier"},
		{"proxy protocol not available", func() error {
			_, err := c.ApplicationProfile.Create(&models.ApplicationProfile{Name: s("pp"), Type: s("APPLICATION_PROFILE_TYPE_L4"),
				TCPAppProfile: &models.TCPApplicationProfile{ProxyProtocolEnabled: b(true)}})
			return err
		}, "value 'true' of field 'tcp_app_profile.proxy_protocol_enabled' is not allowed in the ESSENTIALS license tier (allowed: false)"},
		{"VsVip DNS info not available", func() error {
			v := vsvip("dns", "vip-net-a", "")
			v.DNSInfo = []*models.DNSInfo{{Fqdn: s("a.example.com")}}
			_, err := c.VsVip.Create(v)
			return err
		}, "VsVip dns: field 'dns_info' is not available in the ESSENTIALS license tier"},
		{"AWS cloud not available", func() error {
			_, err := c.Cloud.Create(&models.Cloud{Name: s("aws"), Vtype: s("CLOUD_AWS")})
			return err
		}, "Cloud aws: value 'CLOUD_AWS' of field 'vtype' is not allowed in the ESSENTIALS license tier (allowed: CLOUD_NONE, CLOUD_VCENTER)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if tc.msg == "" {
				must(t, err)
				return
			}
			wantAviErr(t, err, http.StatusBadRequest, tc.msg)
		})
	}
	for _, n := range []string{"System-TCP-Proxy", "System-SCTP-Proxy", "System-UDP-Per-Pkt"} {
		if _, err := c.NetworkProfile.GetByName(n); err != nil {
			t.Fatalf("%s missing on ESSENTIALS: %v", n, err)
		}
	}
	// The seed's HTTP profile exists (made before the tier changed), but a
	// virtual service cannot use it.
	vs = l4VS("uses-demo-http", *vip.URL, "System-TCP-Fast-Path")
	vs.ApplicationProfileRef = s("/api/applicationprofile/?name=demo-http")
	_, err = c.VirtualService.Create(vs)
	wantAviErr(t, err, http.StatusBadRequest, "VirtualService uses-demo-http: application_profile_ref demo-http: value 'APPLICATION_PROFILE_TYPE_HTTP' of field 'type' is not allowed in the ESSENTIALS license tier")
}

// TestLicenseTierChanges: default_license_tier applies to clouds created
// after it changes; a cloud or SE group may carry its own tier, and a
// virtual service follows its SE group's.
func TestLicenseTierChanges(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	sc, err := c.SystemConfiguration.Get("")
	must(t, err)
	sc.DefaultLicenseTier = s(tierEssentials)
	sc, err = c.SystemConfiguration.Update(sc)
	must(t, err)
	if str(sc.DefaultLicenseTier) != tierEssentials || str(sc.UUID) != "default" {
		t.Fatalf("after PUT: %s %s", str(sc.DefaultLicenseTier), str(sc.UUID))
	}
	old, err := c.Cloud.GetByName("Default-Cloud")
	must(t, err)
	if str(old.LicenseTier) != tierEnterprise {
		t.Fatalf("existing cloud moved to %s", str(old.LicenseTier))
	}
	nc, err := c.Cloud.Create(&models.Cloud{Name: s("new-cloud"), Vtype: s("CLOUD_NONE")})
	must(t, err)
	if str(nc.LicenseTier) != tierEssentials {
		t.Fatalf("new cloud tier %s", str(nc.LicenseTier))
	}

	// An ESSENTIALS SE group in the ENTERPRISE cloud governs its virtual
	// services.
	seg, err := c.ServiceEngineGroup.Create(&models.ServiceEngineGroup{Name: s("ess-seg"), LicenseTier: s(tierEssentials)})
	must(t, err)
	vip, err := c.VsVip.Create(vsvip("v", "vip-net-a", ""))
	must(t, err)
	vs := l4VS("on-ess-seg", *vip.URL, "System-TCP-Proxy")
	vs.SeGroupRef = seg.URL
	_, err = c.VirtualService.Create(vs)
	wantAviErr(t, err, http.StatusBadRequest, "VirtualService on-ess-seg: network_profile_ref System-TCP-Proxy: value 'PROTOCOL_TYPE_TCP_PROXY' of field 'profile.type' is not allowed in the ESSENTIALS license tier")
	vs.SeGroupRef = s("/api/serviceenginegroup/?name=Default-Group")
	_, err = c.VirtualService.Create(vs)
	must(t, err)

	sc.DefaultLicenseTier = s("GOLD")
	_, err = c.SystemConfiguration.Update(sc)
	wantAviErr(t, err, http.StatusBadRequest, "Invalid value 'GOLD' for field 'default_license_tier': expected one of ENTERPRISE_16, ENTERPRISE, ENTERPRISE_18, BASIC, ESSENTIALS, ENTERPRISE_WITH_CLOUD_SERVICES")
	// A stale _last_modified is a concurrent update; other tenants cannot
	// write.
	sc.DefaultLicenseTier = s(tierBasic)
	sc.LastModified = s("1")
	_, err = c.SystemConfiguration.Update(sc)
	wantAviErr(t, err, http.StatusPreconditionFailed, "Concurrent Update Error")
	_, err = c.Tenant.Create(&models.Tenant{Name: s("team")})
	must(t, err)
	cur, err := c.SystemConfiguration.Get("", session.SetOptTenant("team"))
	must(t, err)
	_, err = c.SystemConfiguration.Update(cur, session.SetOptTenant("team"))
	wantAviErr(t, err, http.StatusForbidden, "systemconfiguration can only be modified from the admin tenant")
	var out any
	wantAviErr(t, c.AviSession.Delete("api/systemconfiguration/default"), http.StatusMethodNotAllowed, "a singleton")
	wantAviErr(t, c.AviSession.Post("api/systemconfiguration", map[string]any{}, &out), http.StatusMethodNotAllowed, "a singleton")

	_, err = New(Options{Seed: &Seed{LicenseTier: "GOLD"}})
	if err == nil || err.Error() != `avisim seed: license_tier "GOLD" is not one of ENTERPRISE_16, ENTERPRISE, ENTERPRISE_18, BASIC, ESSENTIALS, ENTERPRISE_WITH_CLOUD_SERVICES` {
		t.Fatalf("seed with a bad tier: %v", err)
	}
}
