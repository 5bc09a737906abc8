package manifests_test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	admv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/vipgate/vipgate/certs"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/tests/manifests"
	"github.com/vipgate/vipgate/webhooks"
)

const (
	ns         = manifests.ReleaseNamespace
	webhookSvc = "vipgate-webhook"
)

// rendered is a chart rendering indexed by kind and name.
type rendered struct {
	objs []*unstructured.Unstructured
}

func render(t *testing.T, values map[string]string) rendered {
	t.Helper()
	return rendered{manifests.Objects(t, manifests.RenderChart(t, values))}
}

func (r rendered) find(kind, name string) *unstructured.Unstructured {
	for _, o := range r.objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			return o
		}
	}
	return nil
}

func (r rendered) all(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range r.objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// get converts a rendered object to its typed form, rejecting unknown fields,
// so a misspelt field in a template fails here instead of being dropped by the API server.
func get[T any](t *testing.T, r rendered, kind, name string) *T {
	t.Helper()
	u := r.find(kind, name)
	if u == nil {
		t.Fatalf("no %s %q rendered", kind, name)
	}
	return typed[T](t, u)
}

func typed[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, out, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

func TestHelmLint(t *testing.T) {
	for _, set := range [][]string{nil, {"--set", "vipgate.certManager.enabled=false"}} {
		args := append([]string{"lint", "--strict", manifests.ChartDir(t)}, set...)
		if out, err := manifests.TryHelm(t, args...); err != nil {
			t.Errorf("helm lint %v failed: %v\n%s", set, err, out)
		}
	}
}

func TestRenderedKindsAndUniqueness(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]string
		want   []string
		absent []string
	}{
		{"cert-manager", nil,
			[]string{"ConfigMap", "Secret", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "PodDisruptionBudget", "Service", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "IngressClass", "NetworkPolicy", "Issuer", "Certificate"},
			[]string{"ServiceMonitor", "CustomResourceDefinition"}},
		{"self-managed", map[string]string{"vipgate.certManager.enabled": "false"},
			[]string{"Deployment", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"},
			[]string{"Issuer", "Certificate", "ServiceMonitor"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.values)
			seen := map[string]bool{}
			for _, o := range r.objs {
				key := o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
				if seen[key] {
					t.Errorf("rendered twice: %s", key)
				}
				seen[key] = true
				if o.GetAPIVersion() == "" || o.GetName() == "" {
					t.Errorf("object without apiVersion or name: %v", o.Object)
				}
			}
			for _, k := range tc.want {
				if r.find(k, "") == nil {
					t.Errorf("no %s rendered", k)
				}
			}
			for _, k := range tc.absent {
				if r.find(k, "") != nil {
					t.Errorf("%s rendered but should not be", k)
				}
			}
		})
	}
}

