package install

import (
	"context"
	"strings"
	"testing"
	"time"

	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/certs"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/tests/harness"
	"github.com/vipgate/vipgate/webhooks"
)

// TestClassSyncAndSelfManagedCABundle runs webhooks.ClassSync (the Ingress
// webhook's classes) and certs.Manager (caBundle) on the same live
// configuration, as the leader of a --self-managed-certs install does: each
// patches only its own field, so neither undoes the other, whatever the order.
func TestClassSyncAndSelfManagedCABundle(t *testing.T) {
	ctx := context.Background()
	const service = "vipgate-classes-webhook"
	ensureNamespace(t, smNamespace)
	t.Cleanup(func() {
		var s corev1.Secret
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: smNamespace, Name: certs.SecretNameFor(service)}, &s); err == nil {
			_ = env.Client.Delete(ctx, &s)
		}
	})
	t.Cleanup(func() {
		restoreConfigurations(t)
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var v admv1.ValidatingWebhookConfiguration
			if err := env.Client.Get(ctx, types.NamespacedName{Name: webhooks.ValidatingConfigName}, &v); err != nil {
				return err
			}
			for i := range v.Webhooks {
				if v.Webhooks[i].Name == webhooks.HookValidateIngress {
					v.Webhooks[i].MatchConditions = harness.DefaultIngressClassCondition(v.Webhooks[i].MatchConditions)
				}
			}
			return env.Client.Update(ctx, &v)
		}); err != nil {
			t.Errorf("restoring the Ingress webhook's condition: %v", err)
		}
	})
	m, err := certs.NewManager(certs.Options{
		Client: env.Client, Namespace: smNamespace, ServiceName: service, CertDir: t.TempDir(),
		MutatingConfigName: webhooks.MutatingConfigName, ValidatingConfigName: webhooks.ValidatingConfigName,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := config.Defaults()
	sync := &webhooks.ClassSync{Classes: env.Client, API: env.Client, Writer: env.Client, Settings: &s}

	edge := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "avi-edge-install"}, Spec: networkingv1.IngressClassSpec{Controller: webhooks.LBClass}}
	if err := env.Client.Create(ctx, edge); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, edge) })

	wantCondition := func() admv1.MatchCondition {
		var classes networkingv1.IngressClassList
		if err := env.Client.List(ctx, &classes); err != nil {
			t.Fatal(err)
		}
		return webhooks.IngressCondition(webhooks.IngressRouting(classes.Items, &s))
	}
	check := func(step string, bundle []byte) {
		t.Helper()
		var v admv1.ValidatingWebhookConfiguration
		if err := env.Client.Get(ctx, types.NamespacedName{Name: webhooks.ValidatingConfigName}, &v); err != nil {
			t.Fatal(err)
		}
		for _, h := range v.Webhooks {
			// ClassSync's is the first condition; the others are the configuration's own.
			if h.Name == webhooks.HookValidateIngress && (len(h.MatchConditions) == 0 || h.MatchConditions[0] != wantCondition()) {
				t.Errorf("%s: Ingress webhook conditions %+v, want %+v first", step, h.MatchConditions, wantCondition())
			}
		}
		checkInjected(t, bundle)
	}

	// Classes first, then the caBundle.
	if changed, err := sync.Sync(ctx); err != nil || !changed {
		t.Fatalf("ClassSync: changed=%v err=%v; want the new class written", changed, err)
	}
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	st := readSecretNamed(t, service)
	check("class, then caBundle", st)
	// Nothing to do for either now.
	if changed, err := sync.Sync(ctx); err != nil || changed {
		t.Errorf("second ClassSync: changed=%v err=%v; want nothing to do", changed, err)
	}
	// The caBundle changes under the class sync (another CA injected), then a class goes.
	if err := updateMutating(ctx, env.CAData, nil); err != nil {
		t.Fatal(err)
	}
	if err := updateValidating(ctx, env.CAData, nil); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, edge); err != nil {
		t.Fatal(err)
	}
	if changed, err := sync.Sync(ctx); err != nil || !changed {
		t.Fatalf("ClassSync after the class was deleted: changed=%v err=%v", changed, err)
	}
	check("caBundle, then class", env.CAData)
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	check("caBundle again", st)
}

// readSecretNamed returns the CA bundle the Manager keeps for service.
func readSecretNamed(t *testing.T, service string) []byte {
	t.Helper()
	var s corev1.Secret
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: smNamespace, Name: certs.SecretNameFor(service)}, &s); err != nil {
		t.Fatal(err)
	}
	return certs.CABundle(s.Data, time.Now())
}

// TestMatchConditionsAcceptedByTheAPIServer: every shape of condition vipgate
// writes compiles as CEL on the real API server, including the constant false
// of a cluster without any IngressClass of vipgate's and of layer7Only.
func TestMatchConditionsAcceptedByTheAPIServer(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		o    webhooks.ConfigOptions
	}{
		{"nothing routed", webhooks.ConfigOptions{Layer7Only: true}},
		{"class-less Ingresses only", webhooks.ConfigOptions{DefaultIngressClass: true}},
		{"several classes and class-less", webhooks.ConfigOptions{DefaultLBController: true, IngressClasses: []string{"avi-lb", "avi-edge.example"}, DefaultIngressClass: true}},
		{"classes only", webhooks.ConfigOptions{IngressClasses: []string{"avi-lb"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.BaseURL = "https://127.0.0.1:1"
			m, v := webhooks.Configurations(o)
			m.Name, v.Name = "cel-check", "cel-check" // dry run: stored under no name
			if err := env.Client.Create(ctx, m, client.DryRunAll); err != nil {
				t.Errorf("MutatingWebhookConfiguration: %v", err)
			}
			if err := env.Client.Create(ctx, v, client.DryRunAll); err != nil {
				t.Errorf("ValidatingWebhookConfiguration: %v", err)
			}
		})
	}
	// The check is real: an expression that is not CEL is refused.
	_, v := webhooks.Configurations(webhooks.ConfigOptions{BaseURL: "https://127.0.0.1:1"})
	v.Name = "cel-check"
	v.Webhooks[1].MatchConditions[0].Expression = "object.spec.ingressClassName in ['avi-lb'"
	if err := env.Client.Create(ctx, v, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "compilation failed") {
		t.Errorf("a malformed expression: want a CEL compilation error, got %v", err)
	}
}
