package install

import (
	"context"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/tests/manifests"
	"github.com/vipgate/vipgate/webhooks"
)

// ensureNamespace creates vipgate's namespace: a server-side dry run of the
// namespaced objects needs it to exist (the dry-run Namespace is not stored).
func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}

// kubectlKey is how kubectl names an object in apply's output:
// <lower-case kind>[.<group>]/<name>.
func kubectlKey(u *unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	k := strings.ToLower(gvk.Kind)
	if gvk.Group != "" {
		k += "." + gvk.Group
	}
	return k + "/" + u.GetName()
}

// applyLine is one line of `kubectl apply --dry-run=server` output.
var applyLine = regexp.MustCompile(`^(\S+/\S+) (created|configured|unchanged) \(server dry run\)$`)

// lastApplied is kubectl's warning for an object that exists but was not made
// by kubectl apply. Any other warning (a deprecated API, an unknown field) fails.
var lastApplied = regexp.MustCompile(`^Warning: resource (namespaces/` + manifests.ReleaseNamespace + `|customresourcedefinitions/(aviinfrasettings|hostrules|httprules|l4rules)\.ako\.vmware\.com) is missing the kubectl\.kubernetes\.io/last-applied-configuration annotation`)

// preexisting are the objects the test API server already holds before the
// dry run (vipgate's CRDs, installed by the harness, and the namespace);
// kubectl reports them configured or unchanged, not created.
var preexisting = map[string]bool{
	"customresourcedefinition.apiextensions.k8s.io/aviinfrasettings.ako.vmware.com": true,
	"customresourcedefinition.apiextensions.k8s.io/hostrules.ako.vmware.com":        true,
	"customresourcedefinition.apiextensions.k8s.io/httprules.ako.vmware.com":        true,
	"customresourcedefinition.apiextensions.k8s.io/l4rules.ako.vmware.com":          true,
	"namespace/" + manifests.ReleaseNamespace:                                       true,
}

// withoutHarnessWebhooks removes the webhook configurations the harness
// installed (same names as the chart's, but with URL client configs, which a
// merge with the chart's Service client configs would make invalid), so the
// dry run sees a fresh cluster; they are put back at cleanup.
func withoutHarnessWebhooks(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var m admv1.MutatingWebhookConfiguration
	var v admv1.ValidatingWebhookConfiguration
	if err := env.Client.Get(ctx, types.NamespacedName{Name: webhooks.MutatingConfigName}, &m); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, types.NamespacedName{Name: webhooks.ValidatingConfigName}, &v); err != nil {
		t.Fatal(err)
	}
	for _, o := range []client.Object{&m, &v} {
		if err := env.Client.Delete(ctx, o.DeepCopyObject().(client.Object)); err != nil {
			t.Fatal(err)
		}
		o.SetResourceVersion("")
		o.SetUID("")
		o.SetManagedFields(nil)
		o.SetCreationTimestamp(metav1.Time{})
	}
	t.Cleanup(func() {
		for _, o := range []client.Object{&m, &v} {
			if err := env.Client.Create(ctx, o); err != nil {
				t.Errorf("restoring %s: %v", o.GetName(), err)
			}
		}
	})
}

// checkDryRun runs kubectl apply --dry-run=server with args (and stdin) and
// checks that every object of want was accepted exactly once, and nothing else.
func checkDryRun(t *testing.T, want []*unstructured.Unstructured, stdin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := env.Kubectl(ctx, stdin, append([]string{"apply", "--dry-run=server"}, args...)...)
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		l = strings.TrimSpace(l)
		if lastApplied.MatchString(l) {
			continue // objects the harness made with a client, not kubectl apply
		}
		m := applyLine.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("unexpected kubectl output line: %q", l)
			continue
		}
		if _, dup := got[m[1]]; dup {
			t.Errorf("%s reported twice", m[1])
		}
		got[m[1]] = m[2]
	}
	kinds := map[string]bool{}
	for _, u := range want {
		key := kubectlKey(u)
		kinds[u.GetKind()] = true
		verb, ok := got[key]
		switch {
		case !ok:
			t.Errorf("%s (%s) was rendered but not accepted by the API server", key, u.GetKind())
		case verb != "created" && !preexisting[key]:
			t.Errorf("%s: %s, want created (it does not exist yet)", key, verb)
		}
		delete(got, key)
	}
	for key, verb := range got {
		t.Errorf("kubectl reported %s %s, which was not in the rendered list", key, verb)
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	t.Logf("accepted %d objects of %d kinds: %s", len(want), len(names), strings.Join(names, ", "))
	if t.Failed() {
		t.Logf("kubectl output:\n%s", out)
	}
}

