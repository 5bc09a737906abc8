package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/reconcile"
	"github.com/vipgate/vipgate/tests/harness"
	"github.com/vipgate/vipgate/webhooks"
)

// TestIngressWebhookFollowsIngressClasses runs vipgate as the binary does
// (SyncIngressWebhook): an IngressClass of vipgate's created after start,
// whose parameters name an AviInfraSetting, is added to the Ingress
// webhook's match condition, so kubectl apply of an Ingress of that class
// with a missing TLS Secret is refused; an Ingress of another controller's
// class is never sent to vipgate, even when vipgate is down and the Ingress
// webhook fails closed; a deleted class leaves the condition again.
func TestIngressWebhookFollowsIngressClasses(t *testing.T) {
	ctx := context.Background()
	restoreIngressRouting(t)
	sim := startSim(t, avisim.DemoSeed())
	settings := harness.DemoSettings(t, sim.Host())
	_, stop := env.StartStoppableVipgate(t, operator.Options{Settings: settings, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour, SyncIngressWebhook: true})
	ns := newNamespace(t, nil)

	seq := nsSeq.Add(1)
	edge, other, gone := fmt.Sprintf("avi-edge-%d", seq), fmt.Sprintf("other-%d", seq), fmt.Sprintf("avi-gone-%d", seq)
	ais := infra(edge, "", byName("vip-net-a"))
	create(t, ais)
	create(t, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: edge}, Spec: networkingv1.IngressClassSpec{
		Controller: webhooks.LBClass,
		Parameters: &networkingv1.IngressClassParametersReference{APIGroup: ptr.To("ako.vmware.com"), Kind: "AviInfraSetting", Name: ais.Name},
	}})
	create(t, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: other}, Spec: networkingv1.IngressClassSpec{Controller: "example.com/other-ingress"}})

	// The leader writes exactly what IngressRouting computes from the cluster's classes.
	waitIngressCondition(t, settings, func(expr string) string {
		if !strings.Contains(expr, "'"+edge+"'") || strings.Contains(expr, other) {
			return "want " + edge + " routed and " + other + " not"
		}
		return ""
	})

	// The API server picks the configuration up asynchronously: a server dry
	// run tells when it does, then the real apply is refused.
	edgeIng := ingressManifest(ns, "edge", edge, "edge-tls")
	refusal := []string{`The Ingress "edge" is invalid: `, `spec.tls[0].secretName: Invalid value: "edge-tls": Secret ` + ns + `/edge-tls does not exist`}
	harness.Eventually(t, "a server dry run of an Ingress of class "+edge+" refused by vipgate", func() string {
		out, err := env.Kubectl(ctx, edgeIng, "apply", "--dry-run=server", "-f", "-")
		if err == nil || !strings.Contains(out, refusal[1]) {
			return out
		}
		return ""
	})
	// A create is judged in one call, by the mutating webhook (or by the
	// validating one if the mutating one's condition has not caught up).
	ingressRequests := func() int {
		return webhookRequests(t, webhooks.PathMutateIngress) + webhookRequests(t, webhooks.PathValidateIngress)
	}
	before := ingressRequests()
	out, err := env.Kubectl(ctx, edgeIng, "apply", "-f", "-")
	cleanupObject(t, &networkingv1.Ingress{ObjectMeta: metaName(ns, "edge")})
	if err == nil {
		t.Errorf("kubectl apply of an Ingress of class %s with a missing Secret succeeded:\n%s", edge, out)
	}
	for _, w := range refusal {
		if !strings.Contains(out, w) {
			t.Errorf("kubectl output lacks %q:\n%s", w, out)
		}
	}
	if after := ingressRequests(); after != before+1 {
		t.Errorf("the refused Ingress made %d requests to vipgate, want 1", after-before)
	}

	// Another controller's Ingress: admitted as is, vipgate never asked.
	before = ingressRequests()
	out, err = env.Kubectl(ctx, ingressManifest(ns, "theirs", other, "theirs-tls"), "apply", "-f", "-")
	cleanupObject(t, &networkingv1.Ingress{ObjectMeta: metaName(ns, "theirs")})
	if err != nil || !strings.Contains(out, "ingress.networking.k8s.io/theirs created") || strings.Contains(out, "Warning") {
		t.Errorf("Ingress of class %s: want created without a warning: %v\n%s", other, err, out)
	}
	if after := ingressRequests(); after != before {
		t.Errorf("an Ingress of another controller's class was sent to vipgate (%d requests)", after-before)
	}

	// A class of vipgate's that is deleted leaves the condition.
	gc := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: gone}, Spec: networkingv1.IngressClassSpec{Controller: webhooks.LBClass}}
	create(t, gc)
	waitIngressCondition(t, settings, func(expr string) string {
		if !strings.Contains(expr, "'"+gone+"'") {
			return "want " + gone + " routed"
		}
		return ""
	})
	if err := env.Client.Delete(ctx, gc); err != nil {
		t.Fatal(err)
	}
	waitIngressCondition(t, settings, func(expr string) string {
		if strings.Contains(expr, "'"+gone+"'") || !strings.Contains(expr, "'"+edge+"'") {
			return "want " + gone + " gone and " + edge + " still routed"
		}
		return ""
	})

	// vipgate down, and the harness's Ingress webhooks fail closed: an
	// Ingress of vipgate's class is refused for want of an answer, another
	// controller's goes through, since the condition never sends it. The
	// mutating hook, whose class condition follows the classes too, is the
	// first called.
	stop()
	mine := ingress(ns, "edge-down", "edge.example.com", "")
	mine.Spec.IngressClassName = ptr.To(edge)
	err = tryCreate(t, mine)
	if err == nil || !strings.Contains(err.Error(), `failed calling webhook "`+webhooks.HookMutateIngress+`"`) {
		t.Errorf("Ingress of class %s with vipgate down: want failed calling the webhook, got %v", edge, err)
	}
	theirs := ingress(ns, "theirs-down", "theirs.example.com", "theirs-tls")
	theirs.Spec.IngressClassName = ptr.To(other)
	if err := tryCreate(t, theirs); err != nil {
		t.Errorf("Ingress of class %s with vipgate down: want admitted, got %v", other, err)
	}
}

