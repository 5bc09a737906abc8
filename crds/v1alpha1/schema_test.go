package v1alpha1_test

import (
	"os"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestAviInfraSettingVersionsIdentical reads the generated CRD: v1alpha1 and
// v1beta1 must be served with one schema, one set of printer columns and
// subresources, v1beta1 stored, and no conversion webhook. Identical
// schemas are what lets the API server convert by changing apiVersion alone
// (conversion strategy None, the default).
func TestAviInfraSettingVersionsIdentical(t *testing.T) {
	raw, err := os.ReadFile("../yaml/ako.vmware.com_aviinfrasettings.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Conversion *struct {
				Strategy string `json:"strategy"`
			} `json:"conversion"`
			Versions []map[string]any `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatal(err)
	}
	if c := crd.Spec.Conversion; c != nil && c.Strategy != "None" {
		t.Fatalf("conversion strategy %q, want None (the default)", c.Strategy)
	}
	byName := map[string]map[string]any{}
	for _, v := range crd.Spec.Versions {
		byName[v["name"].(string)] = v
	}
	alpha, beta := byName["v1alpha1"], byName["v1beta1"]
	if len(byName) != 2 || alpha == nil || beta == nil {
		t.Fatalf("versions %v, want v1alpha1 and v1beta1", keys(byName))
	}
	for name, v := range map[string]map[string]any{"v1alpha1": alpha, "v1beta1": beta} {
		if v["served"] != true {
			t.Errorf("%s is not served", name)
		}
		if v["storage"] != (name == "v1beta1") {
			t.Errorf("%s storage %v, want %v", name, v["storage"], name == "v1beta1")
		}
	}
	for _, k := range []string{"schema", "additionalPrinterColumns", "subresources"} {
		if !reflect.DeepEqual(alpha[k], beta[k]) {
			t.Errorf("%s differs between v1alpha1 and v1beta1", k)
		}
	}
	props, _ := pathOf(beta, "schema", "openAPIV3Schema", "properties", "spec", "properties").(map[string]any)
	network, _ := pathOf(props, "network", "properties").(map[string]any)
	for _, f := range []string{"nsxSettings", "seGroup", "l7Settings", "network"} {
		if props[f] == nil {
			t.Errorf("spec.%s missing from the schema (AKO's CRD has it)", f)
		}
	}
	for _, f := range []string{"vipNetworks", "nodeNetworks", "listeners", "enablePublicIP", "enableRhi", "bgpPeerLabels"} {
		if network[f] == nil {
			t.Errorf("spec.network.%s missing from the schema (AKO's CRD has it)", f)
		}
	}
}

func pathOf(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

func keys(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
