package rules

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
)

// now is the fixed clock of every test: rules never read the real one.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func addr(s string) netip.Addr     { return netip.MustParseAddr(s) }
func prefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func rng(b, e string) inventory.Range {
	return inventory.Range{Begin: addr(b), End: addr(e)}
}

// demoSettings is the demo cluster "demo": AKO defaults, vipNetworkList vip-net-a.
func demoSettings(mods ...func(*config.Settings)) *config.Settings {
	s := config.Defaults()
	s.AKOSettings.ClusterName = "demo"
	s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "vip-net-a"}}
	for _, m := range mods {
		m(&s)
	}
	return &s
}

func ipv6Settings(s *config.Settings)   { s.AKOSettings.IPFamily = "V6" }
func strictSettings(s *config.Settings) { s.L7Settings.FQDNReusePolicy = FQDNReuseStrict }

// demoInventory is the demo environment's controller: cloud Default-Cloud
// (vCenter), vip-net-a 10.50.0.0/24 with range 10.50.0.10-10.50.0.200,
// vip-net-b 10.60.0.0/28 with range 10.60.0.2-10.60.0.5, SE groups
// Default-Group and edge-seg (this cluster's) and prod-seg (another cluster's).
// Some VIPs are in use: this cluster's for default/web, an orphan of this
// cluster, a shared-VIP group's, and one another AKO created.
func demoInventory(mods ...func(*inventory.Snapshot)) *inventory.Snapshot {
	s := &inventory.Snapshot{
		FetchedAt: now.Add(-10 * time.Second),
		Cloud:     inventory.Cloud{Name: "Default-Cloud", UUID: "cloud-1", Type: inventory.CloudVCenter, IPAMNetworks: []string{"vip-net-a", "vip-net-b"}},
		Networks: map[string]*inventory.Network{
			"vip-net-a": {Name: "vip-net-a", UUID: "network-a", Subnets: []inventory.Subnet{
				{Prefix: prefix("10.50.0.0/24"), VIPRanges: []inventory.Range{rng("10.50.0.10", "10.50.0.200")}},
			}},
			"vip-net-b": {Name: "vip-net-b", UUID: "network-b", Subnets: []inventory.Subnet{
				{Prefix: prefix("10.60.0.0/28"), VIPRanges: []inventory.Range{rng("10.60.0.2", "10.60.0.5")}},
			}},
		},
		SEGroups: map[string]inventory.SEGroup{
			"Default-Group": {Name: "Default-Group", UUID: "seg-1"},
			"edge-seg":      {Name: "edge-seg", UUID: "seg-2", Labels: map[string]string{"clustername": "demo"}},
			"prod-seg":      {Name: "prod-seg", UUID: "seg-3", Labels: map[string]string{"clustername": "prod"}},
		},
		InUse: map[netip.Addr]inventory.Holder{
			addr("10.50.0.10"): {VsVip: "demo--default-web", CreatedBy: "vipgate-demo", Tenant: "admin"},
			addr("10.50.0.11"): {VsVip: "legacy-vip", CreatedBy: "ako-prod", Tenant: "admin"},
			addr("10.50.0.12"): {VsVip: "demo--default-old", CreatedBy: "vipgate-demo", Tenant: "admin"},
			addr("10.50.0.13"): {VsVip: "demo--default-k", CreatedBy: "vipgate-demo", Tenant: "admin"},
			addr("10.50.0.14"): {VsVip: "hand-made", Tenant: "admin"},
		},
	}
	for _, m := range mods {
		m(s)
	}
	s.ComputeFree()
	return s
}

// exhaustNetB takes every address of vip-net-b's range.
func exhaustNetB(s *inventory.Snapshot) {
	for _, a := range []string{"10.60.0.2", "10.60.0.3", "10.60.0.4", "10.60.0.5"} {
		s.InUse[addr(a)] = inventory.Holder{VsVip: "full-" + a, CreatedBy: "vipgate-demo"}
	}
}

// withNetC adds vip-net-c, a network whose subnet has no static VIP range.
func withNetC(s *inventory.Snapshot) {
	s.Networks["vip-net-c"] = &inventory.Network{Name: "vip-net-c", UUID: "network-c", Subnets: []inventory.Subnet{
		{Prefix: prefix("10.70.0.0/24")},
	}}
}

