package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
	"github.com/vipgate/vipgate/webhooks"
)

// TestIngressAdmission creates Ingresses of class avi-lb through the real API
// server and checks each TLS-Secret and host rule on create and on update,
// plus the cert-manager exception that admits with a warning (via kubectl,
// which prints admission warnings as "Warning:").
func TestIngressAdmission(t *testing.T) {
	ctx := context.Background()
	_, op := startReal(t, avisim.DemoSeed(), nil)
	ensureIngressClass(t, op)
	// A create is judged by the mutating webhook in the call that adds the
	// cleanup finalizer; an update by the validating one.
	hook, updHook := webhookDenial(webhooks.HookMutateIngress), webhookDenial(webhooks.HookValidateIngress)
	ns := newNamespace(t, nil)

	now := time.Now()
	goodCrt, goodKey := certPair(t, "shop.example.com", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	oldCrt, oldKey := certPair(t, "shop.example.com", now.Add(-60*24*time.Hour), now.Add(-24*time.Hour))
	_, otherKey := certPair(t, "shop.example.com", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	secrets := []*corev1.Secret{
		tlsSecret(ns, "good", goodCrt, goodKey),
		tlsSecret(ns, "expired", oldCrt, oldKey),
		tlsSecret(ns, "mismatch", goodCrt, otherKey),
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "opaque"}, Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{corev1.TLSCertKey: goodCrt, corev1.TLSPrivateKeyKey: goodKey}},
	}
	for _, s := range secrets {
		create(t, s)
		// vipgate caches TLS Secrets only; the Opaque one is read from the
		// API server when an Ingress names it, and must still be judged by
		// its type, not reported missing.
		if s.Type == corev1.SecretTypeTLS {
			waitCached(t, op, s, nil)
		}
	}

	tlsPath := `spec.tls[0].secretName: Invalid value: `
	classless := ingress(ns, "classless", "classless.example.com", "nope")
	classless.Spec.IngressClassName = nil
	cases := []struct {
		name string
		ing  *networkingv1.Ingress
		want []string
	}{
		{"TLS Secret missing", ingress(ns, "missing", "shop.example.com", "nope"),
			[]string{tlsPath + `"nope": Secret ` + ns + `/nope does not exist; create it (kubectl create secret tls nope -n ` + ns}},
		{"TLS Secret missing, class-less Ingress", classless,
			[]string{tlsPath + `"nope": Secret ` + ns + `/nope does not exist`}},
		{"TLS Secret of the wrong type", ingress(ns, "opaque", "shop.example.com", "opaque"),
			[]string{tlsPath + `"opaque": Secret ` + ns + `/opaque is of type Opaque; it must be of type kubernetes.io/tls`}},
		{"expired certificate", ingress(ns, "expired", "shop.example.com", "expired"),
			[]string{tlsPath + `"expired": the certificate in Secret ` + ns + `/expired expired on`}},
		{"key does not match the certificate", ingress(ns, "mismatch", "shop.example.com", "mismatch"),
			[]string{tlsPath + `"mismatch": the private key in tls.key of Secret ` + ns + `/mismatch does not match the certificate in tls.crt`}},
		{"TLS host is an IP address", withTLSHost(ingress(ns, "iphost", "shop.example.com", "good"), "10.1.2.3"),
			[]string{`spec.tls[0].hosts[0]: Invalid value: "10.1.2.3": must be a DNS name, not an IP address`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantDenied(t, tryCreate(t, c.ing), append([]string{hook}, c.want...)...)
		})
	}

	// A host that is not a DNS name is refused by the API server's own Ingress
	// validation before any webhook sees it; the user still gets path and value.
	t.Run("invalid rule host (API server validation)", func(t *testing.T) {
		wantDenied(t, tryCreate(t, ingress(ns, "badhost", "Bad_Host.example.com", "")),
			`spec.rules[0].host: Invalid value: "Bad_Host.example.com"`)
	})

	t.Run("cert-manager annotated Ingress without its Secret is admitted with a warning", func(t *testing.T) {
		out, err := env.Kubectl(ctx, `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: cm-shim
  namespace: `+ns+`
  annotations:
    `+rules.AnnCertManagerClusterIssuer+`: letsencrypt
spec:
  ingressClassName: avi-lb
  tls: [{hosts: [cm.example.com], secretName: cm-shim-tls}]
  rules:
  - host: cm.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
`, "apply", "-f", "-")
		cleanupObject(t, &networkingv1.Ingress{ObjectMeta: metaName(ns, "cm-shim")})
		if err != nil {
			t.Fatalf("kubectl apply: %v\n%s", err, out)
		}
		for _, want := range []string{"Warning:", "spec.tls[0].secretName: Secret " + ns + "/cm-shim-tls does not exist yet; cert-manager is expected to issue it", "ingress.networking.k8s.io/cm-shim created"} {
			if !strings.Contains(out, want) {
				t.Errorf("kubectl output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("admitted: valid TLS Secret", func(t *testing.T) {
		if err := tryCreate(t, ingress(ns, "good", "shop.example.com", "good")); err != nil {
			t.Fatalf("want admitted: %v", err)
		}
	})

	// Updates: a Secret or host the Ingress did not have before is checked as on create.
	base := ingress(ns, "upd", "upd.example.com", "good")
	create(t, base)
	updates := []struct {
		name string
		edit func(*networkingv1.Ingress)
		want []string
	}{
		{"update adds a missing TLS Secret", func(i *networkingv1.Ingress) {
			i.Spec.TLS = append(i.Spec.TLS, networkingv1.IngressTLS{Hosts: []string{"upd.example.com"}, SecretName: "gone"})
		}, []string{`spec.tls[1].secretName: Invalid value: "gone": Secret ` + ns + `/gone does not exist`}},
		{"update switches to an expired certificate", func(i *networkingv1.Ingress) { i.Spec.TLS[0].SecretName = "expired" },
			[]string{tlsPath + `"expired": the certificate in Secret ` + ns + `/expired expired on`}},
		{"update adds an IP as TLS host", func(i *networkingv1.Ingress) { i.Spec.TLS[0].Hosts = append(i.Spec.TLS[0].Hosts, "192.0.2.7") },
			[]string{`spec.tls[0].hosts[1]: Invalid value: "192.0.2.7": must be a DNS name, not an IP address`}},
	}
	for _, u := range updates {
		t.Run(u.name, func(t *testing.T) {
			err := update(t, base, func(o client.Object) { u.edit(o.(*networkingv1.Ingress)) })
			wantDenied(t, err, append([]string{updHook}, u.want...)...)
		})
	}

	// Admission judges a Secret by the summary its informer computed, not by a
	// GET: renewing the expired Secret admits an Ingress naming it as soon as
	// vipgate's cache has the new version. The cached copy holds no data, and
	// the summary annotation stays on that copy, never on the API server.
	t.Run("renewed Secret is judged by its new summary", func(t *testing.T) {
		renewed := secrets[1] // "expired"
		if err := update(t, renewed, func(o client.Object) {
			o.(*corev1.Secret).Data = map[string][]byte{corev1.TLSCertKey: goodCrt, corev1.TLSPrivateKeyKey: goodKey}
		}); err != nil {
			t.Fatalf("renewing the Secret: %v", err)
		}
		var fresh corev1.Secret
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(renewed), &fresh); err != nil {
			t.Fatal(err)
		}
		waitCached(t, op, &fresh, func(o client.Object) bool { return o.GetResourceVersion() == fresh.ResourceVersion })
		var cached corev1.Secret
		if err := op.Manager.GetCache().Get(ctx, client.ObjectKeyFromObject(renewed), &cached); err != nil {
			t.Fatal(err)
		}
		if cached.Data != nil || cached.Annotations[ownership.AnnTLSSummary] == "" {
			t.Errorf("cached Secret: want no data and a summary, got %d data keys, annotations %v", len(cached.Data), cached.Annotations)
		}
		if _, ok := fresh.Annotations[ownership.AnnTLSSummary]; ok {
			t.Errorf("the summary annotation reached the API server: %v", fresh.Annotations)
		}
		if err := tryCreate(t, ingress(ns, "renewed", "shop.example.com", "expired")); err != nil {
			t.Fatalf("want admitted with the renewed certificate: %v", err)
		}
	})
}

// withTLSHost makes host the only host of the first tls[] entry.
func withTLSHost(ing *networkingv1.Ingress, host string) *networkingv1.Ingress {
	ing.Spec.TLS[0].Hosts = []string{host}
	return ing
}

// TestIngressStrictFQDNReuse runs vipgate with L7Settings.fqdnReusePolicy
// Strict: a host claimed by an Ingress in one namespace is refused in
// another, on create and on update, and stays usable in its own namespace.
func TestIngressStrictFQDNReuse(t *testing.T) {
	_, op := startReal(t, avisim.DemoSeed(), func(s *config.Settings) { s.L7Settings.FQDNReusePolicy = rules.FQDNReuseStrict })
	ensureIngressClass(t, op)
	hook, updHook := webhookDenial(webhooks.HookMutateIngress), webhookDenial(webhooks.HookValidateIngress)
	team1, team2 := newNamespace(t, nil), newNamespace(t, nil)

	first := ingress(team1, "shop", "strict.example.com", "")
	create(t, first)
	waitCached(t, op, first, nil)

	want := `spec.rules[0].host: Invalid value: "strict.example.com": is already claimed by Ingress ` + team1 + `/shop in another namespace, and L7Settings.fqdnReusePolicy is Strict`
	t.Run("create in another namespace", func(t *testing.T) {
		wantDenied(t, tryCreate(t, ingress(team2, "shop", "strict.example.com", "")), hook, want)
	})
	t.Run("update in another namespace", func(t *testing.T) {
		other := ingress(team2, "other", "other.example.com", "")
		create(t, other)
		err := update(t, other, func(o client.Object) { o.(*networkingv1.Ingress).Spec.Rules[0].Host = "strict.example.com" })
		wantDenied(t, err, updHook, want)
	})
	t.Run("admitted: same host in the same namespace", func(t *testing.T) {
		if err := tryCreate(t, ingress(team1, "shop-admin", "strict.example.com", "")); err != nil {
			t.Fatalf("want admitted: %v", err)
		}
	})
}
