package rules

import (
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

// benchEnv is a cluster with n Services, each holding a VIP of bench-net
// 10.128.0.0/16 (range 10.128.0.10-10.128.255.200) that the controller shows
// allocated to this cluster's VsVip, plus a shared-VIP group of 8.
func benchEnv(b *testing.B, n int) Env {
	b.Helper()
	inv := demoInventory(func(s *inventory.Snapshot) {
		s.Networks["bench-net"] = &inventory.Network{Name: "bench-net", UUID: "network-bench", Subnets: []inventory.Subnet{
			{Prefix: prefix("10.128.0.0/16"), VIPRanges: []inventory.Range{rng("10.128.0.10", "10.128.255.200")}},
		}}
	})
	f := newFake()
	f.addNamespace("default", "")
	for i := range n {
		a := benchIP(i)
		ns := fmt.Sprintf("ns-%d", i%100)
		name := fmt.Sprintf("svc-%d", i)
		f.addService(lbSvc(ns, name, ip(a), statusIP(a)))
		inv.InUse[netip.MustParseAddr(a)] = inventory.Holder{VsVip: VsVipName("demo", ns, name), CreatedBy: "vipgate-demo"}
	}
	for i := range 8 {
		f.addService(lbSvc("default", fmt.Sprintf("grp-%d", i), shared("grp"), ports(corev1.ServicePort{Port: int32(1000 + i)})))
	}
	inv.ComputeFree()
	s := demoSettings(func(s *config.Settings) {
		s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "bench-net"}}
	})
	return Env{Settings: s, Inventory: inv, Lookups: f, Now: now}
}

func benchIP(i int) string { return fmt.Sprintf("10.128.%d.%d", 1+i/200, 10+i%200) }

func benchValidate(b *testing.B, svc *corev1.Service, wantAllowed bool) {
	env := benchEnv(b, 10_000)
	if got := ValidateService(svc, nil, env).Allowed(); got != wantAllowed {
		b.Fatalf("Allowed() = %v, want %v: %v", got, wantAllowed, ValidateService(svc, nil, env).Errors)
	}
	b.ReportAllocs()
	for b.Loop() {
		ValidateService(svc, nil, env)
	}
}

// BenchmarkValidateServiceFreeIP is the common case: a new Service asks for a
// free address; every check runs and passes.
func BenchmarkValidateServiceFreeIP(b *testing.B) {
	benchValidate(b, lbSvc("default", "new", ip("10.128.200.20")), true)
}

// BenchmarkValidateServiceTakenIP asks for an address another Service holds.
func BenchmarkValidateServiceTakenIP(b *testing.B) {
	benchValidate(b, lbSvc("default", "new", ip(benchIP(4242))), false)
}

// BenchmarkValidateServiceSharedVIP joins a shared-VIP group of 8 members.
func BenchmarkValidateServiceSharedVIP(b *testing.B) {
	benchValidate(b, lbSvc("default", "grp-new", shared("grp"), ip("10.128.200.21")), true)
}

// BenchmarkValidateServiceAutoIP asks for no address (only selection checks run).
func BenchmarkValidateServiceAutoIP(b *testing.B) {
	benchValidate(b, lbSvc("default", "new"), true)
}

// benchHostRule validates hr against the demo inventory plus 1000 custom
// WAF policies (as in tests/bench), with one Ingress serving its host.
func benchHostRule(b *testing.B, hr *v1beta1.HostRule, wantAllowed bool) {
	inv := demoInventory(withRefs)
	for i := range 1000 {
		inv.Refs["wafpolicy"].Add("admin", fmt.Sprintf("waf-%d", i), inventory.RefObject{})
	}
	f := newFake()
	f.addIngress(ingress("default", "shop", hosts(hr.Spec.VirtualHost.Fqdn), tlsEntry("t", hr.Spec.VirtualHost.Fqdn)))
	env := Env{Settings: demoSettings(), Inventory: inv, Lookups: f, Now: now}
	if got := ValidateHostRule(hr, nil, env); got.Allowed() != wantAllowed {
		b.Fatalf("Allowed() = %v, want %v: %v", got.Allowed(), wantAllowed, got.Errors)
	}
	b.ReportAllocs()
	for b.Loop() {
		ValidateHostRule(hr, nil, env)
	}
}

// BenchmarkValidateHostRuleValid names existing objects of every kind.
func BenchmarkValidateHostRuleValid(b *testing.B) {
	benchHostRule(b, hostRule("default", "shop", "shop.example.com", waf("waf-7"), cert("ref", "System-Default-Cert")), true)
}

// BenchmarkValidateHostRuleMissingWAF names a WAF policy that does not
// exist: the message lists existing ones.
func BenchmarkValidateHostRuleMissingWAF(b *testing.B) {
	benchHostRule(b, hostRule("default", "shop", "shop.example.com", waf("no-such-waf")), false)
}
