package manifests_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	// Everything cmd/vipgate registers on the metrics endpoint: vipgate's own
	// metrics, controller-runtime's (manager, controllers, workqueue, webhooks,
	// REST client) and certwatcher's.
	_ "github.com/vipgate/vipgate/metrics"
	_ "github.com/vipgate/vipgate/operator"
	_ "sigs.k8s.io/controller-runtime/pkg/certwatcher"

	"github.com/vipgate/vipgate/tests/manifests"
)

const (
	dashboardConfigMap = "vipgate-dashboard"
	ruleAPI            = "monitoring.coreos.com/v1/PrometheusRule"
)

// grafanaVars are the dashboard's template variables, replaced by sample values
// so the queries become PromQL; any other "$" left over fails the check.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$namespace", ns)

// registered reports whether the registry vipgate serves has a metric of that
// name. Vectors without series are not gathered, so it asks the registry
// itself: registering a probe of the same name fails only if the name is taken.
func registered(name string) bool {
	probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "probe"})
	if err := crmetrics.Registry.Register(probe); err != nil {
		return true
	}
	crmetrics.Registry.Unregister(probe)
	return false
}

// exported reports whether name is served by vipgate: a registered metric, or
// the _bucket, _sum or _count series of a registered histogram or summary (the
// registry does not tell the type, so a counter's name with such a suffix
// would pass too).
func exported(name string) bool {
	if registered(name) {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && registered(base) {
			return true
		}
	}
	return false
}

// selectors parses a PromQL expression and returns its vector selectors.
func selectors(expr string) ([]*parser.VectorSelector, error) {
	e, err := parser.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var out []*parser.VectorSelector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	return out, nil
}

// checkQuery parses expr and checks every selector names a metric vipgate
// exports; it returns the names.
func checkQuery(expr string) ([]string, error) {
	if strings.Contains(expr, "$") {
		return nil, fmt.Errorf("unreplaced variable in %q", expr)
	}
	sels, err := selectors(expr)
	if err != nil {
		return nil, fmt.Errorf("not PromQL: %v", err)
	}
	if len(sels) == 0 {
		return nil, fmt.Errorf("%q reads no metric", expr)
	}
	var names []string
	for _, vs := range sels {
		if vs.Name == "" {
			return nil, fmt.Errorf("selector %s names no metric", vs)
		}
		if !exported(vs.Name) {
			return nil, fmt.Errorf("%s is not a metric vipgate exports", vs.Name)
		}
		names = append(names, vs.Name)
	}
	return names, nil
}

// The checker must be able to fail, or the dashboard and rule checks prove nothing.
func TestQueryCheckRejectsWhatVipgateDoesNotExport(t *testing.T) {
	for _, tc := range []struct {
		expr, wantErr string
		wantNames     []string
	}{
		{expr: `sum by (kind) (rate(vipgate_admission_verdicts_total{verdict="denied"}[5m]))`, wantNames: []string{"vipgate_admission_verdicts_total"}},
		{expr: `histogram_quantile(0.99, sum by (le) (rate(controller_runtime_webhook_latency_seconds_bucket[5m])))`, wantNames: []string{"controller_runtime_webhook_latency_seconds_bucket"}},
		{expr: `sum(workqueue_depth) + sum(rate(controller_runtime_reconcile_errors_total[5m]))`, wantNames: []string{"workqueue_depth", "controller_runtime_reconcile_errors_total"}},
		{expr: `vipgate_vip_network_free_addresses / (vipgate_vip_network_free_addresses + vipgate_vip_network_allocated_addresses)`,
			wantNames: []string{"vipgate_vip_network_free_addresses", "vipgate_vip_network_free_addresses", "vipgate_vip_network_allocated_addresses"}},
		{expr: `vipgate_webhook_certificate_expiry_timestamp_seconds - time()`, wantNames: []string{"vipgate_webhook_certificate_expiry_timestamp_seconds"}},
		{expr: `rate(vipgate_vip_allocations_total[5m])`, wantErr: "vipgate_vip_allocations_total is not a metric vipgate exports"},
		{expr: `rate(vipgate_admission_verdicts_total[5m]) / rate(apiserver_request_total[5m])`, wantErr: "apiserver_request_total is not a metric vipgate exports"},
		{expr: `rate(vipgate_inventory_age_bucket[5m])`, wantErr: "vipgate_inventory_age_bucket is not a metric vipgate exports"},
		{expr: `{__name__=~"vipgate_.+"}`, wantErr: `selector {__name__=~"vipgate_.+"} names no metric`},
		{expr: `time() - 3600`, wantErr: `"time() - 3600" reads no metric`},
		{expr: `sum(rate(vipgate_controller_calls_total[5m])`, wantErr: "not PromQL: 1:45: parse error: unclosed left parenthesis"},
		{expr: `rate(vipgate_controller_calls_total[$interval])`, wantErr: `unreplaced variable in "rate(vipgate_controller_calls_total[$interval])"`},
	} {
		names, err := checkQuery(tc.expr)
		switch {
		case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
			t.Errorf("%s: error %v, want %q", tc.expr, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.expr, err)
		case tc.wantErr == "" && !slices.Equal(names, tc.wantNames):
			t.Errorf("%s: names %v, want %v", tc.expr, names, tc.wantNames)
		}
	}
}