// TestIngressHandlerJudgesOnlyItsOwn posts Ingresses straight to the webhook
// server, as a configuration that has not caught up yet would send them: one
// of another controller's class is admitted untouched (no warning), one of a
// class of vipgate's is judged, including a class just created that vipgate's
// cache may not hold yet.
func TestIngressHandlerJudgesOnlyItsOwn(t *testing.T) {
	_, op := startReal(t, avisim.DemoSeed(), nil)
	ensureIngressClass(t, op)
	ns := newNamespace(t, nil)
	seq := nsSeq.Add(1)
	other, fresh := fmt.Sprintf("nginx-%d", seq), fmt.Sprintf("avi-fresh-%d", seq)
	create(t, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: other}, Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}})
	create(t, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: fresh}, Spec: networkingv1.IngressClassSpec{Controller: webhooks.LBClass}})

	hc := webhookClient(t)
	gvk := metav1.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}
	gvr := metav1.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}
	for _, tc := range []struct {
		class   string
		allowed bool
	}{{other, true}, {fresh, false}, {"avi-lb", false}, {"no-such-class", true}} {
		t.Run(tc.class, func(t *testing.T) {
			ing := ingress(ns, "web", "web.example.com", "missing-tls")
			ing.Spec.IngressClassName = ptr.To(tc.class)
			code, body := postReview(t, hc, webhooks.PathValidateIngress, reviewFor(t, "uid-"+tc.class, gvk, gvr, ing, ns, "web"))
			if code != 200 {
				t.Fatalf("HTTP %d: %s", code, body)
			}
			text := string(body)
			switch {
			case tc.allowed && (!strings.Contains(text, `"allowed":true`) || strings.Contains(text, "warnings")):
				t.Errorf("want admitted untouched: %s", text)
			case !tc.allowed && (!strings.Contains(text, `"allowed":false`) || !strings.Contains(text, "Secret "+ns+"/missing-tls does not exist")):
				t.Errorf("want refused for the missing Secret: %s", text)
			}
		})
	}
}