// withNetD adds vip-net-d with two subnets, both exhausted.
func withNetD(s *inventory.Snapshot) {
	s.Networks["vip-net-d"] = &inventory.Network{Name: "vip-net-d", UUID: "network-d", Subnets: []inventory.Subnet{
		{Prefix: prefix("10.80.0.0/29"), VIPRanges: []inventory.Range{rng("10.80.0.2", "10.80.0.2")}},
		{Prefix: prefix("10.80.1.0/29"), VIPRanges: []inventory.Range{rng("10.80.1.2", "10.80.1.2")}},
	}}
	s.InUse[addr("10.80.0.2")] = inventory.Holder{VsVip: "d0", CreatedBy: "vipgate-demo"}
	s.InUse[addr("10.80.1.2")] = inventory.Holder{VsVip: "d1", CreatedBy: "vipgate-demo"}
}

// withV6 gives vip-net-a an IPv6 subnet with a static VIP range.
func withV6(s *inventory.Snapshot) {
	n := s.Networks["vip-net-a"]
	n.Subnets = append(n.Subnets, inventory.Subnet{
		Prefix: prefix("2001:db8:50::/64"), VIPRanges: []inventory.Range{rng("2001:db8:50::10", "2001:db8:50::200")},
	})
}

// awsInventory is a multi-VIP cloud: three networks in three zones, plus a
// second network in us-west-2a and an exhausted one in us-west-2d.
func awsInventory() *inventory.Snapshot {
	net := func(name, zone, cidr, b, e string) *inventory.Network {
		return &inventory.Network{Name: name, UUID: "uuid-" + name, AvailabilityZone: zone, Subnets: []inventory.Subnet{
			{Prefix: prefix(cidr), VIPRanges: []inventory.Range{rng(b, e)}},
		}}
	}
	s := &inventory.Snapshot{
		FetchedAt: now,
		Cloud:     inventory.Cloud{Name: "aws-cloud", UUID: "cloud-aws", Type: inventory.CloudAWS, IPAMType: inventory.IPAMInternal},
		Networks: map[string]*inventory.Network{
			"subnet-1a":   net("subnet-1a", "us-west-2a", "10.1.0.0/24", "10.1.0.10", "10.1.0.100"),
			"subnet-1b":   net("subnet-1b", "us-west-2b", "10.2.0.0/24", "10.2.0.10", "10.2.0.100"),
			"subnet-1c":   net("subnet-1c", "us-west-2c", "10.3.0.0/24", "10.3.0.10", "10.3.0.100"),
			"subnet-1a-2": net("subnet-1a-2", "us-west-2a", "10.4.0.0/24", "10.4.0.10", "10.4.0.100"),
			"subnet-1d":   net("subnet-1d", "us-west-2d", "10.5.0.0/24", "10.5.0.10", "10.5.0.10"),
		},
		SEGroups: map[string]inventory.SEGroup{"Default-Group": {Name: "Default-Group"}},
		InUse:    map[netip.Addr]inventory.Holder{addr("10.5.0.10"): {VsVip: "x", CreatedBy: "vipgate-demo"}},
	}
	s.ComputeFree()
	return s
}

// fakeLookups is an in-memory Lookups with the same indexes the webhook's
// informer caches keep (by VIP, by shared-VIP key, by host).
type fakeLookups struct {
	services   []*corev1.Service
	ingresses  []*networkingv1.Ingress
	infra      map[string]*v1beta1.AviInfraSetting
	namespaces map[string]*corev1.Namespace
	secrets    map[string]*corev1.Secret
	certs      map[string]bool
	refs       map[string][]string

	err error

	byVIP    map[string][]*corev1.Service
	byShared map[string][]*corev1.Service
	byHost   map[string][]*networkingv1.Ingress
	byName   map[string][]*corev1.Service
	ingName  map[string][]*networkingv1.Ingress

	hostRules []*v1beta1.HostRule
	httpRules []*v1beta1.HTTPRule
	l4Rules   map[string]*v1alpha2.L4Rule
	byL4Rule  map[string][]*corev1.Service
}

func newFake() *fakeLookups {
	return &fakeLookups{
		infra: map[string]*v1beta1.AviInfraSetting{}, namespaces: map[string]*corev1.Namespace{},
		secrets: map[string]*corev1.Secret{}, certs: map[string]bool{}, refs: map[string][]string{},
		byVIP: map[string][]*corev1.Service{}, byShared: map[string][]*corev1.Service{}, byHost: map[string][]*networkingv1.Ingress{},
		byName: map[string][]*corev1.Service{}, ingName: map[string][]*networkingv1.Ingress{},
		l4Rules: map[string]*v1alpha2.L4Rule{}, byL4Rule: map[string][]*corev1.Service{},
	}
}