func TestRBACLeastPrivilege(t *testing.T) {
	for _, selfManaged := range []bool{false, true} {
		r := render(t, map[string]string{"vipgate.certManager.enabled": boolStr(!selfManaged)})
		cr := get[rbacv1.ClusterRole](t, r, "ClusterRole", "vipgate")
		role := get[rbacv1.Role](t, r, "Role", "vipgate")
		for _, rules := range [][]rbacv1.PolicyRule{cr.Rules, role.Rules} {
			for _, rule := range rules {
				for _, list := range [][]string{rule.Verbs, rule.Resources, rule.APIGroups} {
					if slices.Contains(list, "*") {
						t.Errorf("wildcard in rule %+v", rule)
					}
				}
				if len(rule.NonResourceURLs) > 0 {
					t.Errorf("non-resource URLs granted: %+v", rule)
				}
				for _, v := range rule.Verbs {
					if slices.Contains([]string{"delete", "deletecollection", "escalate", "bind", "impersonate"}, v) {
						t.Errorf("verb %s granted in %+v", v, rule)
					}
				}
			}
		}
		// What vipgate needs, cluster-wide.
		want := map[string][]string{
			"/services":                              {"get", "list", "watch", "patch"},
			"/services/status":                       {"patch"},
			"/namespaces":                            {"get", "list", "watch"},
			"/nodes":                                 {"get", "list", "watch"},
			"/secrets":                               {"get", "list", "watch"},
			"/events":                                {"create", "patch"},
			"discovery.k8s.io/endpointslices":        {"get", "list", "watch"},
			"networking.k8s.io/ingresses":            {"get", "list", "watch", "patch"},
			"networking.k8s.io/ingresses/status":     {"patch"},
			"networking.k8s.io/ingressclasses":       {"get", "list", "watch"},
			"ako.vmware.com/aviinfrasettings":        {"get", "list", "watch"},
			"ako.vmware.com/aviinfrasettings/status": {"patch"},
			"ako.vmware.com/hostrules":               {"get", "list", "watch"},
			"ako.vmware.com/httprules":               {"get", "list", "watch"},
			"ako.vmware.com/l4rules":                 {"get", "list", "watch"},
			"ako.vmware.com/hostrules/status":        {"patch"},
			"ako.vmware.com/httprules/status":        {"patch"},
			"ako.vmware.com/l4rules/status":          {"patch"},
			"cert-manager.io/certificates":           {"get", "list", "watch"},
			"events.k8s.io/events":                   {"create", "patch"},
		}
		// Gateway API: classes, Gateways (finalizer) and routes read, status written.
		for _, r := range []string{"gatewayclasses", "httproutes", "tcproutes", "udproutes", "referencegrants"} {
			want["gateway.networking.k8s.io/"+r] = []string{"get", "list", "watch"}
		}
		want["gateway.networking.k8s.io/gateways"] = []string{"get", "list", "watch", "patch"}
		for _, r := range []string{"gatewayclasses", "gateways", "httproutes", "tcproutes", "udproutes"} {
			want["gateway.networking.k8s.io/"+r+"/status"] = []string{"patch"}
		}
		// caBundle (self-managed) and the Ingress webhooks' classes (followIngressClasses, on by default).
		want["admissionregistration.k8s.io/mutatingwebhookconfigurations"] = []string{"get", "patch"}
		// Switching from AKO: its StatefulSet and leader lease, by name.
		want["apps/statefulsets"] = []string{"get"}
		want["coordination.k8s.io/leases"] = []string{"get"}
		// caBundle (self-managed) and the Ingress webhook's classes (followIngressClasses, on by default).
		want["admissionregistration.k8s.io/validatingwebhookconfigurations"] = []string{"get", "patch"}
		got := map[string][]string{}
		for _, rule := range cr.Rules {
			for _, g := range rule.APIGroups {
				for _, res := range rule.Resources {
					got[g+"/"+res] = append(got[g+"/"+res], rule.Verbs...)
				}
			}
			if slices.Contains(rule.Resources, "statefulsets") && !slices.Equal(rule.ResourceNames, []string{"ako"}) ||
				slices.Contains(rule.Resources, "leases") && !slices.Equal(rule.ResourceNames, []string{"ako-lease-lock"}) {
				t.Errorf("AKO status access not limited by name: %+v", rule)
			}
			if slices.Contains(rule.APIGroups, "admissionregistration.k8s.io") {
				wantName := webhooks.MutatingConfigName
				if slices.Contains(rule.Resources, "validatingwebhookconfigurations") {
					wantName = webhooks.ValidatingConfigName
				}
				if !slices.Equal(rule.ResourceNames, []string{wantName}) {
					t.Errorf("webhook configuration access not limited to %s: %+v", wantName, rule)
				}
			}
		}
		for res, verbs := range want {
			if !sameSet(got[res], verbs) {
				t.Errorf("selfManaged=%v ClusterRole %s verbs = %v, want %v", selfManaged, res, got[res], verbs)
			}
		}
		for res := range got {
			if _, ok := want[res]; !ok {
				t.Errorf("selfManaged=%v ClusterRole grants unexpected %s %v", selfManaged, res, got[res])
			}
		}
		// Namespaced: leader election, and the self-managed certificate Secret by name.
		var leases, secretCreate, secretUpdate bool
		for _, rule := range role.Rules {
			switch {
			case slices.Equal(rule.Resources, []string{"leases"}):
				leases = sameSet(rule.Verbs, []string{"get", "create", "update"})
			case slices.Equal(rule.Resources, []string{"secrets"}) && len(rule.ResourceNames) == 0:
				secretCreate = slices.Equal(rule.Verbs, []string{"create"})
			case slices.Equal(rule.Resources, []string{"secrets"}):
				secretUpdate = slices.Equal(rule.ResourceNames, []string{certs.SecretNameFor(webhookSvc)}) && slices.Equal(rule.Verbs, []string{"update"})
			default:
				t.Errorf("unexpected Role rule %+v", rule)
			}
		}
		if !leases {
			t.Errorf("Role lacks leader-election leases")
		}
		if secretCreate != selfManaged || secretUpdate != selfManaged {
			t.Errorf("selfManaged=%v: Role secret create=%v update-by-name=%v", selfManaged, secretCreate, secretUpdate)
		}
		crb := get[rbacv1.ClusterRoleBinding](t, r, "ClusterRoleBinding", "vipgate")
		if crb.RoleRef.Name != "vipgate" || len(crb.Subjects) != 1 || crb.Subjects[0].Name != "vipgate" || crb.Subjects[0].Namespace != ns {
			t.Errorf("ClusterRoleBinding does not bind the vipgate ServiceAccount: %+v", crb)
		}
	}
	off := render(t, map[string]string{"AKOSettings.adoptAKOObjects": "false"})
	offRole := get[rbacv1.ClusterRole](t, off, "ClusterRole", "vipgate")
	for _, rule := range offRole.Rules {
		if slices.Contains(rule.Resources, "statefulsets") || slices.Contains(rule.APIGroups, "coordination.k8s.io") {
			t.Errorf("adoptAKOObjects false still grants reading AKO's StatefulSet and lease: %+v", rule)
		}
	}
}

