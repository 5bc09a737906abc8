package manifests_test

import (
	"maps"
	"slices"
	"testing"

	admv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/webhooks"
)

// The Ingress webhook's condition the chart installs is what
// webhooks.ClassSync writes as soon as it runs, when the chart's IngressClass
// is vipgate's only one: installing or upgrading never narrows nor widens
// what is validated until the leader has looked at the cluster's classes.
// Without a rendered class (create false, not the primary instance) the chart
// still routes the class it names, which another instance creates.
func TestIngressConditionIsWhatClassSyncWrites(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]string
		want   string
	}{
		{"defaults", nil, `!has(object.spec.ingressClassName) || object.spec.ingressClassName in ['avi-lb']`},
		{"defaultIngController false", map[string]string{"L7Settings.defaultIngController": "false"},
			`has(object.spec.ingressClassName) && object.spec.ingressClassName in ['avi-lb']`},
		{"isDefault false", map[string]string{"vipgate.ingressClass.isDefault": "false", "vipgate.ingressClass.name": "avi-edge"},
			`has(object.spec.ingressClassName) && object.spec.ingressClassName in ['avi-edge']`},
		{"isDefault true without defaultIngController", map[string]string{"vipgate.ingressClass.isDefault": "true", "L7Settings.defaultIngController": "false"},
			`has(object.spec.ingressClassName) && object.spec.ingressClassName in ['avi-lb']`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.values)
			var s config.Settings
			cm := get[corev1.ConfigMap](t, r, "ConfigMap", "vipgate-settings")
			if err := yaml.UnmarshalStrict([]byte(cm.Data["settings.yaml"]), &s); err != nil {
				t.Fatal(err)
			}
			ic := get[networkingv1.IngressClass](t, r, "IngressClass", "")
			names, classless := webhooks.IngressRouting([]networkingv1.IngressClass{*ic}, &s)
			synced := webhooks.IngressCondition(names, classless)
			v := get[admv1.ValidatingWebhookConfiguration](t, r, "ValidatingWebhookConfiguration", webhooks.ValidatingConfigName)
			var got []admv1.MatchCondition
			for _, h := range v.Webhooks {
				if h.Name == webhooks.HookValidateIngress {
					got = h.MatchConditions
				}
			}
			// ClassSync writes the first (class) condition; the others are the chart's own.
			if len(got) == 0 || got[0] != synced {
				t.Errorf("chart's Ingress match conditions %+v, ClassSync would write %+v", got, synced)
			}
			if synced.Expression != tc.want {
				t.Errorf("expression %q, want %q", synced.Expression, tc.want)
			}
		})
	}
}

// failurePolicy: Ignore for Services and Ingresses by default (a vipgate
// outage never blocks deployments), Fail on request; AviInfraSettings
// always Fail.
func TestFailurePolicies(t *testing.T) {
	for _, tc := range []struct {
		name               string
		values             map[string]string
		services, ingesses admv1.FailurePolicyType
	}{
		{"defaults", nil, admv1.Ignore, admv1.Ignore},
		{"Services fail closed", map[string]string{"vipgate.webhook.failurePolicy.services": "Fail"}, admv1.Fail, admv1.Ignore},
		{"Ingresses fail closed", map[string]string{"vipgate.webhook.failurePolicy.ingresses": "Fail"}, admv1.Ignore, admv1.Fail},
		{"Gateway API on", map[string]string{"featureGates.GatewayAPI": "true"}, admv1.Ignore, admv1.Ignore},
		{"Gateway API fails closed alone", map[string]string{"featureGates.GatewayAPI": "true", "vipgate.webhook.failurePolicy.gateways": "Fail"}, admv1.Ignore, admv1.Ignore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.values)
			m := get[admv1.MutatingWebhookConfiguration](t, r, "MutatingWebhookConfiguration", webhooks.MutatingConfigName)
			v := get[admv1.ValidatingWebhookConfiguration](t, r, "ValidatingWebhookConfiguration", webhooks.ValidatingConfigName)
			got := map[string]admv1.FailurePolicyType{}
			for _, h := range m.Webhooks {
				got[h.Name] = *h.FailurePolicy
			}
			for _, h := range v.Webhooks {
				got[h.Name] = *h.FailurePolicy
			}
			want := map[string]admv1.FailurePolicyType{
				webhooks.HookMutateService: tc.services, webhooks.HookValidateService: tc.services,
				webhooks.HookMutateIngress: tc.ingesses, webhooks.HookValidateIngress: tc.ingesses, webhooks.HookValidateAviInfraSetting: admv1.Fail,
				webhooks.HookValidateHostRule: admv1.Ignore, webhooks.HookValidateHTTPRule: admv1.Ignore, webhooks.HookValidateL4Rule: admv1.Ignore,
			}
			if tc.values["featureGates.GatewayAPI"] == "true" {
				gw := admv1.FailurePolicyType(tc.values["vipgate.webhook.failurePolicy.gateways"])
				if gw == "" {
					gw = admv1.Ignore
				}
				want[webhooks.HookValidateGateway], want[webhooks.HookValidateHTTPRoute] = gw, gw
			}
			if len(got) != len(want) {
				t.Errorf("webhooks %v, want exactly %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
			}
			for h, p := range want {
				if got[h] != p {
					t.Errorf("%s failurePolicy %s, want %s", h, got[h], p)
				}
			}
		})
	}
}

// followIngressClasses false: the binary does not touch the configuration,
// and with cert-manager vipgate gets no access to webhook configurations at all.
func TestFollowIngressClassesOff(t *testing.T) {
	for _, certManager := range []bool{true, false} {
		r := render(t, map[string]string{"vipgate.webhook.followIngressClasses": "false", "vipgate.certManager.enabled": boolStr(certManager)})
		d := get[appsv1.Deployment](t, r, "Deployment", "vipgate")
		if args := d.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--sync-ingress-webhook=false") {
			t.Errorf("certManager=%v: args lack --sync-ingress-webhook=false: %q", certManager, args)
		}
		cr := get[rbacv1.ClusterRole](t, r, "ClusterRole", "vipgate")
		var got []string
		for _, rule := range cr.Rules {
			if slices.Contains(rule.APIGroups, "admissionregistration.k8s.io") {
				got = append(got, rule.Resources...)
			}
		}
		want := []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"}
		if certManager {
			want = nil
		}
		if !slices.Equal(got, want) {
			t.Errorf("certManager=%v: access to %v, want %v", certManager, got, want)
		}
	}
}