func (f *fakeLookups) addService(svcs ...*corev1.Service) *fakeLookups {
	for _, s := range svcs {
		f.services = append(f.services, s)
		ips := []string{s.Spec.LoadBalancerIP, s.Annotations[AnnLoadBalancerIP]}
		for _, in := range s.Status.LoadBalancer.Ingress {
			ips = append(ips, in.IP)
		}
		seen := map[string]bool{}
		for _, ip := range ips {
			if c, ok := CanonicalIP(ip); ok && !seen[c] {
				seen[c] = true
				f.byVIP[c] = append(f.byVIP[c], s)
			}
		}
		if k := s.Annotations[AnnSharedVIP]; k != "" {
			f.byShared[s.Namespace+"/"+k] = append(f.byShared[s.Namespace+"/"+k], s)
		}
		for _, c := range ServiceClaims("", s) {
			f.byName[c.Name] = append(f.byName[c.Name], s)
		}
		if k := L4RuleKey(s); k != "" {
			f.byL4Rule[k] = append(f.byL4Rule[k], s)
		}
	}
	return f
}

func (f *fakeLookups) addHostRule(hrs ...*v1beta1.HostRule) *fakeLookups {
	f.hostRules = append(f.hostRules, hrs...)
	return f
}

func (f *fakeLookups) addHTTPRule(hrs ...*v1beta1.HTTPRule) *fakeLookups {
	f.httpRules = append(f.httpRules, hrs...)
	return f
}

func (f *fakeLookups) addL4Rule(rs ...*v1alpha2.L4Rule) *fakeLookups {
	for _, r := range rs {
		f.l4Rules[r.Namespace+"/"+r.Name] = r
	}
	return f
}

func (f *fakeLookups) addIngress(ings ...*networkingv1.Ingress) *fakeLookups {
	for _, ing := range ings {
		f.ingresses = append(f.ingresses, ing)
		for _, r := range ing.Spec.Rules {
			if r.Host != "" {
				f.byHost[r.Host] = append(f.byHost[r.Host], ing)
			}
		}
		for _, c := range IngressClaims("", ing) {
			f.ingName[c.Name] = append(f.ingName[c.Name], ing)
		}
	}
	return f
}

func (f *fakeLookups) addInfra(a ...*v1beta1.AviInfraSetting) *fakeLookups {
	for _, x := range a {
		f.infra[x.Name] = x
	}
	return f
}

func (f *fakeLookups) addNamespace(name, ais string) *fakeLookups {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if ais != "" {
		ns.Annotations = map[string]string{AnnInfraSetting: ais}
	}
	f.namespaces[name] = ns
	return f
}

func (f *fakeLookups) addSecret(s *corev1.Secret) *fakeLookups {
	f.secrets[s.Namespace+"/"+s.Name] = s
	return f
}

// failing makes every lookup answer err: the cache could not tell.
func (f *fakeLookups) failing(err error) *fakeLookups { f.err = err; return f }

func (f *fakeLookups) ServicesByVIP(_ context.Context, ip string) ([]*corev1.Service, error) {
	return f.byVIP[ip], f.err
}
func (f *fakeLookups) ServicesBySharedVIPKey(_ context.Context, ns, key string) ([]*corev1.Service, error) {
	return f.byShared[ns+"/"+key], f.err
}
func (f *fakeLookups) AviInfraSetting(_ context.Context, name string) (*v1beta1.AviInfraSetting, error) {
	return f.infra[name], f.err
}
func (f *fakeLookups) Namespace(_ context.Context, name string) (*corev1.Namespace, error) {
	return f.namespaces[name], f.err
}

// TLSSecret summarizes the fixture Secret as the webhook's cache transform
// does, so the table tests exercise summarizer and judge together.
func (f *fakeLookups) TLSSecret(_ context.Context, ns, name string) (ownership.TLSSecretSummary, bool, error) {
	if f.err != nil {
		return ownership.TLSSecretSummary{}, false, f.err
	}
	s, ok := f.secrets[ns+"/"+name]
	if !ok {
		return ownership.TLSSecretSummary{}, false, nil
	}
	return ownership.SummarizeTLSSecret(s), true, nil
}
func (f *fakeLookups) CertManagerCertificateForSecret(_ context.Context, ns, name string) (bool, error) {
	return f.certs[ns+"/"+name], f.err
}
func (f *fakeLookups) IngressesByHost(_ context.Context, host string) ([]*networkingv1.Ingress, error) {
	return f.byHost[host], f.err
}
func (f *fakeLookups) ReferencesToInfraSetting(_ context.Context, name string) ([]string, error) {
	return f.refs[name], f.err
}
func (f *fakeLookups) ServicesByAviName(_ context.Context, key string) ([]*corev1.Service, error) {
	return f.byName[key], f.err
}
func (f *fakeLookups) IngressesByAviName(_ context.Context, key string) ([]*networkingv1.Ingress, error) {
	return f.ingName[key], f.err
}