func TestDeployment(t *testing.T) {
	for _, certManager := range []bool{true, false} {
		r := render(t, map[string]string{"vipgate.certManager.enabled": boolStr(certManager)})
		d := get[appsv1.Deployment](t, r, "Deployment", "vipgate")
		pod := d.Spec.Template.Spec
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
			t.Errorf("replicas = %v, want 2", d.Spec.Replicas)
		}
		if pod.ServiceAccountName != "vipgate" || pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
			t.Errorf("pod must use the vipgate ServiceAccount and mount its token")
		}
		sa := get[corev1.ServiceAccount](t, r, "ServiceAccount", "vipgate")
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Errorf("ServiceAccount must not automount its token by default")
		}
		psc := pod.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("pod security context: %+v", psc)
		}
		if len(pod.Containers) != 1 {
			t.Fatalf("want one container, got %d", len(pod.Containers))
		}
		c := pod.Containers[0]
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 ||
			sc.Privileged == nil || *sc.Privileged {
			t.Errorf("container security context: %+v", sc)
		}
		wantArgs := []string{
			"--settings=/etc/vipgate/settings/settings.yaml",
			"--credentials-dir=/etc/vipgate/credentials",
			"--namespace=$(POD_NAMESPACE)",
			"--webhook-port=9443",
			"--webhook-cert-dir=/etc/vipgate/webhook-certs",
			"--metrics-bind-address=:8080",
			"--health-probe-bind-address=:8081",
			"--leader-elect=true",
			"--webhook-service-name=" + webhookSvc,
			"--self-managed-certs=" + boolStr(!certManager),
			"--sync-ingress-webhook=true",
		}
		if !slices.Equal(c.Args, wantArgs) {
			t.Errorf("args:\n got %q\nwant %q", c.Args, wantArgs)
		}
		if c.Env[0].Name != "POD_NAMESPACE" || c.Env[0].ValueFrom == nil || c.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
			t.Errorf("POD_NAMESPACE not from the downward API: %+v", c.Env)
		}
		// In bytes (no divisor): vipgate sets the runtime's soft limit below it.
		if i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "VIPGATE_MEMORY_LIMIT" }); i < 0 ||
			c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.ResourceFieldRef == nil ||
			c.Env[i].ValueFrom.ResourceFieldRef.Resource != "limits.memory" || !c.Env[i].ValueFrom.ResourceFieldRef.Divisor.IsZero() {
			t.Errorf("VIPGATE_MEMORY_LIMIT not the memory limit in bytes from the downward API: %+v", c.Env)
		}
		if slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "GOMEMLIMIT" }) {
			t.Errorf("GOMEMLIMIT set by the chart: it would override the soft limit vipgate derives: %+v", c.Env)
		}
		if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.LivenessProbe.HTTPGet.Port.String() != "health" ||
			c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("probes: liveness %+v readiness %+v", c.LivenessProbe, c.ReadinessProbe)
		}
		ports := map[string]int32{}
		for _, p := range c.Ports {
			ports[p.Name] = p.ContainerPort
		}
		if !reflect.DeepEqual(ports, map[string]int32{"webhook": 9443, "metrics": 8080, "health": 8081}) {
			t.Errorf("ports = %v", ports)
		}
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[res]; !ok {
				t.Errorf("no %s request", res)
			}
			if _, ok := c.Resources.Limits[res]; !ok {
				t.Errorf("no %s limit", res)
			}
		}
		aff := pod.Affinity
		if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 ||
			aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
			t.Errorf("no pod anti-affinity by host name: %+v", aff)
		}
		mounts := map[string]string{}
		for _, m := range c.VolumeMounts {
			mounts[m.Name] = m.MountPath
		}
		vols := map[string]corev1.Volume{}
		for _, v := range pod.Volumes {
			vols[v.Name] = v
		}
		if mounts["settings"] != "/etc/vipgate/settings" || vols["settings"].ConfigMap == nil || vols["settings"].ConfigMap.Name != "vipgate-settings" {
			t.Errorf("settings ConfigMap not mounted at /etc/vipgate/settings")
		}
		if mounts["credentials"] != "/etc/vipgate/credentials" || vols["credentials"].Secret == nil || vols["credentials"].Secret.SecretName != "vipgate-avi-credentials" {
			t.Errorf("credentials Secret not mounted at /etc/vipgate/credentials")
		}
		certs := vols["webhook-certs"]
		if mounts["webhook-certs"] != "/etc/vipgate/webhook-certs" {
			t.Errorf("webhook certs not mounted at /etc/vipgate/webhook-certs")
		}
		if certManager && (certs.Secret == nil || certs.Secret.SecretName != "vipgate-webhook-tls") {
			t.Errorf("cert-manager: webhook-certs must be the serving Certificate's Secret, got %+v", certs.VolumeSource)
		}
		if !certManager && certs.EmptyDir == nil {
			t.Errorf("self-managed: webhook-certs must be a writable emptyDir, got %+v", certs.VolumeSource)
		}
		pdb := get[policyv1.PodDisruptionBudget](t, r, "PodDisruptionBudget", "vipgate")
		if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 ||
			!reflect.DeepEqual(pdb.Spec.Selector.MatchLabels, d.Spec.Selector.MatchLabels) {
			t.Errorf("PodDisruptionBudget: %+v", pdb.Spec)
		}
		svc := get[corev1.Service](t, r, "Service", webhookSvc)
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].TargetPort.String() != "webhook" ||
			!reflect.DeepEqual(svc.Spec.Selector, d.Spec.Selector.MatchLabels) {
			t.Errorf("webhook Service: %+v", svc.Spec)
		}
	}
}

