package manifests_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	admv1 "k8s.io/api/admissionregistration/v1"

	"github.com/vipgate/vipgate/tests/harness"
	"github.com/vipgate/vipgate/tests/manifests"
	"github.com/vipgate/vipgate/webhooks"
)

// The chart's gateway-api/ is the pinned module's config/crd/standard, byte
// for byte: bundling never drifts from the release vipgate is built against.
func TestChartGatewayAPICRDsMatchModule(t *testing.T) {
	src, err := harness.GatewayAPICRDDir()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Glob(filepath.Join(src, "*.yaml"))
	got, _ := filepath.Glob(filepath.Join(manifests.ChartDir(t), "gateway-api", "*.yaml"))
	base := func(paths []string) []string {
		out := make([]string, 0, len(paths))
		for _, p := range paths {
			out = append(out, filepath.Base(p))
		}
		return out
	}
	if len(want) == 0 || !slices.Equal(base(got), base(want)) {
		t.Fatalf("chart gateway-api/ %v differ from the module's %v: run make -C manifests", base(got), base(want))
	}
	for i := range want {
		a, _ := os.ReadFile(want[i])
		b, _ := os.ReadFile(got[i])
		if !bytes.Equal(a, b) {
			t.Errorf("chart gateway-api/%s differs from the module's: run make -C manifests", filepath.Base(want[i]))
		}
	}
}

// featureGates.GatewayAPI adds exactly the Gateway and HTTPRoute webhooks;
// vipgate.gatewayAPI.installCRDs adds exactly the module's objects, each kept
// on uninstall and otherwise unchanged.
func TestGatewayAPIValues(t *testing.T) {
	src, err := harness.GatewayAPICRDDir()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(src, "*.yaml"))
	var module rendered
	for _, f := range files {
		module.objs = append(module.objs, manifests.Objects(t, mustRead(t, f))...)
	}
	if len(module.all("CustomResourceDefinition")) != 10 {
		t.Fatalf("the module's standard channel has %d CRDs, want 10", len(module.all("CustomResourceDefinition")))
	}
	hooks := func(r rendered) []string {
		v := get[admv1.ValidatingWebhookConfiguration](t, r, "ValidatingWebhookConfiguration", webhooks.ValidatingConfigName)
		var out []string
		for _, h := range v.Webhooks {
			out = append(out, h.Name)
		}
		return out
	}
	off := render(t, nil)
	for _, tc := range []struct {
		name      string
		values    map[string]string
		gateHooks bool
		crds      bool
	}{
		{"defaults", nil, false, false},
		{"webhooks only", map[string]string{"featureGates.GatewayAPI": "true"}, true, false},
		{"CRDs only", map[string]string{"vipgate.gatewayAPI.installCRDs": "true"}, false, true},
		{"both", map[string]string{"featureGates.GatewayAPI": "true", "vipgate.gatewayAPI.installCRDs": "true"}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.values)
			want := hooks(off)
			if tc.gateHooks {
				want = append(want, webhooks.HookValidateGateway, webhooks.HookValidateHTTPRoute)
			}
			if got := hooks(r); !slices.Equal(got, want) {
				t.Errorf("validating webhooks %v, want %v", got, want)
			}
			var bundled int
			for _, o := range r.objs {
				if o.GetAnnotations()["gateway.networking.k8s.io/bundle-version"] == "" {
					continue
				}
				bundled++
				m := module.find(o.GetKind(), o.GetName())
				if m == nil {
					t.Errorf("%s %s rendered but not in the module", o.GetKind(), o.GetName())
					continue
				}
				if o.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
					t.Errorf("%s %s: no helm.sh/resource-policy keep", o.GetKind(), o.GetName())
				}
				c := o.DeepCopy()
				ann := c.GetAnnotations()
				delete(ann, "helm.sh/resource-policy")
				c.SetAnnotations(ann)
				if !reflect.DeepEqual(c.Object, m.Object) {
					t.Errorf("%s %s differs from the module's", o.GetKind(), o.GetName())
				}
			}
			if want := 0; tc.crds {
				want = len(module.objs)
				if bundled != want {
					t.Errorf("bundled %d Gateway API objects, want the module's %d", bundled, want)
				}
			} else if bundled != 0 {
				t.Errorf("bundled %d Gateway API objects, want none", bundled)
			}
		})
	}
}