// HostRulesByHost scans as the cache's index does: fqdn and aliases.
func (f *fakeLookups) HostRulesByHost(_ context.Context, host string) ([]*v1beta1.HostRule, error) {
	var out []*v1beta1.HostRule
	for _, hr := range f.hostRules {
		if hr.Spec.VirtualHost.Fqdn == host || slices.Contains(hr.Spec.VirtualHost.Aliases, host) {
			out = append(out, hr)
		}
	}
	return out, f.err
}
func (f *fakeLookups) HTTPRulesByHost(_ context.Context, host string) ([]*v1beta1.HTTPRule, error) {
	var out []*v1beta1.HTTPRule
	for _, hr := range f.httpRules {
		if hr.Spec.Fqdn == host {
			out = append(out, hr)
		}
	}
	return out, f.err
}
func (f *fakeLookups) L4Rule(_ context.Context, ns, name string) (*v1alpha2.L4Rule, error) {
	return f.l4Rules[ns+"/"+name], f.err
}
func (f *fakeLookups) ServicesByL4Rule(_ context.Context, key string) ([]*corev1.Service, error) {
	return f.byL4Rule[key], f.err
}

// withRefs gives the inventory the controller objects rule CRDs name: the
// System-* objects, an admin's custom ones, team-a's WAF policy, and two
// this cluster generated (created_by vipgate-demo). Security policies are
// left out, as if the controller refused to list them.
func withRefs(s *inventory.Snapshot) {
	add := func(typ, tenant, name, kind string) {
		o := inventory.RefObject{Kind: kind}
		if strings.HasPrefix(name, "demo--") {
			o.CreatedBy = "vipgate-demo"
		}
		s.Refs[typ].Add(tenant, name, o)
	}
	s.Refs = map[string]inventory.RefTable{}
	for _, typ := range inventory.RefTypes {
		if typ != inventory.TypeSecurityPolicy {
			s.Refs[typ] = inventory.RefTable{}
		}
	}
	add("wafpolicy", "admin", "System-WAF-Policy", "")
	add("wafpolicy", "admin", "demo-waf", "")
	add("wafpolicy", "team-a", "team-waf", "")
	add("applicationprofile", "admin", "System-HTTP", inventory.AppProfileTypeHTTP)
	add("applicationprofile", "admin", "demo-http", inventory.AppProfileTypeHTTP)
	add("applicationprofile", "admin", "System-L4-Application", inventory.AppProfileTypeL4)
	add("applicationprofile", "admin", "System-SSL-Application", inventory.AppProfileTypeSSL)
	add("applicationprofile", "admin", "System-DNS", "APPLICATION_PROFILE_TYPE_DNS")
	add("sslprofile", "admin", "System-Standard", "SSL_PROFILE_TYPE_APPLICATION")
	add("sslprofile", "admin", "System-Portal", "SSL_PROFILE_TYPE_SYSTEM")
	add("analyticsprofile", "admin", "System-Analytics-Profile", "")
	add("errorpageprofile", "admin", "Custom-Error-Page-Profile", "")
	add("httppolicyset", "admin", "admin-policy", "")
	add("httppolicyset", "admin", "demo--Shared-L7-0", "")
	add("vsdatascriptset", "admin", "Default-PASV-FTP", "")
	add("sslkeyandcertificate", "admin", "System-Default-Cert", inventory.CertTypeVirtualService)
	add("sslkeyandcertificate", "admin", "admin-ca", inventory.CertTypeCA)
	add("sslkeyandcertificate", "admin", "demo--shop.example.com", inventory.CertTypeVirtualService)
	add("pkiprofile", "admin", "admin-pki", "")
	add("healthmonitor", "admin", "System-TCP", "HEALTH_MONITOR_TCP")
	add("healthmonitor", "admin", "System-HTTP", "HEALTH_MONITOR_HTTP")
	add("healthmonitor", "admin", "System-UDP", "HEALTH_MONITOR_UDP")
	add("applicationpersistenceprofile", "admin", "System-Persistence-Client-IP", "PERSISTENCE_TYPE_CLIENT_IP_ADDRESS")
	add("applicationpersistenceprofile", "admin", "System-Persistence-Http-Cookie", "PERSISTENCE_TYPE_HTTP_COOKIE")
	add("networkprofile", "admin", "System-TCP-Proxy", inventory.NetProfileTypeTCPProxy)
	add("networkprofile", "admin", "System-TCP-Fast-Path", inventory.NetProfileTypeTCPFastPath)
	add("networkprofile", "admin", "System-UDP-Fast-Path", inventory.NetProfileTypeUDPFastPath)
	add("icapprofile", "admin", "admin-icap", "")
	add("networksecuritypolicy", "admin", "admin-nsp", "")
}