// The chart's webhook configurations must be what webhooks.Configurations
// builds for the same settings: a drift would route objects the handlers do
// not expect, or miss objects they should check.
func TestWebhookConfigurationsMatchGo(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]string
		opts   webhooks.ConfigOptions
	}{
		{"defaults", nil, webhooks.ConfigOptions{DefaultLBController: true, DefaultIngressClass: true, FailOpen: true}},
		{"self-managed", map[string]string{"vipgate.certManager.enabled": "false"}, webhooks.ConfigOptions{DefaultLBController: true, DefaultIngressClass: true, FailOpen: true}},
		{"explicit class only", map[string]string{"L4Settings.defaultLBController": "false", "L7Settings.defaultIngController": "false"}, webhooks.ConfigOptions{FailOpen: true}},
		{"AKO string booleans", map[string]string{"L4Settings.defaultLBController": "'false'"}, webhooks.ConfigOptions{DefaultIngressClass: true, FailOpen: true}},
		{"isDefault overrides", map[string]string{"vipgate.ingressClass.isDefault": "false", "vipgate.ingressClass.name": "avi-edge"}, webhooks.ConfigOptions{DefaultLBController: true, IngressClasses: []string{"avi-edge"}, FailOpen: true}},
		{"layer7Only", map[string]string{"AKOSettings.layer7Only": "true"}, webhooks.ConfigOptions{DefaultLBController: true, Layer7Only: true, DefaultIngressClass: true, FailOpen: true}},
		{"fail closed", map[string]string{"vipgate.webhook.failurePolicy.services": "Fail", "vipgate.webhook.failurePolicy.ingresses": "Fail"}, webhooks.ConfigOptions{DefaultLBController: true, DefaultIngressClass: true}},
		{"Gateway API", map[string]string{"featureGates.GatewayAPI": "true"}, webhooks.ConfigOptions{DefaultLBController: true, DefaultIngressClass: true, FailOpen: true, GatewayClasses: []string{"avi-lb"}}},
		{"Gateway API with two classes failing closed", map[string]string{"featureGates.GatewayAPI": "true", "vipgate.gatewayAPI.gatewayClasses": "{avi-lb,avi-edge}", "vipgate.webhook.failurePolicy.gateways": "Fail"},
			webhooks.ConfigOptions{DefaultLBController: true, DefaultIngressClass: true, FailOpen: true, GatewayClasses: []string{"avi-lb", "avi-edge"}, GatewayFailurePolicy: admv1.Fail}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.values)
			o := tc.opts
			o.Namespace, o.ServiceName, o.ServicePort, o.TimeoutSeconds = ns, webhookSvc, 443, 5
			if o.IngressClasses == nil {
				o.IngressClasses = []string{"avi-lb"}
			}
			wantM, wantV := webhooks.Configurations(o)
			gotM := get[admv1.MutatingWebhookConfiguration](t, r, "MutatingWebhookConfiguration", webhooks.MutatingConfigName)
			gotV := get[admv1.ValidatingWebhookConfiguration](t, r, "ValidatingWebhookConfiguration", webhooks.ValidatingConfigName)
			sameYAML(t, "mutating webhooks", gotM.Webhooks, wantM.Webhooks)
			sameYAML(t, "validating webhooks", gotV.Webhooks, wantV.Webhooks)
			for _, w := range gotV.Webhooks {
				if w.SideEffects == nil || *w.SideEffects != admv1.SideEffectClassNone || w.TimeoutSeconds == nil || *w.TimeoutSeconds != 5 {
					t.Errorf("%s: want sideEffects None and timeoutSeconds 5, got %s/%s", w.Name, ptrStr(w.SideEffects), ptrStr(w.TimeoutSeconds))
				}
				if len(w.ClientConfig.CABundle) != 0 {
					t.Errorf("%s: the chart must not carry a caBundle; it is injected", w.Name)
				}
			}
		})
	}
}

