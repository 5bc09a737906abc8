package check

import (
	"os"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/vipgate/vipgate/config"
)

func TestSettingsFileIsStrict(t *testing.T) {
	sf, err := ParseSettings([]byte("AKOSettings: {clusterName: demo}\nControllerSettings: {controllerHost: c.example.com}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sf.HelmValues || sf.Settings.AKOSettings.ClusterName != "demo" || sf.Settings.ControllerSettings.ControllerHost != "c.example.com" || sf.IngressClass != nil {
		t.Errorf("settings file read as %+v", sf)
	}
	// A misspelt key of a settings file is an error, as at start-up.
	_, err = ParseSettings([]byte("AKOSettings: {clusterName: demo, clustrName: x}\n"))
	if err == nil || err.Error() != "invalid settings (1 problems):\n  AKOSettings.clustrName: unknown key" {
		t.Errorf("misspelt key: %v", err)
	}
}

func TestSettingsWithoutControllerHost(t *testing.T) {
	sf, err := ParseSettings([]byte("AKOSettings: {clusterName: demo}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sf.Settings.ControllerSettings.ControllerHost != "" || sf.Settings.ControllerSettings.CloudName != "Default-Cloud" {
		t.Errorf("settings %+v", sf.Settings.ControllerSettings)
	}
	// Other problems are still reported, without the host.
	_, err = ParseSettings([]byte("AKOSettings: {clusterName: \"not valid\"}\n"))
	if err == nil || err.Error() != "invalid settings (1 problems):\n  AKOSettings.clusterName: must match ^[a-zA-Z0-9-_]+$" {
		t.Errorf("invalid cluster name: %v", err)
	}
}

// TestChartValues reads the chart's own values.yaml, as a user passes it
// with a few keys set: the AKO sections are picked as the chart renders them.
func TestChartValues(t *testing.T) {
	data, err := os.ReadFile("../manifests/charts/vipgate/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	values := strings.Replace(string(data), `clusterName: "" #`, `clusterName: "demo" #`, 1)
	sf, err := ParseSettings([]byte(values))
	if err != nil {
		t.Fatal(err)
	}
	if !sf.HelmValues {
		t.Fatal("the chart's values must be read as Helm values")
	}
	want := config.Defaults()
	want.AKOSettings.ClusterName = "demo"
	// The chart's values spell AKO's defaults explicitly.
	got := *sf.Settings
	if !equality.Semantic.DeepEqual(got, want) { // nil and empty lists alike
		t.Errorf("settings from the chart's values\n  %+v\nwant AKO's defaults\n  %+v", got, want)
	}
	if !slices.Equal(sf.Ignored, []string{"avicredentials", "featureGates", "vipgate"}) {
		t.Errorf("ignored %q", sf.Ignored)
	}
	if c := sf.IngressClass; c == nil || *c != (ChartIngressClass{Name: "avi-lb", IsDefault: true}) {
		t.Errorf("chart IngressClass %+v", c)
	}
}

func TestHelmValues(t *testing.T) {
	for _, tc := range []struct {
		name, values string
		check        func(t *testing.T, sf *SettingsFile)
		ignored      []string
		class        *ChartIngressClass
	}{{
		name: "an AKO values file: unknown keys of a section and unknown sections are ignored, nulls keep defaults",
		values: `replicaCount: 1
image: {repository: ako}
AKOSettings:
  clusterName: prod
  cniPlugin: calico
  enableEVH: false
  vipPerNamespace: "false"
  istioEnabled: null
  unknownAKOKey: x
L7Settings:
  shardVSSize: SMALL
  defaultIngController: "false"
NetworkSettings:
  vipNetworkList:
  - networkName: vip-net-a
    cidr: 10.50.0.0/24
GatewayAPI: {enabled: false}
`,
		check: func(t *testing.T, sf *SettingsFile) {
			s := sf.Settings
			if s.AKOSettings.ClusterName != "prod" || s.L7Settings.ShardVSSize != "SMALL" || bool(s.L7Settings.DefaultIngController) ||
				len(s.NetworkSettings.VIPNetworkList) != 1 || s.NetworkSettings.VIPNetworkList[0].CIDR != "10.50.0.0/24" || s.L7Settings.FQDNReusePolicy != "InterNamespaceAllowed" {
				t.Errorf("settings %+v", s)
			}
		},
		ignored: []string{"AKOSettings.unknownAKOKey", "GatewayAPI", "image", "replicaCount"},
		class:   &ChartIngressClass{Name: "avi-lb", IsDefault: false},
	}, {
		name:    "the chart's IngressClass: its name, and isDefault over defaultIngController",
		values:  "AKOSettings: {clusterName: demo}\nvipgate:\n  ingressClass: {name: avi-team, isDefault: \"true\"}\nL7Settings: {defaultIngController: false}\n",
		ignored: []string{"vipgate"},
		class:   &ChartIngressClass{Name: "avi-team", IsDefault: true},
	}, {
		name:    "no IngressClass when the chart does not create one",
		values:  "AKOSettings: {clusterName: demo}\nvipgate:\n  ingressClass: {create: false}\n",
		ignored: []string{"vipgate"},
	}, {
		name:    "no IngressClass on a secondary instance",
		values:  "AKOSettings: {clusterName: demo, primaryInstance: false}\nvipgate: {}\n",
		ignored: []string{"vipgate"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			sf, err := ParseSettings([]byte(tc.values))
			if err != nil {
				t.Fatal(err)
			}
			if !sf.HelmValues {
				t.Error("not read as Helm values")
			}
			if !slices.Equal(sf.Ignored, tc.ignored) {
				t.Errorf("ignored %q, want %q", sf.Ignored, tc.ignored)
			}
			switch {
			case (sf.IngressClass == nil) != (tc.class == nil):
				t.Errorf("IngressClass %+v, want %+v", sf.IngressClass, tc.class)
			case tc.class != nil && *sf.IngressClass != *tc.class:
				t.Errorf("IngressClass %+v, want %+v", *sf.IngressClass, *tc.class)
			}
			if tc.check != nil {
				tc.check(t, sf)
			}
		})
	}
}

func TestHelmValuesStillValidated(t *testing.T) {
	_, err := ParseSettings([]byte("vipgate: {}\nAKOSettings: {clusterName: demo}\nL7Settings: {shardVSSize: HUGE}\n"))
	if err == nil || err.Error() != "invalid settings (1 problems):\n  L7Settings.shardVSSize: must be one of [LARGE, MEDIUM, SMALL, DEDICATED], got \"HUGE\"" {
		t.Errorf("invalid value in Helm values: %v", err)
	}
}

func TestIngressClassesAssumed(t *testing.T) {
	settingsFile := &SettingsFile{Settings: demoSettings()}
	noDefaultIng := &SettingsFile{Settings: demoSettings(func(s *config.Settings) { s.L7Settings.DefaultIngController = false })}
	helm := &SettingsFile{Settings: demoSettings(), HelmValues: true, IngressClass: &ChartIngressClass{Name: "team", IsDefault: false}}
	helmNoClass := &SettingsFile{Settings: demoSettings(), HelmValues: true}
	for _, tc := range []struct {
		name  string
		sf    *SettingsFile
		names []string
		named bool
		want  []string // "name" or "name (default)"
	}{
		{"a settings file: the chart's avi-lb, the default class", settingsFile, nil, false, []string{"avi-lb (default)"}},
		{"defaultIngController off: not the default class", noDefaultIng, nil, false, []string{"avi-lb"}},
		{"Helm values: the chart's class as the chart decides it", helm, nil, false, []string{"team"}},
		{"Helm values without a class", helmNoClass, nil, false, nil},
		{"named classes win; the first is the default", helm, []string{"a", "b"}, true, []string{"a (default)", "b"}},
		{"named none", settingsFile, nil, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range tc.sf.IngressClasses(tc.names, tc.named) {
				if c.Spec.Controller != "ako.vmware.com/avi-lb" {
					t.Errorf("class %s of controller %s", c.Name, c.Spec.Controller)
				}
				s := c.Name
				if c.Annotations["ingressclass.kubernetes.io/is-default-class"] == "true" {
					s += " (default)"
				}
				got = append(got, s)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
