package apply_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avi/objects"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/avisim/akograph"
)

// adopting returns an applier that adopts AKO's objects of cluster c1.
func adopting(e *env) *apply.Applier {
	a := apply.New(e.c, e.s.CreatedBy(), "c1--")
	a.AdoptFrom, a.Cluster = "ako-c1", "c1"
	return a
}

func vipOf(t *testing.T, m map[string]any) string {
	t.Helper()
	vips, _ := m["vip"].([]any)
	if len(vips) != 1 {
		t.Fatalf("AKO's VsVip has %d vips", len(vips))
	}
	ip, _ := vips[0].(map[string]any)["ip_address"].(map[string]any)
	addr, _ := ip["addr"].(string)
	if addr == "" {
		t.Fatal("AKO's VsVip has no address")
	}
	return addr
}

func addressOf(v *objects.VsVip) string {
	if got := model.AllocatedAddresses(v); len(got) == 1 {
		return got[0].String()
	}
	return fmt.Sprint(model.AllocatedAddresses(v))
}

// TestAdoptL4: AKO's objects of a Service (VsVip, virtual service routed by
// an L4PolicySet, a pool per port) are taken over in place: each is written
// once, the address stays, AKO's L4PolicySet goes once nothing refers to it,
// and a second apply writes nothing.
func TestAdoptL4(t *testing.T) {
	e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
	ctx := context.Background()
	ako := &akograph.Writer{C: e.c, Cluster: "c1"}
	vip, err := ako.L4(ctx, "ns", "web", []akograph.Port{{Protocol: "TCP", Port: 80, Servers: []akograph.Server{{IP: "10.0.0.1", Port: 8080}}}})
	if err != nil {
		t.Fatal(err)
	}
	addr := vipOf(t, vip)

	// Without adoption, AKO's objects are someone else's.
	e.a.Cluster = "c1"
	if _, err := e.a.Apply(ctx, e.build(t, service("web", 80), "10.0.0.1")); err == nil ||
		err.Error() != "avi apply vsvip c1--ns-web: AKO created this object for clusterName c1 and AKOSettings.adoptAKOObjects is false; vipgate leaves it alone" {
		t.Fatalf("without adoption: %v", err)
	}

	a := adopting(e)
	e.sim.ResetCounts()
	res, err := a.Apply(ctx, e.build(t, service("web", 80), "10.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(res.Created, res.Updated, res.Deleted, res.Adopted)
	want := "[] [vsvip/c1--ns-web pool/c1--ns-web-TCP-80 virtualservice/c1--ns-web] [l4policyset/c1--ns-web] [vsvip/c1--ns-web pool/c1--ns-web-TCP-80 virtualservice/c1--ns-web]"
	if got != want {
		t.Errorf("adoption:\n got %s\nwant %s", got, want)
	}
	if w := e.sim.Writes(); w != 4 {
		t.Errorf("%d writes, want 4 (three adopted objects written once, AKO's L4PolicySet deleted)", w)
	}
	if got := addressOf(res.VsVip); got != addr {
		t.Errorf("VIP %s after adoption, AKO allocated %s", got, addr)
	}
	for _, typ := range []string{"vsvip", "pool", "virtualservice"} {
		for _, o := range e.sim.Objects("admin", typ) {
			if m := fmt.Sprint(o["markers"]); !strings.Contains(m, "vipgate-owner") || (typ != "vsvip" && !strings.Contains(m, "ServiceName")) {
				t.Errorf("%s %s markers after adoption: %s", typ, o["name"], m)
			}
		}
	}
	if res, err := a.Apply(ctx, e.build(t, service("web", 80), "10.0.0.1")); err != nil || res.Writes != 0 {
		t.Errorf("second apply: %d writes %v", res.Writes, err)
	}
}

// TestAdoptWaitsForAKO: while the gate says AKO runs, nothing is written.
func TestAdoptWaitsForAKO(t *testing.T) {
	e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
	ctx := context.Background()
	ako := &akograph.Writer{C: e.c, Cluster: "c1"}
	if _, err := ako.L4(ctx, "ns", "web", []akograph.Port{{Protocol: "TCP", Port: 80}}); err != nil {
		t.Fatal(err)
	}
	a := adopting(e)
	a.AKOGate = func(context.Context) error { return errors.New("AKO is still running") }
	e.sim.ResetCounts()
	_, err := a.Apply(ctx, e.build(t, service("web", 80)))
	if err == nil || err.Error() != "not adopting AKO's objects of c1--ns-web: AKO is still running" {
		t.Fatalf("got %v", err)
	}
	if _, err := a.Delete(ctx, apply.Owner{Name: "c1--ns-web", CreatedBy: "vipgate-c1", Tenant: "admin", Namespace: "ns"}); err == nil {
		t.Fatal("delete of AKO's objects while AKO runs: no error")
	}
	if w := e.sim.Writes(); w != 0 {
		t.Errorf("%d writes while AKO runs", w)
	}
}

// TestAdoptRefusesAnotherNamespace: AKO's object of the same joined name
// but for another namespace ("team/a-web" and "team-a/web") is not adopted.
func TestAdoptRefusesAnotherNamespace(t *testing.T) {
	e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
	ctx := context.Background()
	ako := &akograph.Writer{C: e.c, Cluster: "c1"}
	if _, err := ako.L4(ctx, "ns-a", "web", []akograph.Port{{Protocol: "TCP", Port: 80}}); err != nil {
		t.Fatal(err)
	}
	svc := service("a-web", 80)
	e.sim.ResetCounts()
	_, err := adopting(e).Apply(ctx, e.build(t, svc))
	if err == nil || !strings.Contains(err.Error(), "AKO's object of this name belongs to namespace ns-a; vipgate leaves it alone") {
		t.Fatalf("got %v", err)
	}
	if w := e.sim.Writes(); w != 0 {
		t.Errorf("%d writes", w)
	}
}

// TestAdoptSharedShard: AKO's shared parent with a secure host is taken
// over: its VsVip keeps the address, the SNI child, certificate, policy
// set, pool group and pool keep their names and are written once, and
// AKO's datascript and pool group of the parent are deleted.
func TestAdoptSharedShard(t *testing.T) {
	e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
	e.s.L7Settings.ShardVSSize = "SMALL"
	ctx := context.Background()
	cert, key := []byte("CERT"), []byte("KEY")
	ako := &akograph.Writer{C: e.c, Cluster: "c1"}
	vip, err := ako.SharedShard(ctx, "c1--Shared-L7-0", []akograph.SecureHost{{Namespace: "ns", Ingress: "web", Host: "s.example.com", Path: "/", Cert: cert, Key: key}})
	if err != nil {
		t.Fatal(err)
	}
	addr := vipOf(t, vip)
	ing := l7Ingress("web", []string{"/"}, "s.example.com")
	ing.Ingress.Spec.Rules = ing.Ingress.Spec.Rules[1:] // s.example.com only
	p := model.PlanL7(e.s, []model.L7Ingress{ing})
	set, err := model.BuildL7(model.L7Input{Settings: e.s, Snapshot: e.snap, Shard: p.Shards["c1--Shared-L7-0"],
		Certs: map[string]*model.Cert{"s.example.com": {Certificate: cert, Key: key}}})
	if err != nil {
		t.Fatal(err)
	}
	e.sim.ResetCounts()
	res, err := adopting(e).Apply(ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(res.Created, res.Deleted)
	if got != "[] [vsdatascriptset/c1--Shared-L7-0 poolgroup/c1--Shared-L7-0]" {
		t.Errorf("created and deleted: %s", got)
	}
	if len(res.Adopted) != 8 || len(res.Updated) != 8 {
		t.Errorf("adopted %v (updated %v), want the 8 objects AKO built that vipgate keeps", res.Adopted, res.Updated)
	}
	if w := e.sim.Writes(); w != 10 {
		t.Errorf("%d writes, want 10 (8 adopted objects once each, 2 deletes)", w)
	}
	if got := addressOf(res.VsVip); got != addr {
		t.Errorf("VIP %s after adoption, AKO allocated %s", got, addr)
	}
}