func TestCertManagerWiring(t *testing.T) {
	const inject = "cert-manager.io/inject-ca-from"
	r := render(t, nil)
	for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		if got := r.find(kind, "").GetAnnotations()[inject]; got != ns+"/vipgate-webhook" {
			t.Errorf("%s %s = %q, want %s/vipgate-webhook", kind, inject, got, ns)
		}
	}
	issuers := map[string]map[string]any{}
	for _, o := range r.all("Issuer") {
		spec, _, _ := unstructured.NestedMap(o.Object, "spec")
		issuers[o.GetName()] = spec
	}
	if _, ok := issuers["vipgate-selfsigned"]["selfSigned"]; !ok {
		t.Errorf("no self-signed Issuer: %v", issuers)
	}
	if name, _, _ := unstructured.NestedString(issuers["vipgate-ca"], "ca", "secretName"); name != "vipgate-ca" {
		t.Errorf("CA Issuer must use the CA Certificate's Secret, got %q", name)
	}
	ca := r.find("Certificate", "vipgate-ca")
	if isCA, _, _ := unstructured.NestedBool(ca.Object, "spec", "isCA"); !isCA {
		t.Errorf("CA Certificate is not isCA")
	}
	if ref, _, _ := unstructured.NestedString(ca.Object, "spec", "issuerRef", "name"); ref != "vipgate-selfsigned" {
		t.Errorf("CA Certificate issuer = %q", ref)
	}
	serving := r.find("Certificate", "vipgate-webhook")
	if ref, _, _ := unstructured.NestedString(serving.Object, "spec", "issuerRef", "name"); ref != "vipgate-ca" {
		t.Errorf("serving Certificate issuer = %q", ref)
	}
	dns, _, _ := unstructured.NestedStringSlice(serving.Object, "spec", "dnsNames")
	if !slices.Equal(dns, certs.ServiceDNSNames(webhookSvc, ns)) {
		t.Errorf("serving dnsNames = %v, want %v", dns, certs.ServiceDNSNames(webhookSvc, ns))
	}
	if s, _, _ := unstructured.NestedString(serving.Object, "spec", "secretName"); s != "vipgate-webhook-tls" {
		t.Errorf("serving secretName = %q", s)
	}

	self := render(t, map[string]string{"vipgate.certManager.enabled": "false"})
	for _, o := range self.objs {
		if _, ok := o.GetAnnotations()[inject]; ok {
			t.Errorf("%s %s has %s without cert-manager", o.GetKind(), o.GetName(), inject)
		}
		if strings.HasPrefix(o.GetAPIVersion(), "cert-manager.io/") {
			t.Errorf("cert-manager object %s %s rendered without cert-manager", o.GetKind(), o.GetName())
		}
	}
}