// TestFailurePolicyIgnoreWhileVipgateDown: with failurePolicy Ignore (the
// chart's default for Services and Ingresses) and vipgate stopped, a Service
// and an Ingress vipgate would refuse are admitted; once vipgate is back, the
// reconciler reports what admission would have said: AviSynced=False and a
// Warning Event on the Service, a Warning Event on the Ingress.
func TestFailurePolicyIgnoreWhileVipgateDown(t *testing.T) {
	ctx := context.Background()
	createIngressClass(t)
	setFailurePolicy(t, admv1.Ignore)
	ns := newNamespace(t, nil)

	out, err := env.Kubectl(ctx, `apiVersion: v1
kind: Service
metadata: {name: outside, namespace: `+ns+`}
spec:
  type: LoadBalancer
  loadBalancerIP: 10.10.0.5
  allocateLoadBalancerNodePorts: false
  ports: [{name: http, port: 80}]
`, "apply", "-f", "-")
	svc := lbService(ns, "outside", "")
	cleanupObject(t, svc)
	if err != nil || !strings.Contains(out, "service/outside created") {
		t.Fatalf("Service with vipgate down: want created: %v\n%s", err, out)
	}
	out, err = env.Kubectl(ctx, ingressManifest(ns, "shop", "avi-lb", "shop-tls"), "apply", "-f", "-")
	cleanupObject(t, &networkingv1.Ingress{ObjectMeta: metaName(ns, "shop")})
	if err != nil || !strings.Contains(out, "ingress.networking.k8s.io/shop created") {
		t.Fatalf("Ingress with vipgate down: want created: %v\n%s", err, out)
	}

	// vipgate is back: the reconciler checks with the same rules.
	_, op := startReal(t, avisim.DemoSeed(), nil)
	ensureIngressClass(t, op)
	const svcMsg = `spec.loadBalancerIP: Invalid value: "10.10.0.5": not inside any VIP network`
	harness.Eventually(t, "AviSynced=False Invalid on the Service", func() string {
		var cur corev1.Service
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(svc), &cur); err != nil {
			return err.Error()
		}
		c := meta.FindStatusCondition(cur.Status.Conditions, reconcile.ConditionSynced)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != reconcile.ReasonInvalid || !strings.Contains(c.Message, svcMsg) {
			return fmt.Sprintf("condition %+v", c)
		}
		if len(cur.Status.LoadBalancer.Ingress) != 0 {
			return fmt.Sprintf("the Service got a VIP: %v", cur.Status.LoadBalancer.Ingress)
		}
		return ""
	})
	harness.Eventually(t, "Warning Events on the Service and the Ingress", func() string {
		if !hasWarning(t, ns, "Service", "outside", reconcile.ReasonInvalid, svcMsg) {
			return "no Warning Event " + reconcile.ReasonInvalid + " on the Service"
		}
		if !hasWarning(t, ns, "Ingress", "shop", reconcile.ReasonTLSUnavailable, "Secret "+ns+"/shop-tls") {
			return "no Warning Event " + reconcile.ReasonTLSUnavailable + " on the Ingress"
		}
		return ""
	})
}

