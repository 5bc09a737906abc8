package reconcile

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/reconcile"
	"github.com/vipgate/vipgate/rules"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestExhaustedNetwork: an AviInfraSetting on vip-net-b (four addresses)
// serves four Services; the fifth reaches the controller, which refuses it
// ("No available free IPs"): the Service shows AviSynced=False with the
// controller's message and a Warning Event, holds no VsVip, and gets the
// address freed when one of the four is deleted, with a Normal Synced Event
// for the recovery.
func TestExhaustedNetwork(t *testing.T) {
	sim := harness.StartSim(t, nil)
	// The retry after a refused request is shortened so recovery shows up
	// promptly; the default (a minute) is right for a real cluster.
	start(t, sim, nil, func(o *operator.Options) { o.RetryBadRequest = 200 * time.Millisecond })
	ns := newNamespace(t)
	ctx := context.Background()

	// The setting is created (and accepted) before the network fills up:
	// admission would rightly refuse it on an exhausted network.
	ais := infraSetting("net-b-"+ns, "vip-net-b")
	createObj(t, ais)
	waitInfraStatus(t, ais.Name, v1beta1.StatusAccepted)

	onNetB := annotate(rules.AnnInfraSetting, ais.Name)
	held := map[string]string{}
	for i := 1; i <= 4; i++ {
		name := fmt.Sprintf("s%d", i)
		createObj(t, lbService(ns, name, []int32{80}, onNetB))
	}
	for i := 1; i <= 4; i++ {
		name := fmt.Sprintf("s%d", i)
		ip := waitVIP(t, ns, name)
		if !inRange(ip, "10.60.0.2", "10.60.0.5") {
			t.Fatalf("Service %s got %s, outside vip-net-b's range 10.60.0.2-10.60.0.5", name, ip)
		}
		if other, dup := held[ip]; dup {
			t.Fatalf("Services %s and %s both got %s", other, name, ip)
		}
		held[ip] = name
	}

	// No requested IP: admission leaves auto-allocation to the controller.
	fifth := lbService(ns, "s5", []int32{80}, onNetB)
	createObj(t, fifth)
	harness.Eventually(t, "the fifth Service reports the controller's refusal", func() string {
		svc := getService(t, ns, "s5")
		c := syncedCondition(svc)
		if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "No available free IPs") {
			return fmt.Sprintf("condition %+v", c)
		}
		if c.Reason != reconcile.ReasonControllerError {
			return fmt.Sprintf("reason %s, want %s", c.Reason, reconcile.ReasonControllerError)
		}
		if len(svc.Status.LoadBalancer.Ingress) != 0 {
			return fmt.Sprintf("has a VIP %v", svc.Status.LoadBalancer.Ingress)
		}
		return ""
	})
	harness.Eventually(t, "a Warning Event carries the controller's message", func() string {
		evs := serviceEvents(t, fifth)
		for _, e := range evs {
			if e.Type == corev1.EventTypeWarning && strings.Contains(e.Message, "No available free IPs") {
				return ""
			}
		}
		return fmt.Sprintf("events %v", evs)
	})
	if o := simObject(sim, "vsvip", baseName(ns, "s5")); o != nil {
		t.Errorf("a VsVip exists for the refused Service: %v", o)
	}

	// Free an address: the fifth takes it on its next retry.
	var freed string
	for ip, name := range held {
		if name == "s2" {
			freed = ip
		}
	}
	if err := env.Client.Delete(ctx, lbService(ns, "s2", nil)); err != nil {
		t.Fatalf("deleting s2: %v", err)
	}
	if got := waitVIP(t, ns, "s5"); got != freed {
		t.Errorf("the fifth Service got %s, want the freed %s", got, freed)
	}
	if c := syncedCondition(getService(t, ns, "s5")); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("after recovery AviSynced is %+v, want True", c)
	}
	// The recovery is news, unlike a first success: a Normal Synced Event.
	harness.Eventually(t, "a Normal Synced Event after the recovery", func() string {
		evs := serviceEvents(t, fifth)
		for _, e := range evs {
			if e.Type == corev1.EventTypeNormal && e.Reason == reconcile.ReasonSynced && e.Message == "VIP "+freed+" on the controller" {
				return ""
			}
		}
		return fmt.Sprintf("events %v", evs)
	})
}

// TestInfraSettingStatus: valid AviInfraSettings are Accepted (status.status
// and the Accepted condition); one whose network the controller then runs out
// of turns Rejected at the next recheck with the reason, and Accepted again
// once an address is free.
func TestInfraSettingStatus(t *testing.T) {
	sim := harness.StartSim(t, nil)
	op := start(t, sim, nil, func(o *operator.Options) { o.InfraSettingRecheck = 200 * time.Millisecond })
	ctx := context.Background()

	a := infraSetting("status-a", "vip-net-a")
	b := infraSetting("status-b", "vip-net-b")
	createObj(t, a)
	createObj(t, b)
	for _, name := range []string{a.Name, b.Name} {
		got := waitInfraStatus(t, name, v1beta1.StatusAccepted)
		c := meta.FindStatusCondition(got.Status.Conditions, reconcile.ConditionAccepted)
		if c == nil || c.Status != metav1.ConditionTrue || got.Status.Error != "" {
			t.Errorf("%s: Accepted with condition %+v, error %q", name, c, got.Status.Error)
		}
	}

	// Someone else (another cluster, a human) takes every address of vip-net-b.
	var uuids []string
	for i := range 4 {
		uuids = append(uuids, createForeignVsVip(t, op, fmt.Sprintf("elsewhere-%d", i), "vip-net-b"))
	}
	if err := op.Inventory.Refresh(ctx); err != nil {
		t.Fatalf("refreshing the inventory: %v", err)
	}
	got := waitInfraStatus(t, b.Name, v1beta1.StatusRejected)
	if !strings.Contains(got.Status.Error, "vip-net-b") || !strings.Contains(got.Status.Error, "exhausted") {
		t.Errorf("Rejected with error %q; want it to name vip-net-b as exhausted", got.Status.Error)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, reconcile.ConditionAccepted); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("Accepted condition %+v, want False", c)
	}
	waitInfraStatus(t, a.Name, v1beta1.StatusAccepted)

	if err := op.Controller.Delete(ctx, "vsvip", uuids[0], ""); err != nil {
		t.Fatalf("freeing an address: %v", err)
	}
	if err := op.Inventory.Refresh(ctx); err != nil {
		t.Fatalf("refreshing the inventory: %v", err)
	}
	waitInfraStatus(t, b.Name, v1beta1.StatusAccepted)
}

// createForeignVsVip creates, directly on the controller, a VsVip that
// auto-allocates from network and carries no vipgate marker, as another tool
// would; it returns the VsVip's uuid.
func createForeignVsVip(t testing.TB, op *operator.Operator, name, network string) string {
	t.Helper()
	body := map[string]any{
		"name":      name,
		"cloud_ref": "/api/cloud/?name=Default-Cloud",
		"vip": []any{map[string]any{"vip_id": "1", "auto_allocate_ip": true,
			"ipam_network_subnet": map[string]any{"network_ref": "/api/network/?name=" + network}}},
	}
	var out struct {
		UUID string `json:"uuid"`
	}
	if err := op.Controller.Create(context.Background(), "vsvip", body, "", &out); err != nil {
		t.Fatalf("creating VsVip %s on the controller: %v", name, err)
	}
	return out.UUID
}