func TestIngressClass(t *testing.T) {
	const defaultAnn = "ingressclass.kubernetes.io/is-default-class"
	for _, tc := range []struct {
		name        string
		values      map[string]string
		present     bool
		wantDefault bool
	}{
		{"AKO default", nil, true, true},
		{"defaultIngController false", map[string]string{"L7Settings.defaultIngController": "false"}, true, false},
		{"isDefault overrides", map[string]string{"vipgate.ingressClass.isDefault": "false"}, true, false},
		{"isDefault true", map[string]string{"L7Settings.defaultIngController": "false", "vipgate.ingressClass.isDefault": "true"}, true, true},
		{"create false", map[string]string{"vipgate.ingressClass.create": "false"}, false, false},
		{"not primary", map[string]string{"AKOSettings.primaryInstance": "false"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.values)
			u := r.find("IngressClass", "")
			if (u != nil) != tc.present {
				t.Fatalf("IngressClass present = %v, want %v", u != nil, tc.present)
			}
			if u == nil {
				return
			}
			ic := typed[networkingv1.IngressClass](t, u)
			if ic.Name != "avi-lb" || ic.Spec.Controller != "ako.vmware.com/avi-lb" {
				t.Errorf("IngressClass %s controller %s", ic.Name, ic.Spec.Controller)
			}
			if got := ic.Annotations[defaultAnn] == "true"; got != tc.wantDefault {
				t.Errorf("default class = %v, want %v", got, tc.wantDefault)
			}
		})
	}
}

func TestNetworkPolicy(t *testing.T) {
	r := render(t, nil)
	np := get[networkingv1.NetworkPolicy](t, r, "NetworkPolicy", "vipgate")
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
		t.Errorf("policyTypes = %v", np.Spec.PolicyTypes)
	}
	for _, rule := range np.Spec.Ingress {
		if len(rule.Ports) == 0 {
			t.Errorf("a rule admits every port: %+v", rule)
		}
		if len(rule.From) == 0 { // open to all sources: only the webhook port
			if len(rule.Ports) != 1 || rule.Ports[0].Port.IntValue() != 9443 {
				t.Errorf("rule open to every source admits more than the webhook port: %+v", rule.Ports)
			}
		}
	}
	if render(t, map[string]string{"vipgate.networkPolicy.enabled": "false"}).find("NetworkPolicy", "") != nil {
		t.Errorf("NetworkPolicy rendered although disabled")
	}
}

func TestServiceMonitorNeedsCRD(t *testing.T) {
	if render(t, map[string]string{"vipgate.serviceMonitor.enabled": "true"}).find("ServiceMonitor", "") != nil {
		t.Errorf("ServiceMonitor rendered without the monitoring.coreos.com/v1 API")
	}
	withAPI := manifests.Objects(t, manifests.RenderChartWith(t, manifests.RenderOptions{
		Values:      map[string]string{"vipgate.serviceMonitor.enabled": "true"},
		APIVersions: []string{"monitoring.coreos.com/v1/ServiceMonitor"},
	}))
	if (rendered{withAPI}).find("ServiceMonitor", "vipgate") == nil {
		t.Errorf("ServiceMonitor not rendered although enabled and the API exists")
	}
	withoutEnable := manifests.Objects(t, manifests.RenderChartWith(t, manifests.RenderOptions{
		APIVersions: []string{"monitoring.coreos.com/v1/ServiceMonitor"},
	}))
	if (rendered{withoutEnable}).find("ServiceMonitor", "") != nil {
		t.Errorf("ServiceMonitor rendered although not enabled")
	}
}