func TestMonitoringObjectsAreOptIn(t *testing.T) {
	for _, tc := range []struct {
		name      string
		o         manifests.RenderOptions
		wantRule  bool
		wantBoard bool
	}{
		{name: "defaults", o: manifests.RenderOptions{APIVersions: []string{ruleAPI}}},
		{name: "rule enabled without the Prometheus Operator's API",
			o: manifests.RenderOptions{Values: map[string]string{"vipgate.prometheusRule.enabled": "true"}}},
		{name: "rule enabled with the API", wantRule: true,
			o: manifests.RenderOptions{Values: map[string]string{"vipgate.prometheusRule.enabled": "true"}, APIVersions: []string{ruleAPI}}},
		{name: "dashboard enabled (a ConfigMap: no CRD needed)", wantBoard: true,
			o: manifests.RenderOptions{Values: map[string]string{"vipgate.grafanaDashboard.enabled": "true"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rendered{manifests.Objects(t, manifests.RenderChartWith(t, tc.o))}
			if got := r.find("PrometheusRule", "") != nil; got != tc.wantRule {
				t.Errorf("PrometheusRule rendered: %v, want %v", got, tc.wantRule)
			}
			if got := r.find("ConfigMap", dashboardConfigMap) != nil; got != tc.wantBoard {
				t.Errorf("dashboard ConfigMap rendered: %v, want %v", got, tc.wantBoard)
			}
		})
	}
}

// grafanaDashboard is the part of Grafana's dashboard model the checks read.
type grafanaDashboard struct {
	UID        string         `json:"uid"`
	Title      string         `json:"title"`
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
			Query      any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type grafanaPanel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

var labelValues = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

func TestGrafanaDashboard(t *testing.T) {
	r := rendered{manifests.Objects(t, manifests.RenderChartWith(t, manifests.RenderOptions{Values: map[string]string{
		"vipgate.grafanaDashboard.enabled":                    "true",
		"vipgate.grafanaDashboard.namespace":                  "monitoring",
		"vipgate.grafanaDashboard.annotations.grafana_folder": "vipgate",
	}}))}
	cm := r.find("ConfigMap", dashboardConfigMap)
	if cm == nil {
		t.Fatal("no dashboard ConfigMap")
	}
	if cm.GetNamespace() != "monitoring" || cm.GetLabels()["grafana_dashboard"] != "1" || cm.GetAnnotations()["grafana_folder"] != "vipgate" {
		t.Errorf("ConfigMap %s/%s labels %v annotations %v: want namespace monitoring, label grafana_dashboard=1, annotation grafana_folder=vipgate",
			cm.GetNamespace(), cm.GetName(), cm.GetLabels(), cm.GetAnnotations())
	}
	data, _ := cm.Object["data"].(map[string]any)
	text, _ := data["vipgate.json"].(string)
	file := mustRead(t, filepath.Join(manifests.ChartDir(t), "dashboards", "vipgate.json"))
	if strings.TrimSpace(text) != strings.TrimSpace(string(file)) {
		t.Errorf("ConfigMap vipgate.json differs from the chart's dashboards/vipgate.json")
	}
	var d grafanaDashboard
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	if d.UID != "vipgate" || d.Title != "vipgate" {
		t.Errorf("uid %q title %q, want vipgate and vipgate (links and provisioning rely on the uid)", d.UID, d.Title)
	}

	used := map[string]bool{}
	check := func(where, expr string) {
		names, err := checkQuery(grafanaVars.Replace(expr))
		if err != nil {
			t.Errorf("%s: %v", where, err)
		}
		for _, n := range names {
			used[n] = true
		}
	}
	ids := map[int]string{}
	for _, p := range d.Panels {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not use the dashboard's datasource variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for i, q := range p.Targets {
			check(fmt.Sprintf("panel %q query %d", p.Title, i), q.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(selector, label)", v.Name, v.Definition)
			continue
		}
		check("variable "+v.Name, m[1])
	}
	// What the dashboard is for: each must be on it.
	for _, want := range []string{
		"vipgate_admission_verdicts_total", "controller_runtime_webhook_latency_seconds_bucket",
		"vipgate_controller_calls_total", "controller_runtime_reconcile_errors_total", "workqueue_depth",
		"vipgate_inventory_age_seconds", "vipgate_vip_network_allocated_addresses", "vipgate_vip_network_free_addresses",
		"vipgate_webhook_certificate_expiry_timestamp_seconds",
	} {
		if !used[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
}

// prometheusRule is the PrometheusRule schema the chart uses; decoding is
// strict, so a misspelt field fails here rather than being dropped by the API server.
type prometheusRule struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Metadata   map[string]any     `json:"metadata"`
	Spec       prometheusRuleSpec `json:"spec"`
}

type prometheusRuleSpec struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for,omitempty"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

func renderRule(t *testing.T, values map[string]string) prometheusRule {
	t.Helper()
	v := map[string]string{"vipgate.prometheusRule.enabled": "true"}
	for k, x := range values {
		v[k] = x
	}
	r := rendered{manifests.Objects(t, manifests.RenderChartWith(t, manifests.RenderOptions{Values: v, APIVersions: []string{ruleAPI}}))}
	u := r.find("PrometheusRule", "vipgate")
	if u == nil {
		t.Fatal("no PrometheusRule vipgate rendered")
	}
	b, err := yaml.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	var pr prometheusRule
	if err := yaml.UnmarshalStrict(b, &pr); err != nil {
		t.Fatalf("PrometheusRule does not match the schema: %v", err)
	}
	return pr
}

var wantAlerts = []string{
	"VipgateWebhookDenialsHigh", "VipgateWebhookErrors", "VipgateWebhookPanics", "VipgateWebhookSlow",
	"VipgateControllerUnreachable", "VipgateControllerErrors", "VipgateInventoryStale",
	"VipgateVIPNetworkNearlyExhausted", "VipgateVIPNetworkExhausted", "VipgateWebhookCertificateExpiring", "VipgateAbsent",
}

func TestPrometheusRule(t *testing.T) {
	pr := renderRule(t, map[string]string{"vipgate.prometheusRule.labels.release": "kube-prometheus-stack"})
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Metadata["namespace"] != ns {
		t.Errorf("apiVersion %s namespace %v", pr.APIVersion, pr.Metadata["namespace"])
	}
	if l, _ := pr.Metadata["labels"].(map[string]any); l["release"] != "kube-prometheus-stack" {
		t.Errorf("labels %v lack release=kube-prometheus-stack (the Prometheus ruleSelector)", l)
	}
	var alerts []string
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if _, err := checkQuery(r.Expr); err != nil {
				t.Errorf("%s: %v", r.Alert, err)
			}
			// Every series an alert reads is scoped to this release.
			sels, _ := selectors(r.Expr)
			for _, vs := range sels {
				if !hasMatcher(vs, labels.MatchEqual, "namespace", ns) {
					t.Errorf("%s: selector %s is not scoped to namespace %q", r.Alert, vs, ns)
				}
			}
			if r.For != "" {
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: summary and description are required: %v", r.Alert, r.Annotations)
			}
		}
	}
	if !slices.Equal(alerts, wantAlerts) {
		t.Errorf("alerts %v\nwant %v", alerts, wantAlerts)
	}
}

// Helm must leave Prometheus' own templates ({{ $labels.x }}) in the annotations.
func TestPrometheusRuleAnnotationsKeepAlertTemplates(t *testing.T) {
	for _, g := range renderRule(t, nil).Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "VipgateVIPNetworkNearlyExhausted" {
				want := "{{ $labels.network }} {{ $labels.subnet }}"
				if !strings.Contains(r.Annotations["description"], want) {
					t.Errorf("description %q lacks %q", r.Annotations["description"], want)
				}
				return
			}
		}
	}
	t.Fatal("no VipgateVIPNetworkNearlyExhausted alert")
}

