package integration

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
	"github.com/vipgate/vipgate/webhooks"
)

// TestServiceAdmission creates Services through the real API server against
// vipgate on the real path (avisim, alb-sdk, inventory loader) and checks each
// rule of the Service rule book is enforced on create with its message: the
// field path, the offending value and the reason. One vipgate serves every
// case; addresses are distinct per case so admitted Services (which a
// reconciler may give VIPs) never affect another case.
func TestServiceAdmission(t *testing.T) {
	ctx := context.Background()
	_, op := startReal(t, avisim.DemoSeed(), nil)
	// A create is judged by the mutating webhook, in the call that adds the
	// cleanup finalizer (the validating one skips it), unless the Service
	// requests a VIP: the validating webhook judges those, after the API
	// server has set spec.ipFamilies.
	hook := func(svc *corev1.Service) string {
		if svc.Spec.LoadBalancerIP != "" || svc.Annotations[rules.AnnLoadBalancerIP] != "" { //nolint:staticcheck // AKO's surface
			return webhookDenial(webhooks.HookValidateService)
		}
		return webhookDenial(webhooks.HookMutateService)
	}
	ns := newNamespace(t, nil)

	// A Service holding 10.50.0.150, for "held by another Service".
	holder := lbService(ns, "holder", "10.50.0.150")
	create(t, holder)
	waitCached(t, op, holder, nil)

	// A VsVip another cluster created on the controller, holding 10.50.0.190.
	createVsVip(t, op, "other--team-web", "vip-net-a", "10.50.0.190", "vipgate-other")
	// And one nobody marked, holding 10.50.0.191.
	createVsVip(t, op, "hand-made", "vip-net-a", "10.50.0.191", "")
	if err := op.Inventory.Refresh(ctx); err != nil {
		t.Fatalf("refreshing the inventory: %v", err)
	}

	// A shared-VIP group member: key grp, 10.50.0.160, port 80.
	grpA := lbService(ns, "grp-a", "10.50.0.160", annotate(rules.AnnSharedVIP, "grp"))
	create(t, grpA)
	waitCached(t, op, grpA, nil)

	// An AviInfraSetting on vip-net-b that becomes Rejected once vip-net-b is
	// exhausted on the controller. A status reconciler, if running, reaches the
	// same verdict, so the Rejected status written here holds either way.
	rejected := &v1beta1.AviInfraSetting{}
	rejected.Name = "svc-rejected"
	rejected.Spec.Network.VipNetworks = []v1beta1.AviInfraSettingVipNetwork{{NetworkName: "vip-net-b"}}
	create(t, rejected)
	for i, ip := range []string{"10.60.0.2", "10.60.0.3", "10.60.0.4", "10.60.0.5"} {
		createVsVip(t, op, "fill-b-"+string(rune('a'+i)), "vip-net-b", ip, "vipgate-other")
	}
	if err := op.Inventory.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	setInfraStatus(t, rejected, v1beta1.StatusRejected, "static VIP range 10.60.0.2-10.60.0.5 of network vip-net-b (10.60.0.0/28) is exhausted")
	waitCached(t, op, rejected, func(o client.Object) bool {
		return o.(*v1beta1.AviInfraSetting).Status.Status == v1beta1.StatusRejected
	})

	// A Namespace selecting an AviInfraSetting that does not exist.
	nsMissing := newNamespace(t, map[string]string{rules.AnnInfraSetting: "ns-ais-missing"})
	waitCached(t, op, &corev1.Namespace{ObjectMeta: metaName("", nsMissing)}, nil)

	specIP := `spec.loadBalancerIP: Invalid value: `
	annIP := `metadata.annotations[ako.vmware.com/load-balancer-ip]: Invalid value: `
	cases := []struct {
		name string
		svc  *corev1.Service
		want []string
	}{
		{"bad IP syntax", lbService(ns, "syntax", "10.50.0.300"),
			[]string{specIP + `"10.50.0.300": must be a valid IP address, such as 10.50.0.20`}},
		{"bad IP syntax in the annotation", lbService(ns, "syntax-ann", "", annotate(rules.AnnLoadBalancerIP, "ten.fifty")),
			[]string{annIP + `"ten.fifty": must be a valid IP address`}},
		{"IPv6 while ipFamily is V4", lbService(ns, "family", "2001:db8::10"),
			[]string{specIP + `"2001:db8::10": is an IPv6 address, but AKOSettings.ipFamily is V4`}},
		{"outside every VIP network", lbService(ns, "outside", "10.10.0.5"),
			[]string{specIP + `"10.10.0.5": not inside any VIP network of NetworkSettings.vipNetworkList (vip-net-a 10.50.0.0/24, static VIP range 10.50.0.10-10.50.0.200)`}},
		{"inside the subnet, outside the static range", lbService(ns, "range", "10.50.0.5"),
			[]string{specIP + `"10.50.0.5": is inside subnet 10.50.0.0/24 of vip-net-a but outside its static VIP range 10.50.0.10-10.50.0.200`}},
		{"network address", lbService(ns, "netaddr", "10.50.0.0"),
			[]string{specIP + `"10.50.0.0": is the network address of subnet 10.50.0.0/24 (vip-net-a)`}},
		{"broadcast address", lbService(ns, "bcast", "10.50.0.255"),
			[]string{specIP + `"10.50.0.255": is the broadcast address of subnet 10.50.0.0/24 (vip-net-a)`}},
		{"held by another Service", lbService(ns, "second", "10.50.0.150"),
			[]string{specIP + `"10.50.0.150": is already requested or held by Service ` + ns + `/holder`}},
		{"held by another Service, asked by annotation", lbService(ns, "second-ann", "", annotate(rules.AnnLoadBalancerIP, "10.50.0.150")),
			[]string{annIP + `"10.50.0.150": is already requested or held by Service ` + ns + `/holder`}},
		{"held on the controller by another cluster's VsVip", lbService(ns, "taken", "10.50.0.190"),
			[]string{specIP + `"10.50.0.190": is already allocated on the controller to VsVip "other--team-web" (created_by "vipgate-other"), which this cluster does not manage`}},
		{"held on the controller by an unmarked VsVip", lbService(ns, "taken2", "10.50.0.191"),
			[]string{specIP + `"10.50.0.191": is already allocated on the controller to VsVip "hand-made" (no created_by)`}},
		{"spec and annotation disagree", lbService(ns, "mismatch", "10.50.0.170", annotate(rules.AnnLoadBalancerIP, "10.50.0.171")),
			[]string{annIP + `"10.50.0.171": does not match spec.loadBalancerIP "10.50.0.170"`}},
		{"shared-VIP member asks for another IP", lbService(ns, "grp-b", "10.50.0.161", annotate(rules.AnnSharedVIP, "grp"), port(81)),
			[]string{specIP + `"10.50.0.161": differs from "10.50.0.160" requested by Service ` + ns + `/grp-a, which shares VIP key "grp"`}},
		{"shared-VIP member collides on port", lbService(ns, "grp-c", "10.50.0.160", annotate(rules.AnnSharedVIP, "grp")),
			[]string{`spec.ports[0].port: Invalid value: 80: collides with port 80/TCP of Service ` + ns + `/grp-a, which shares VIP key "grp"`}},
		{"AviInfraSetting missing", lbService(ns, "ais-missing", "", annotate(rules.AnnInfraSetting, "no-such-ais")),
			[]string{`metadata.annotations[aviinfrasetting.ako.vmware.com/name]: Invalid value: "no-such-ais": no AviInfraSetting with this name exists`}},
		{"AviInfraSetting Rejected", lbService(ns, "ais-rejected", "", annotate(rules.AnnInfraSetting, "svc-rejected")),
			[]string{`metadata.annotations[aviinfrasetting.ako.vmware.com/name]: Invalid value: "svc-rejected": AviInfraSetting "svc-rejected" is Rejected`}},
		{"Namespace selects a missing AviInfraSetting", lbService(nsMissing, "ns-ais", ""),
			[]string{`metadata.namespace: Invalid value: "` + nsMissing + `": the Namespace selects AviInfraSetting "ns-ais-missing"`, "which does not exist"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := tryCreate(t, c.svc)
			wantDenied(t, err, append([]string{hook(c.svc)}, c.want...)...)
		})
	}

	// Controls: what the rules allow is admitted.
	t.Run("admitted: free address in the static range", func(t *testing.T) {
		if err := tryCreate(t, lbService(ns, "ok", "10.50.0.171")); err != nil {
			t.Fatalf("want admitted: %v", err)
		}
	})
	t.Run("admitted: shared-VIP member with the same IP on another port", func(t *testing.T) {
		if err := tryCreate(t, lbService(ns, "grp-d", "10.50.0.160", annotate(rules.AnnSharedVIP, "grp"), port(443))); err != nil {
			t.Fatalf("want admitted: %v", err)
		}
	})
	// A create costs the API server one webhook call: the mutating webhook
	// judges what it gives the cleanup finalizer, the validating one skips
	// it; a Service that requests a VIP is judged by the validating one too.
	for _, c := range []struct {
		name, svc, ip string
		validating    int
	}{{"one webhook call per create", "calls-auto", "", 0}, {"two for a requested VIP", "calls-ip", "10.50.0.172", 1}} {
		t.Run(c.name, func(t *testing.T) {
			m0, v0 := webhookRequests(t, webhooks.PathMutateService), webhookRequests(t, webhooks.PathValidateService)
			svc := lbService(ns, c.svc, c.ip)
			if err := tryCreate(t, svc); err != nil {
				t.Fatalf("want admitted: %v", err)
			}
			if !slices.Contains(svc.Finalizers, ownership.CleanupFinalizer) {
				t.Errorf("created without the cleanup finalizer: %v", svc.Finalizers)
			}
			if m, v := webhookRequests(t, webhooks.PathMutateService)-m0, webhookRequests(t, webhooks.PathValidateService)-v0; m != 1 || v != c.validating {
				t.Errorf("webhook calls for one create: mutating %d, validating %d; want 1 and %d", m, v, c.validating)
			}
		})
	}
}