func TestCredentials(t *testing.T) {
	r := render(t, map[string]string{"avicredentials.username": "admin", "avicredentials.password": "s3cret"})
	s := get[corev1.Secret](t, r, "Secret", "vipgate-avi-credentials")
	if string(s.Data["username"]) != "admin" || string(s.Data["password"]) != "s3cret" {
		t.Errorf("credentials Secret data keys: %v", slices.Sorted(maps.Keys(s.Data)))
	}
	if _, ok := s.Data["authtoken"]; ok {
		t.Errorf("unset authtoken rendered")
	}
	// Keys match what config.LoadCredentials reads from the mounted folder.
	dir := t.TempDir()
	for k, v := range s.Data {
		if err := os.WriteFile(filepath.Join(dir, k), v, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := config.LoadCredentials(dir)
	if err != nil || c.Username != "admin" || c.Password != "s3cret" {
		t.Errorf("config.LoadCredentials on the rendered Secret: %v %v", c, err)
	}

	existing := render(t, map[string]string{"vipgate.existingCredentialsSecret": "avi-secret"})
	if existing.find("Secret", "") != nil {
		t.Errorf("a credentials Secret is rendered although an existing one is named")
	}
	d := get[appsv1.Deployment](t, existing, "Deployment", "vipgate")
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "credentials" && (v.Secret == nil || v.Secret.SecretName != "avi-secret") {
			t.Errorf("Deployment does not mount the existing Secret: %+v", v)
		}
	}
}

// The settings ConfigMap carries exactly the keys of config.Settings, with
// AKO's defaults, and an AKO values.yaml (string booleans, keys vipgate does
// not know) renders into settings vipgate accepts.
func TestSettingsMatchConfig(t *testing.T) {
	settingsOf := func(r rendered) []byte {
		cm := get[corev1.ConfigMap](t, r, "ConfigMap", "vipgate-settings")
		return []byte(cm.Data["settings.yaml"])
	}
	raw := settingsOf(render(t, nil))
	var doc map[string]map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	want := jsonKeys(reflect.TypeFor[config.Settings]())
	for section, sectionType := range want {
		got := slices.Sorted(maps.Keys(doc[section]))
		wantKeys := slices.Sorted(maps.Keys(sectionType))
		if !slices.Equal(got, wantKeys) {
			t.Errorf("settings.yaml %s keys:\n got %v\nwant %v (config.Settings)", section, got, wantKeys)
		}
	}
	if len(doc) != len(want) {
		t.Errorf("settings.yaml sections %v, want %v", slices.Sorted(maps.Keys(doc)), slices.Sorted(maps.Keys(want)))
	}
	// Defaults equal config.Defaults (AKO's), which vipgate would apply anyway.
	var got config.Settings
	if err := yaml.UnmarshalStrict(raw, &got); err != nil {
		t.Fatalf("default settings.yaml does not decode strictly: %v", err)
	}
	d := config.Defaults()
	d.AKOSettings.ClusterName = manifests.TestClusterName // required, no default
	if !reflect.DeepEqual(normalize(got), normalize(d)) {
		t.Errorf("chart defaults differ from config.Defaults:\n got %+v\nwant %+v", got, d)
	}

	akoValues := filepath.Join(t.TempDir(), "ako-values.yaml")
	if err := os.WriteFile(akoValues, []byte(`
replicaCount: 1
image:
  repository: projects.example/ako/ako
AKOSettings:
  primaryInstance: true
  enableEvents: 'true'
  logLevel: INFO
  clusterName: prod-east
  cniPlugin: antrea
  enableMCI: 'false'
  vrfName: ''
NetworkSettings:
  vipNetworkList:
  - networkName: vip-net
    cidr: 10.20.0.0/24
  enableRHI: false
L7Settings:
  defaultIngController: 'false'
  shardVSSize: MEDIUM
  enableMCI: 'false'
L4Settings:
  defaultLBController: 'true'
  autoFQDN: flat
ControllerSettings:
  controllerHost: avi.example.com
  controllerVersion: 22.1.3
  cloudName: vcenter
  tenantName: admin
  serviceEngineGroupName: se-prod
avicredentials:
  username: admin
  password: secret
persistentVolumeClaim: ''
`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := rendered{manifests.Objects(t, manifests.RenderChartWith(t, manifests.RenderOptions{ValuesFiles: []string{akoValues}}))}
	s, err := config.Parse(settingsOf(r))
	if err != nil {
		t.Fatalf("settings rendered from an AKO values.yaml are rejected: %v", err)
	}
	if s.AKOSettings.ClusterName != "prod-east" || s.ControllerSettings.ControllerHost != "avi.example.com" ||
		bool(s.L7Settings.DefaultIngController) || s.L7Settings.ShardVSSize != "MEDIUM" ||
		len(s.NetworkSettings.VIPNetworkList) != 1 || s.NetworkSettings.VIPNetworkList[0].CIDR != "10.20.0.0/24" {
		t.Errorf("AKO values not carried over: %+v", s)
	}
	if r.find("IngressClass", "").GetAnnotations()["ingressclass.kubernetes.io/is-default-class"] != "" {
		t.Errorf("defaultIngController 'false' must not make avi-lb the default class")
	}
}

func TestChartCRDsMatchSource(t *testing.T) {
	root := manifests.RepoRoot(t)
	src, _ := filepath.Glob(filepath.Join(root, "crds", "yaml", "*.yaml"))
	dst, _ := filepath.Glob(filepath.Join(manifests.ChartCRDDir(t), "*.yaml"))
	if len(src) == 0 {
		t.Fatal("no CRDs in crds/yaml")
	}
	names := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			out = append(out, filepath.Base(p))
		}
		return out
	}
	if !slices.Equal(names(src), names(dst)) {
		t.Fatalf("chart crds/ %v differ from crds/yaml %v: run make -C manifests", names(dst), names(src))
	}
	for i := range src {
		a, _ := os.ReadFile(src[i])
		b, _ := os.ReadFile(dst[i])
		if !bytes.Equal(a, b) {
			t.Errorf("chart crds/%s differs from crds/yaml: run make -C manifests", filepath.Base(src[i]))
		}
	}
}

func TestKustomizeBaseIsCurrent(t *testing.T) {
	root := manifests.RepoRoot(t)
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "manifests", "render-kustomize.sh"))
	cmd.Env = append(os.Environ(), "HELM="+manifests.Helm(t), "OUT="+out, "SYNC_CRDS=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("render-kustomize.sh: %v\n%s", err, b)
	}
	base := filepath.Join(root, "manifests", "kustomize", "base")
	for _, f := range []string{"kustomization.yaml", "namespace.yaml", "vipgate.yaml"} {
		want, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(base, f))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("manifests/kustomize/base/%s is not current (err %v): run make -C manifests", f, err)
		}
	}
	// The base includes the CRDs and the same objects as the chart's default rendering.
	objs := manifests.Objects(t, mustRead(t, filepath.Join(base, "vipgate.yaml")))
	if (rendered{objs}).find("CustomResourceDefinition", "aviinfrasettings.ako.vmware.com") == nil {
		t.Errorf("kustomize base lacks the AviInfraSetting CRD")
	}
}