// kindsOf lists the kinds in objs, for checks that a variant renders what it should.
func kindsOf(objs []*unstructured.Unstructured) map[string]int {
	out := map[string]int{}
	for _, u := range objs {
		out[u.GetKind()]++
	}
	return out
}

// TestChartServerDryRun renders the chart (with its CRDs) and applies it with
// kubectl --dry-run=server: the API server validates every object against its
// schema (cert-manager's Issuers and Certificates included), defaulting and
// admission, without storing anything.
func TestChartServerDryRun(t *testing.T) {
	ensureNamespace(t, manifests.ReleaseNamespace)
	withoutHarnessWebhooks(t)
	for _, tc := range []struct {
		name   string
		values map[string]string
		// kinds that must (or, with 0, must not) be rendered
		kinds map[string]int
	}{
		{"defaults (cert-manager)", nil, map[string]int{
			"CustomResourceDefinition": 4, "Deployment": 1, "Service": 2,
			"MutatingWebhookConfiguration": 1, "ValidatingWebhookConfiguration": 1,
			"Issuer": 2, "Certificate": 2, "IngressClass": 1,
		}},
		{"self-managed certificates", map[string]string{"vipgate.certManager.enabled": "false"}, map[string]int{
			"CustomResourceDefinition": 4, "Deployment": 1, "Service": 2,
			"MutatingWebhookConfiguration": 1, "ValidatingWebhookConfiguration": 1,
			"Issuer": 0, "Certificate": 0,
		}},
		// The bundled Gateway API CRDs (and the standard channel's
		// ValidatingAdmissionPolicy) are not in this test API server: created.
		{"Gateway API webhooks and CRDs", map[string]string{"featureGates.GatewayAPI": "true", "vipgate.gatewayAPI.installCRDs": "true"}, map[string]int{
			"CustomResourceDefinition": 14, "ValidatingWebhookConfiguration": 1,
			"ValidatingAdmissionPolicy": 1, "ValidatingAdmissionPolicyBinding": 1,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := manifests.RenderChartWith(t, manifests.RenderOptions{Values: tc.values, IncludeCRDs: true})
			objs := manifests.Objects(t, stream)
			got := kindsOf(objs)
			for k, n := range tc.kinds {
				if got[k] != n {
					t.Errorf("rendered %d %s, want %d", got[k], k, n)
				}
			}
			checkDryRun(t, objs, string(stream), "-f", "-")
		})
	}
}

// TestKustomizeServerDryRun applies the kustomize base with kubectl
// --dry-run=server -k, the other install path the README documents.
func TestKustomizeServerDryRun(t *testing.T) {
	ensureNamespace(t, manifests.ReleaseNamespace)
	withoutHarnessWebhooks(t)
	base := filepath.Join(env.Root, "manifests", "kustomize", "base")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	built, err := env.Kubectl(ctx, "", "kustomize", base)
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", base, err, built)
	}
	objs := manifests.Objects(t, []byte(built))
	kinds := kindsOf(objs)
	for _, k := range []string{"Namespace", "CustomResourceDefinition", "Deployment", "Certificate", "Issuer", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		if kinds[k] == 0 {
			t.Errorf("the kustomize base has no %s", k)
		}
	}
	checkDryRun(t, objs, "", "-k", base)
}