// ingressManifest is an Ingress of class with one TLS entry naming secret.
func ingressManifest(ns, name, class, secret string) string {
	return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
  ingressClassName: ` + class + `
  tls: [{hosts: [` + name + `.example.com], secretName: ` + secret + `}]
  rules:
  - host: ` + name + `.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
`
}

// ingressCondition reads the Ingress webhook's match conditions from the API server.
func ingressConditions(t testing.TB) []admv1.MatchCondition {
	t.Helper()
	var v admv1.ValidatingWebhookConfiguration
	if err := env.Client.Get(context.Background(), types.NamespacedName{Name: webhooks.ValidatingConfigName}, &v); err != nil {
		t.Fatalf("reading %s: %v", webhooks.ValidatingConfigName, err)
	}
	for _, h := range v.Webhooks {
		if h.Name == webhooks.HookValidateIngress {
			return h.MatchConditions
		}
	}
	t.Fatalf("%s has no %s", webhooks.ValidatingConfigName, webhooks.HookValidateIngress)
	return nil
}

// waitIngressCondition waits until the Ingress webhook's condition is the one
// webhooks.IngressRouting computes from the API server's IngressClasses and
// check (what the test expects of it) is satisfied.
func waitIngressCondition(t testing.TB, s *config.Settings, check func(expr string) string) {
	t.Helper()
	harness.Eventually(t, "the Ingress webhook's condition following the IngressClasses", func() string {
		var classes networkingv1.IngressClassList
		if err := env.Client.List(context.Background(), &classes); err != nil {
			return err.Error()
		}
		want := webhooks.IngressCondition(webhooks.IngressRouting(classes.Items, s))
		got := ingressConditions(t)
		if len(got) == 0 || got[0] != want {
			return fmt.Sprintf("conditions %+v, want %+v first", got, want)
		}
		return check(got[0].Expression)
	})
}

// restoreIngressRouting puts the harness's Ingress condition back at cleanup
// (after vipgate has stopped, so register it first), and waits until the API
// server routes avi-lb Ingresses to vipgate again, for the tests that follow.
func restoreIngressRouting(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		ctx := context.Background()
		if err := editValidating(ctx, func(h *admv1.ValidatingWebhook) {
			if h.Name == webhooks.HookValidateIngress {
				h.MatchConditions = harness.DefaultIngressClassCondition(h.MatchConditions)
			}
		}); err != nil {
			t.Errorf("restoring the Ingress webhook's condition: %v", err)
			return
		}
		if err := editMutatingHooks(ctx, func(h *admv1.MutatingWebhook) {
			if h.Name == webhooks.HookMutateIngress {
				h.MatchConditions = harness.DefaultIngressClassCondition(h.MatchConditions)
			}
		}); err != nil {
			t.Errorf("restoring the Ingress mutating webhook's condition: %v", err)
			return
		}
		// A create meets the mutating webhook first; an update (the class
		// changed to avi-lb) only the validating one.
		waitRefusedUnanswered(t, ingress("default", "probe-routing", "probe.example.com", ""), webhooks.HookMutateIngress)
		waitUpdateRefusedUnanswered(t, ingress("default", "probe-routing", "probe.example.com", ""), webhooks.HookValidateIngress)
	})
}

// waitUpdateRefusedUnanswered stores obj with an IngressClass nobody
// routes, then waits until a dry-run update that gives it class avi-lb
// fails calling hook (no vipgate answers), and deletes it.
func waitUpdateRefusedUnanswered(t testing.TB, obj *networkingv1.Ingress, hook string) {
	t.Helper()
	ctx := context.Background()
	obj.Spec.IngressClassName = ptr.To("probe-unrouted")
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatalf("creating the routing probe %s: %v", obj.Name, err)
	}
	defer func() {
		if err := env.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			t.Errorf("deleting the routing probe %s: %v", obj.Name, err)
		}
	}()
	harness.Eventually(t, "the API server routing an update of "+obj.Name+" to "+hook, func() string {
		upd := obj.DeepCopy()
		upd.Spec.IngressClassName = ptr.To("avi-lb")
		err := env.Client.Update(ctx, upd, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), `failed calling webhook "`+hook+`"`) {
			return fmt.Sprintf("dry run: %v", err)
		}
		return ""
	})
}

// setFailurePolicy sets the failurePolicy of vipgate's Service and Ingress
// webhooks, with no vipgate running, and waits until the API server applies
// it (a class-less LoadBalancer Service is admitted unanswered). At cleanup,
// after vipgate has stopped, Fail is put back and awaited the same way.
func setFailurePolicy(t *testing.T, p admv1.FailurePolicyType) {
	t.Helper()
	ctx := context.Background()
	soft := func(p admv1.FailurePolicyType) error {
		if err := editMutating(ctx, p); err != nil {
			return err
		}
		return editValidating(ctx, func(h *admv1.ValidatingWebhook) {
			if h.Name == webhooks.HookValidateService || h.Name == webhooks.HookValidateIngress {
				h.FailurePolicy = ptr.To(p)
			}
		})
	}
	probe := lbService("default", "probe-policy", "")
	t.Cleanup(func() {
		if err := soft(admv1.Fail); err != nil {
			t.Errorf("restoring failurePolicy Fail: %v", err)
			return
		}
		waitRefusedUnanswered(t, probe, webhooks.HookMutateService)
	})
	if err := soft(p); err != nil {
		t.Fatalf("setting failurePolicy %s: %v", p, err)
	}
	harness.Eventually(t, "the API server applying failurePolicy "+string(p), func() string {
		if err := env.Client.Create(ctx, probe.DeepCopy(), client.DryRunAll); err != nil {
			return err.Error()
		}
		return ""
	})
}

// waitRefusedUnanswered waits until a dry-run create of obj fails because
// hook (failurePolicy Fail) cannot be called: vipgate is down and the API
// server routes obj to it with the current configuration.
func waitRefusedUnanswered(t testing.TB, obj client.Object, hook string) {
	t.Helper()
	harness.Eventually(t, "the API server routing "+obj.GetName()+" to "+hook, func() string {
		err := env.Client.Create(context.Background(), obj.DeepCopyObject().(client.Object), client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), `failed calling webhook "`+hook+`"`) {
			return fmt.Sprintf("dry run: %v", err)
		}
		return ""
	})
}

func editValidating(ctx context.Context, edit func(*admv1.ValidatingWebhook)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var v admv1.ValidatingWebhookConfiguration
		if err := env.Client.Get(ctx, types.NamespacedName{Name: webhooks.ValidatingConfigName}, &v); err != nil {
			return err
		}
		for i := range v.Webhooks {
			edit(&v.Webhooks[i])
		}
		return env.Client.Update(ctx, &v)
	})
}

func editMutating(ctx context.Context, p admv1.FailurePolicyType) error {
	return editMutatingHooks(ctx, func(h *admv1.MutatingWebhook) { h.FailurePolicy = ptr.To(p) })
}

func editMutatingHooks(ctx context.Context, edit func(*admv1.MutatingWebhook)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var m admv1.MutatingWebhookConfiguration
		if err := env.Client.Get(ctx, types.NamespacedName{Name: webhooks.MutatingConfigName}, &m); err != nil {
			return err
		}
		for i := range m.Webhooks {
			edit(&m.Webhooks[i])
		}
		return env.Client.Update(ctx, &m)
	})
}

// webhookRequests is how many requests vipgate's webhook server has answered
// on path, across every vipgate this process ran (controller-runtime's counter).
func webhookRequests(t testing.TB, path string) int {
	t.Helper()
	mfs, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() != "controller_runtime_webhook_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "webhook" && l.GetValue() == path {
					n += int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return n
}

// hasWarning reports whether a Warning Event with reason and a message
// containing msg was recorded on the named object.
func hasWarning(t testing.TB, ns, kind, name, reason, msg string) bool {
	t.Helper()
	var evs corev1.EventList
	if err := env.Client.List(context.Background(), &evs, client.InNamespace(ns)); err != nil {
		t.Fatalf("listing Events: %v", err)
	}
	return slices.ContainsFunc(evs.Items, func(e corev1.Event) bool {
		return e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name && e.Type == corev1.EventTypeWarning &&
			e.Reason == reason && strings.Contains(e.Message, msg)
	})
}

// createIngressClass creates the avi-lb IngressClass once per package: the
// cluster default, as the chart makes it with L7Settings.defaultIngController.
func createIngressClass(t testing.TB) {
	t.Helper()
	ic := &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: "avi-lb", Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
		Spec:       networkingv1.IngressClassSpec{Controller: webhooks.LBClass},
	}
	if err := env.Client.Create(context.Background(), ic); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating IngressClass avi-lb: %v", err)
	}
}
