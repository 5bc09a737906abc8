package apply_test

import (
	"context"
	"testing"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/crds/v1alpha2"
)

// TestRuleFieldsApplyRemoveAndHold: an L4Rule's fields reach the controller
// with one write per changed object; a second apply writes nothing;
// removing the rule puts vipgate's defaults back (fields the controller has
// no value for are removed); a held rule keeps what the controller has,
// while the pool's servers still follow the Service.
func TestRuleFieldsApplyRemoveAndHold(t *testing.T) {
	e := newEnv(t, avisim.DemoSeed(), "vip-net-a")
	ctx := context.Background()
	svc := service("web", 80)
	rule := &v1alpha2.L4Rule{Spec: v1alpha2.L4RuleSpec{
		AnalyticsProfileRef: v1alpha2.DefaultAnalyticsProfile, ApplicationProfileRef: v1alpha2.DefaultApplicationProfile, NetworkProfileRef: v1alpha2.DefaultNetworkProfile,
		VSDatascriptRefs: []string{"Default-PASV-FTP"},
		BackendProperties: []v1alpha2.BackendProperties{{Port: 80, Protocol: "TCP", LBAlgorithm: "LB_ALGORITHM_ROUND_ROBIN",
			ApplicationPersistenceProfileRef: "System-Persistence-Client-IP", HealthMonitorRefs: []string{"System-Ping"}}},
	}}
	apply := func(set *model.Set) int {
		t.Helper()
		res, err := e.a.Apply(ctx, set)
		if err != nil {
			t.Fatal(err)
		}
		return res.Writes
	}
	pool := func() map[string]any { return e.sim.Objects("admin", "pool")[0] }
	vs := func() map[string]any { return e.sim.Objects("admin", "virtualservice")[0] }

	with := e.build(t, svc, "10.0.0.1")
	model.ApplyL4Rule(with, rule, false)
	apply(with)
	if pool()["lb_algorithm"] != "LB_ALGORITHM_ROUND_ROBIN" || pool()["application_persistence_profile_ref"] == nil || vs()["vs_datascripts"] == nil {
		t.Fatalf("rule not applied: pool %v vs %v", pool(), vs())
	}
	again := e.build(t, svc, "10.0.0.1")
	model.ApplyL4Rule(again, rule, false)
	if w := apply(again); w != 0 {
		t.Fatalf("a second apply wrote %d times", w)
	}

	// Held: the rule's settings stay, the servers follow the endpoints.
	held := e.build(t, svc, "10.0.0.2")
	model.ApplyL4Rule(held, rule, true)
	if w := apply(held); w != 1 {
		t.Fatalf("held apply wrote %d times, want 1 (the pool's servers)", w)
	}
	if pool()["lb_algorithm"] != "LB_ALGORITHM_ROUND_ROBIN" || pool()["application_persistence_profile_ref"] == nil || vs()["vs_datascripts"] == nil {
		t.Fatalf("held rule undone: pool %v vs %v", pool(), vs())
	}
	if s := pool()["servers"].([]any); len(s) != 1 || s[0].(map[string]any)["ip"].(map[string]any)["addr"] != "10.0.0.2" {
		t.Fatalf("servers %v", s)
	}

	// Removed: defaults back, one write per object.
	none := e.build(t, svc, "10.0.0.2")
	model.ApplyL4Rule(none, nil, false)
	if w := apply(none); w != 2 {
		t.Fatalf("removing the rule wrote %d times, want 2 (pool and virtual service)", w)
	}
	if pool()["lb_algorithm"] != model.LBAlgorithmDefault || pool()["application_persistence_profile_ref"] != nil || vs()["vs_datascripts"] != nil {
		t.Fatalf("defaults not restored: pool %v vs %v", pool(), vs())
	}
	if hm := pool()["health_monitor_refs"].([]any); len(hm) != 1 {
		t.Fatalf("health monitors %v", hm)
	}
	none2 := e.build(t, svc, "10.0.0.2")
	model.ApplyL4Rule(none2, nil, false)
	if w := apply(none2); w != 0 {
		t.Fatalf("steady state wrote %d times", w)
	}
}
