package gateway

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	admv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/tests/harness"
	"github.com/vipgate/vipgate/tests/manifests"
	"github.com/vipgate/vipgate/webhooks"
)

// chartClass is the GatewayClass the chart is rendered for here: the
// harness's own Gateway webhook routes only avi-lb, so a refusal of a
// Gateway of this class can only come from the chart's webhook.
const chartClass = "avi-chart"

// TestChartGatewayWebhooks: the Gateway and HTTPRoute webhooks the chart
// renders with featureGates.GatewayAPI (rules, paths, match condition) are
// called by the real API server and reach vipgate's handlers: with the
// harness's Gateway API hooks taken out, a bad Gateway of the chart's class
// and a bad HTTPRoute are refused with vipgate's messages, and a Gateway of
// a class the chart does not list is admitted.
func TestChartGatewayWebhooks(t *testing.T) {
	sim := harness.StartSim(t, avisim.DemoSeed())
	start(t, sim, nil)
	ctx := context.Background()

	withoutHarnessGatewayHooks(t)
	ns := newNamespace(t)
	other := newNamespace(t)
	twoAddresses := func(name, class string) string {
		return "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n  gatewayClassName: " + class +
			"\n  addresses: [{value: 10.50.0.20}, {value: 10.50.0.21}]\n  listeners:\n  - {name: http, port: 80, protocol: HTTP}\n"
	}
	harness.Eventually(t, "the API server stops calling the harness's Gateway webhook", func() string {
		if out, err := env.Kubectl(ctx, twoAddresses("probe", gatewayClass), "apply", "--dry-run=server", "-f", "-"); err != nil {
			return out
		}
		return ""
	})

	hooks := chartGatewayHooks(t)
	if names := []string{hooks[0].Name, hooks[1].Name}; !slices.Equal(names, []string{webhooks.HookValidateGateway, webhooks.HookValidateHTTPRoute}) {
		t.Fatalf("chart Gateway API webhooks %v", names)
	}
	cfg := &admv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "vipgate-chart-gateway"}, Webhooks: hooks}
	env.CreateAndRemove(t, cfg)
	env.CreateAndRemove(t, &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: chartClass},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: "ako.vmware.com/avi-lb"}})

	want := `The Gateway "two" is invalid: spec.addresses: Invalid value: 2: vipgate gives a Gateway one VIP; list at most one address`
	harness.Eventually(t, "the chart's Gateway webhook refuses a Gateway of its class", func() string {
		out, err := env.Kubectl(ctx, twoAddresses("two", chartClass), "apply", "--dry-run=server", "-f", "-")
		if err == nil || !strings.Contains(out, want) {
			return fmt.Sprintf("err %v, kubectl printed\n%s\nwant\n%s", err, out, want)
		}
		return ""
	})
	if out, err := env.Kubectl(ctx, twoAddresses("theirs", "someone-else"), "apply", "--dry-run=server", "-f", "-"); err != nil {
		t.Errorf("a Gateway of a class the chart does not list was refused:\n%s", out)
	}

	gw := gateway(ns, "gw", "http:80:HTTP")
	gw.Spec.GatewayClassName = chartClass
	env.Create(t, gw)
	route := "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: far, namespace: " + ns + "}\nspec:\n" +
		"  parentRefs: [{name: gw}]\n  rules:\n  - backendRefs: [{name: api, namespace: " + other + ", port: 80}]\n"
	want = `The HTTPRoute "far" is invalid: spec.rules[0].backendRefs[0]: Invalid value: "` + other + `/api": Service ` + other + `/api is in another namespace and no ReferenceGrant in ` + other +
		` lets HTTPRoutes of namespace ` + ns + ` use it`
	harness.Eventually(t, "the chart's HTTPRoute webhook refuses a backend in another namespace", func() string {
		out, err := env.Kubectl(ctx, route, "apply", "--dry-run=server", "-f", "-")
		if err == nil || !strings.Contains(out, want) {
			return fmt.Sprintf("err %v, kubectl printed\n%s\nwant\n%s", err, out, want)
		}
		return ""
	})
}

// chartGatewayHooks renders the chart with featureGates.GatewayAPI for
// chartClass and returns its Gateway API webhooks, their Service client
// configs pointed at the test's webhook server (as a cluster's Service
// would be) with the harness's CA as caBundle (cert-manager's job in a cluster).
func chartGatewayHooks(t *testing.T) []admv1.ValidatingWebhook {
	t.Helper()
	objs := manifests.Objects(t, manifests.RenderChart(t, map[string]string{
		"featureGates.GatewayAPI":           "true",
		"vipgate.gatewayAPI.gatewayClasses": "{" + chartClass + "}",
	}))
	var hooks []admv1.ValidatingWebhook
	for _, o := range objs {
		if o.GetKind() != "ValidatingWebhookConfiguration" {
			continue
		}
		var v admv1.ValidatingWebhookConfiguration
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, &v, true); err != nil {
			t.Fatal(err)
		}
		for _, h := range v.Webhooks {
			if len(h.Rules) == 0 || !slices.Contains(h.Rules[0].APIGroups, gatewayv1.GroupName) {
				continue
			}
			if h.ClientConfig.Service == nil || h.ClientConfig.Service.Path == nil {
				t.Fatalf("%s: no Service client config", h.Name)
			}
			h.ClientConfig = admv1.WebhookClientConfig{
				URL:      ptr.To(fmt.Sprintf("https://%s:%d%s", env.WebhookHost, env.WebhookPort, *h.ClientConfig.Service.Path)),
				CABundle: env.CAData,
			}
			hooks = append(hooks, h)
		}
	}
	if len(hooks) != 2 {
		t.Fatalf("the chart rendered %d Gateway API webhooks, want 2", len(hooks))
	}
	return hooks
}

// withoutHarnessGatewayHooks takes the Gateway and HTTPRoute webhooks out of
// the harness's configuration and puts them back at cleanup.
func withoutHarnessGatewayHooks(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var v admv1.ValidatingWebhookConfiguration
	if err := env.Client.Get(ctx, types.NamespacedName{Name: webhooks.ValidatingConfigName}, &v); err != nil {
		t.Fatal(err)
	}
	var kept, removed []admv1.ValidatingWebhook
	for _, h := range v.Webhooks {
		if h.Name == webhooks.HookValidateGateway || h.Name == webhooks.HookValidateHTTPRoute {
			removed = append(removed, h)
		} else {
			kept = append(kept, h)
		}
	}
	if len(removed) != 2 {
		t.Fatalf("the harness's configuration has %d Gateway API webhooks, want 2", len(removed))
	}
	v.Webhooks = kept
	if err := env.Client.Update(ctx, &v); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var cur admv1.ValidatingWebhookConfiguration
		if err := env.Client.Get(ctx, types.NamespacedName{Name: webhooks.ValidatingConfigName}, &cur); err != nil {
			t.Errorf("restoring the harness's Gateway API webhooks: %v", err)
			return
		}
		cur.Webhooks = append(cur.Webhooks, removed...)
		if err := env.Client.Update(ctx, &cur); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("restoring the harness's Gateway API webhooks: %v", err)
		}
	})
}