// Thresholds and the series selector come from values.
func TestPrometheusRuleValues(t *testing.T) {
	pr := renderRule(t, map[string]string{
		"vipgate.prometheusRule.selector":                       `job="vipgate-metrics"`,
		"vipgate.prometheusRule.vipNetworkExhaustion.freeRatio": "0.2",
		"vipgate.prometheusRule.certificateExpiry.days":         "7",
		"vipgate.prometheusRule.controllerErrors.outcomes":      "error",
		"vipgate.prometheusRule.inventoryStale.seconds":         "600",
		"vipgate.prometheusRule.webhookDenials.minRatio":        "0.8",
		"vipgate.prometheusRule.controllerUnreachable.for":      "20m",
	})
	want := map[string][]string{
		"VipgateVIPNetworkNearlyExhausted":  {") < 0.2"},
		"VipgateWebhookCertificateExpiring": {"< 7 * 86400"},
		"VipgateControllerErrors":           {`outcome=~"error",`},
		"VipgateInventoryStale":             {"> 600"},
		"VipgateWebhookDenialsHigh":         {") > 0.8"},
	}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			for _, w := range want[r.Alert] {
				if !strings.Contains(r.Expr, w) {
					t.Errorf("%s: expr lacks %q:\n%s", r.Alert, w, r.Expr)
				}
			}
			delete(want, r.Alert)
			if r.Alert == "VipgateControllerUnreachable" && r.For != "20m" {
				t.Errorf("%s: for %q, want 20m", r.Alert, r.For)
			}
			sels, err := selectors(r.Expr)
			if err != nil {
				t.Fatalf("%s: %v", r.Alert, err)
			}
			for _, vs := range sels {
				if !hasMatcher(vs, labels.MatchEqual, "job", "vipgate-metrics") || hasMatcher(vs, labels.MatchEqual, "namespace", ns) {
					t.Errorf("%s: selector %s, want job=\"vipgate-metrics\" instead of the namespace", r.Alert, vs)
				}
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("alerts not rendered: %v", want)
	}
}

func hasMatcher(vs *parser.VectorSelector, typ labels.MatchType, name, value string) bool {
	for _, m := range vs.LabelMatchers {
		if m.Type == typ && m.Name == name && m.Value == value {
			return true
		}
	}
	return false
}

// The dashboard file is what users import by hand; keep it loadable on its own.
func TestDashboardFileIsStandalone(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(manifests.ChartDir(t), "dashboards", "vipgate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if _, ok := d["id"]; ok {
		t.Errorf("dashboard has an id: Grafana would try to overwrite that dashboard on import")
	}
	if strings.Contains(string(b), "{{ .") {
		t.Errorf("dashboard holds Helm template text")
	}
}
