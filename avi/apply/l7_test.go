package apply_test

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avisim"
)

func l7Ingress(name string, paths []string, tlsHost string) model.L7Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
	for _, h := range []string{"a.example.com", "s.example.com"} {
		r := networkingv1.IngressRule{Host: h, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
		for _, p := range paths {
			r.HTTP.Paths = append(r.HTTP.Paths, networkingv1.HTTPIngressPath{Path: p, PathType: ptr.To(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}})
		}
		ing.Spec.Rules = append(ing.Spec.Rules, r)
	}
	if tlsHost != "" {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{tlsHost}, SecretName: "tls"}}
	}
	return model.L7Ingress{Ingress: ing}
}

func simNames(sim *avisim.Sim, typ string) []string {
	out := names(sim.Objects("admin", typ))
	sort.Strings(out)
	return out
}

// TestApplyL7: a shard with an SNI child is created in dependency order,
// re-applied with zero writes, shrunk (a removed path's pool group and pool
// and the child are found through references and deleted after the policy
// sets stop referring to them), and deleted whole, children first.
func TestApplyL7(t *testing.T) {
	e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
	ctx := context.Background()
	build := func(paths []string, tlsHost string) *model.Set {
		p := model.PlanL7(e.s, []model.L7Ingress{l7Ingress("web", paths, tlsHost)})
		set, err := model.BuildL7(model.L7Input{Settings: e.s, Shard: p.Shards["c1--Shared-L7-0"],
			Certs: map[string]*model.Cert{"s.example.com": {Certificate: []byte("CERT"), Key: []byte("KEY")}}})
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	e.s.L7Settings.ShardVSSize = "SMALL"
	res, err := e.a.Apply(ctx, build([]string{"/", "/x"}, "s.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Created[0] != "vsvip/c1--Shared-L7-0" || res.Created[len(res.Created)-1] != "virtualservice/c1--s.example.com" {
		t.Errorf("create order %v", res.Created)
	}
	if got := simNames(e.sim, "virtualservice"); !equal(got, []string{"c1--Shared-L7-0", "c1--s.example.com"}) {
		t.Errorf("virtual services %v", got)
	}
	if res, err = e.a.Apply(ctx, build([]string{"/", "/x"}, "s.example.com")); err != nil || res.Writes != 0 {
		t.Fatalf("second apply: %d writes %v %v, err %v", res.Writes, res.Created, res.Updated, err)
	}

	// Drop /x and TLS.
	res, err = e.a.Apply(ctx, build([]string{"/"}, ""))
	if err != nil {
		t.Fatal(err)
	}
	// s.example.com is insecure now: its pools take AKO's insecure names,
	// and the secure ones go with the child.
	wantDeleted := []string{"virtualservice/c1--s.example.com", "httppolicyset/c1--ns-s.example.com",
		"poolgroup/c1--a.example.com_x-ns-web", "poolgroup/c1--ns-s.example.com_-web", "poolgroup/c1--ns-s.example.com_x-web",
		"pool/c1--a.example.com_x-ns-web", "pool/c1--ns-s.example.com_-web", "pool/c1--ns-s.example.com_x-web", "sslkeyandcertificate/c1--s.example.com"}
	if !equal(res.Deleted, wantDeleted) {
		t.Errorf("deleted %v\nwant    %v", res.Deleted, wantDeleted)
	}
	if got := simNames(e.sim, "pool"); !equal(got, []string{"c1--a.example.com_-ns-web", "c1--s.example.com_-ns-web"}) {
		t.Errorf("pools %v", got)
	}

	// Back to TLS, then delete the whole shard.
	if _, err = e.a.Apply(ctx, build([]string{"/"}, "s.example.com")); err != nil {
		t.Fatal(err)
	}
	res, err = e.a.Delete(ctx, apply.Owner{Name: "c1--Shared-L7-0", CreatedBy: "vipgate-c1", Tenant: "admin", L7: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted[0] != "virtualservice/c1--s.example.com" || res.Deleted[1] != "virtualservice/c1--Shared-L7-0" || res.Deleted[len(res.Deleted)-1] != "vsvip/c1--Shared-L7-0" {
		t.Errorf("delete order %v", res.Deleted)
	}
	for _, typ := range []string{"virtualservice", "vsvip", "pool", "poolgroup", "httppolicyset", "sslkeyandcertificate"} {
		if got := simNames(e.sim, typ); len(got) > 0 {
			t.Errorf("%s left: %v", typ, got)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// smallShard is an applier's env and the set of a SMALL shard with one Ingress.
func smallShard(t *testing.T) (*env, *model.Set) {
	t.Helper()
	e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
	e.s.L7Settings.ShardVSSize = "SMALL"
	p := model.PlanL7(e.s, []model.L7Ingress{l7Ingress("web", []string{"/"}, "")})
	shard, err := model.BuildL7(model.L7Input{Settings: e.s, Shard: p.Shards["c1--Shared-L7-0"]})
	if err != nil {
		t.Fatal(err)
	}
	return e, shard
}

// TestL7AppliesAreBounded: while every L7 slot is taken, a shard's apply
// waits (here until its context ends) without a call to the controller;
// a Service's apply does not wait; a freed slot lets the shard through.
func TestL7AppliesAreBounded(t *testing.T) {
	e, shard := smallShard(t)
	slots := e.a.L7Slots()
	for range cap(slots) {
		slots <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := e.a.Apply(ctx, shard); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shard apply with every slot taken = %v, want it to wait until its context ends", err)
	}
	if got := simNames(e.sim, "vsvip"); len(got) != 0 {
		t.Fatalf("VsVips %v after the shard waited, want none", got)
	}
	if _, err := e.a.Apply(context.Background(), e.build(t, service("web", 80), "10.0.0.1")); err != nil {
		t.Fatalf("Service apply while the L7 slots are taken: %v", err)
	}
	<-slots
	if _, err := e.a.Apply(context.Background(), shard); err != nil {
		t.Fatalf("shard apply with a slot free: %v", err)
	}
	if got := simNames(e.sim, "vsvip"); !equal(got, []string{"c1--Shared-L7-0", "c1--ns-web"}) {
		t.Errorf("VsVips = %v, want the Service's and the shard's", got)
	}
}

// TestHoldL7: a shard's reconcile holds a slot from before it builds the
// shard; its Apply takes no second slot, another shard's waits while every
// slot is held, and a release frees one slot however often it is called.
func TestHoldL7(t *testing.T) {
	e, shard := smallShard(t)
	slots := e.a.L7Slots()
	var held []context.Context
	var releases []func()
	for range cap(slots) {
		ctx, release, err := e.a.HoldL7(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		held, releases = append(held, ctx), append(releases, release)
	}
	waiting, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, _, err := e.a.HoldL7(waiting); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("HoldL7 with every slot held = %v, want it to wait until its context ends", err)
	}
	if _, err := e.a.Apply(held[0], shard); err != nil {
		t.Fatalf("Apply in a context that holds a slot: %v", err)
	}
	if got := len(slots); got != cap(slots) {
		t.Fatalf("%d slots taken after the held Apply, want %d", got, cap(slots))
	}
	releases[0]()
	releases[0]()
	if got := len(slots); got != cap(slots)-1 {
		t.Fatalf("%d slots taken after one release called twice, want %d", got, cap(slots)-1)
	}
	for _, r := range releases[1:] {
		r()
	}
	if got := len(slots); got != 0 {
		t.Errorf("%d slots taken after every release, want 0", got)
	}
}