// svcOpt edits a test Service.
type svcOpt func(*corev1.Service)

// lbSvc is a Service vipgate owns (class ako.vmware.com/avi-lb) with port 80.
func lbSvc(ns, name string, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{}},
		Spec: corev1.ServiceSpec{
			Type:              corev1.ServiceTypeLoadBalancer,
			LoadBalancerClass: ptr.To(ownership.LBClass),
			Ports:             []corev1.ServicePort{{Name: "http", Port: 80}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func ip(v string) svcOpt     { return func(s *corev1.Service) { s.Spec.LoadBalancerIP = v } }
func annIP(v string) svcOpt  { return func(s *corev1.Service) { s.Annotations[AnnLoadBalancerIP] = v } }
func shared(k string) svcOpt { return func(s *corev1.Service) { s.Annotations[AnnSharedVIP] = k } }
func infra(n string) svcOpt  { return func(s *corev1.Service) { s.Annotations[AnnInfraSetting] = n } }
func noClass() svcOpt        { return func(s *corev1.Service) { s.Spec.LoadBalancerClass = nil } }
func class(c string) svcOpt  { return func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr.To(c) } }
func statusIP(v string) svcOpt {
	return func(s *corev1.Service) { s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: v}} }
}
func families(f ...corev1.IPFamily) svcOpt {
	return func(s *corev1.Service) { s.Spec.IPFamilies = f }
}
func ports(ps ...corev1.ServicePort) svcOpt { return func(s *corev1.Service) { s.Spec.Ports = ps } }
func clusterIP() svcOpt {
	return func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP; s.Spec.LoadBalancerClass = nil }
}

// ais builds an AviInfraSetting with a status and VIP networks.
func ais(name, status, errText, seg string, nets ...v1beta1.AviInfraSettingVipNetwork) *v1beta1.AviInfraSetting {
	a := &v1beta1.AviInfraSetting{ObjectMeta: metav1.ObjectMeta{Name: name}}
	a.Spec.Network.VipNetworks = nets
	a.Spec.SeGroup.Name = seg
	a.Status.Status, a.Status.Error = status, errText
	return a
}

func vn(name string) v1beta1.AviInfraSettingVipNetwork {
	return v1beta1.AviInfraSettingVipNetwork{NetworkName: name}
}

// testCert is a generated key pair with its PEM encodings.
type testCert struct {
	certPEM, keyPEM []byte
}

// newCert issues a self-signed certificate for host valid in [notBefore, notAfter].
func newCert(t testing.TB, host string, notBefore, notAfter time.Time) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}
}

func tlsSecret(ns, name string, crt, key []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
	}
}

// errorStrings renders a Result the way users read it.
func errorStrings(r Result) []string {
	out := make([]string, 0, len(r.Errors))
	for _, e := range r.Errors {
		out = append(out, e.Error())
	}
	return out
}

// checkResult compares a Result with the exact expected messages.
func checkResult(t *testing.T, got Result, wantErrs, wantWarns []string) {
	t.Helper()
	if gotErrs := errorStrings(got); !slices.Equal(gotErrs, wantErrs) && !(len(gotErrs) == 0 && len(wantErrs) == 0) {
		t.Errorf("errors:\n got: %s\nwant: %s", strings.Join(gotErrs, "\n      "), strings.Join(wantErrs, "\n      "))
	}
	if !slices.Equal(got.Warnings, wantWarns) && !(len(got.Warnings) == 0 && len(wantWarns) == 0) {
		t.Errorf("warnings:\n got: %s\nwant: %s", strings.Join(got.Warnings, "\n      "), strings.Join(wantWarns, "\n      "))
	}
	if got.Allowed() != (len(wantErrs) == 0) {
		t.Errorf("Allowed() = %v with %d expected errors", got.Allowed(), len(wantErrs))
	}
}
