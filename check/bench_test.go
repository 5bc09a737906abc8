package check

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkRun checks a set of 2000 Services (every address of vip-net-a's
// range requested ten times over, so the in-set conflict lookups have work)
// and 200 Ingresses with their TLS Secrets against the demo inventory.
func BenchmarkRun(b *testing.B) {
	crt, key := certPair(b, "shop.example.com", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	var sb strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&sb, "%s---\n", svcYAML(fmt.Sprintf("ns%d", i%50), fmt.Sprintf("svc%d", i), fmt.Sprintf("10.50.0.%d", 10+i%190)))
	}
	for i := range 200 {
		fmt.Fprintf(&sb, "%s---\n%s---\n", ingressYAML("shop", fmt.Sprintf("ing%d", i), "avi-lb", fmt.Sprintf("h%d.example.com", i), fmt.Sprintf("tls%d", i)),
			tlsSecretYAML("shop", fmt.Sprintf("tls%d", i), crt, key))
	}
	objs, err := Decode("bench.yaml", strings.NewReader(sb.String()), "default")
	if err != nil {
		b.Fatal(err)
	}
	inv := demoInventory(b)
	opts := Options{Settings: demoSettings(), Inventory: inv, IngressClasses: VipgateClasses([]string{"avi-lb"}, "avi-lb"), Now: now}
	b.ResetTimer()
	for b.Loop() {
		rep := Run(context.Background(), objs, opts)
		if rep.Checked() != 2200 || rep.Refused() != 2000 {
			b.Fatalf("checked %d, refused %d", rep.Checked(), rep.Refused())
		}
	}
}

// BenchmarkDecode reads the same set from YAML.
func BenchmarkDecode(b *testing.B) {
	var sb strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&sb, "%s---\n", svcYAML("ns", fmt.Sprintf("svc%d", i), "10.50.0.20"))
	}
	data := sb.String()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode("bench.yaml", strings.NewReader(data), "default"); err != nil {
			b.Fatal(err)
		}
	}
}