func TestCertManagerCRDFiles(t *testing.T) {
	files := manifests.CertManagerCRDFiles(t)
	var kinds []string
	for _, f := range files {
		for _, o := range manifests.Objects(t, mustRead(t, f)) {
			if o.GetKind() != "CustomResourceDefinition" {
				t.Errorf("%s holds a %s", f, o.GetKind())
			}
			kinds = append(kinds, o.GetName())
		}
	}
	for _, want := range []string{"certificates.cert-manager.io", "issuers.cert-manager.io"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("cert-manager CRDs lack %s (have %v)", want, kinds)
		}
	}
}

func sameYAML(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := yaml.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := yaml.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s differ from webhooks.Configurations:\n--- chart\n%s\n--- Go\n%s", what, g, w)
	}
}

// jsonKeys maps each section of config.Settings to its set of JSON keys.
func jsonKeys(t reflect.Type) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		section := strings.Split(f.Tag.Get("json"), ",")[0]
		if section == "-" || f.Type.Kind() != reflect.Struct {
			continue // not a settings section (the cluster identity is read at start-up)
		}
		keys := map[string]bool{}
		for j := range f.Type.NumField() {
			keys[strings.Split(f.Type.Field(j).Tag.Get("json"), ",")[0]] = true
		}
		out[section] = keys
	}
	return out
}

// normalize treats empty and nil lists alike (YAML [] versus an unset Go slice).
func normalize(s config.Settings) config.Settings {
	if len(s.AKOSettings.BlockedNamespaceList) == 0 {
		s.AKOSettings.BlockedNamespaceList = nil
	}
	if len(s.NetworkSettings.NodeNetworkList) == 0 {
		s.NetworkSettings.NodeNetworkList = nil
	}
	if len(s.NetworkSettings.VIPNetworkList) == 0 {
		s.NetworkSettings.VIPNetworkList = nil
	}
	if len(s.NetworkSettings.BGPPeerLabels) == 0 {
		s.NetworkSettings.BGPPeerLabels = nil
	}
	return s
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptrStr[T any](p *T) string {
	if p == nil {
		return "<unset>"
	}
	return fmt.Sprint(*p)
}