// TestServiceAdmissionOnUpdate checks the rules that apply to updates: the
// requested VIP is immutable (the message says to delete and recreate), and a
// shared-VIP member may not move onto a port another member uses.
func TestServiceAdmissionOnUpdate(t *testing.T) {
	_, op := startReal(t, avisim.DemoSeed(), nil)
	hook := webhookDenial(webhooks.HookValidateService)
	ns := newNamespace(t, nil)

	imm := lbService(ns, "imm", "10.50.0.180")
	create(t, imm)
	noIP := lbService(ns, "no-ip", "")
	create(t, noIP)
	grpA := lbService(ns, "grp-a", "10.50.0.182", annotate(rules.AnnSharedVIP, "grp"))
	create(t, grpA)
	grpB := lbService(ns, "grp-b", "10.50.0.182", annotate(rules.AnnSharedVIP, "grp"), port(81))
	create(t, grpB)
	waitCached(t, op, grpA, nil)

	cases := []struct {
		name string
		svc  *corev1.Service
		edit func(*corev1.Service)
		want []string
	}{
		{"change loadBalancerIP", imm, func(s *corev1.Service) { s.Spec.LoadBalancerIP = "10.50.0.181" },
			[]string{`spec.loadBalancerIP: Invalid value: "10.50.0.181": the requested VIP cannot change after the Service is created (it was "10.50.0.180"); delete and recreate the Service`}},
		{"add a VIP to a Service created without one", noIP, func(s *corev1.Service) { s.Spec.LoadBalancerIP = "10.50.0.183" },
			[]string{`spec.loadBalancerIP: Invalid value: "10.50.0.183": the requested VIP cannot change after the Service is created (it was unset); delete and recreate the Service`}},
		{"add a VIP annotation", noIP, func(s *corev1.Service) { s.Annotations = map[string]string{rules.AnnLoadBalancerIP: "10.50.0.184"} },
			[]string{`metadata.annotations[ako.vmware.com/load-balancer-ip]: Invalid value: "10.50.0.184": the requested VIP cannot change`}},
		{"shared-VIP member moves onto a taken port", grpB, func(s *corev1.Service) { s.Spec.Ports[0].Port = 80 },
			[]string{`spec.ports[0].port: Invalid value: 80: collides with port 80/TCP of Service ` + ns + `/grp-a`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := update(t, c.svc, func(o client.Object) { c.edit(o.(*corev1.Service)) })
			wantDenied(t, err, append([]string{hook}, c.want...)...)
		})
	}
	t.Run("admitted: an unrelated edit", func(t *testing.T) {
		if err := update(t, imm, func(o client.Object) { o.SetLabels(map[string]string{"tier": "web"}) }); err != nil {
			t.Fatalf("want admitted: %v", err)
		}
	})
}

// update reads obj afresh, applies edit and updates it, retrying on conflicts
// (a reconciler may write the object meanwhile); it returns the final answer.
func update(t testing.TB, obj client.Object, edit func(client.Object)) error {
	t.Helper()
	ctx := context.Background()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := obj.DeepCopyObject().(client.Object)
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
			return err
		}
		edit(cur)
		return env.Client.Update(ctx, cur)
	})
}

// setInfraStatus writes an AviInfraSetting's status.status and status.error.
func setInfraStatus(t testing.TB, ais *v1beta1.AviInfraSetting, status, msg string) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := &v1beta1.AviInfraSetting{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ais), cur); err != nil {
			return err
		}
		cur.Status.Status, cur.Status.Error = status, msg
		return env.Client.Status().Update(ctx, cur)
	})
	if err != nil {
		t.Fatalf("writing AviInfraSetting %s status: %v", ais.Name, err)
	}
}
