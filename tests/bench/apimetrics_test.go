package bench

// This file: what the API server says about a burst (its own /metrics):
// requests by verb and resource, the mean time of a Service create, of each
// admission webhook call and of etcd writes, so a burst's extra time can be
// put on a step instead of guessed.

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/rest"
)

// apiMetrics is one scrape: counters and histogram sums/counts by a key
// built from the family name and the labels that matter here.
type apiMetrics map[string]float64

// scrapeAPIServer reads the API server's /metrics. A failed scrape is
// logged and returns nil: the numbers are diagnostics, never a verdict.
func scrapeAPIServer(b *testing.B) apiMetrics {
	b.Helper()
	hc, err := rest.HTTPClientFor(env.Cfg)
	if err != nil {
		b.Logf("API server metrics: %v", err)
		return nil
	}
	resp, err := hc.Get(strings.TrimSuffix(env.Cfg.Host, "/") + "/metrics")
	if err != nil {
		b.Logf("API server metrics: %v", err)
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		b.Logf("API server metrics: %s: %s", resp.Status, data)
		return nil
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		b.Logf("API server metrics: %v", err)
		return nil
	}
	return foldAPIMetrics(fams)
}

// foldAPIMetrics keeps the families a burst is judged by.
func foldAPIMetrics(fams map[string]*dto.MetricFamily) apiMetrics {
	m := apiMetrics{}
	label := func(x *dto.Metric, name string) string {
		for _, l := range x.GetLabel() {
			if l.GetName() == name {
				return l.GetValue()
			}
		}
		return ""
	}
	for _, x := range fams["apiserver_request_total"].GetMetric() {
		m["req "+label(x, "verb")+" "+resourceOf(label(x, "resource"), label(x, "subresource"))] += x.GetCounter().GetValue()
	}
	for _, x := range fams["apiserver_request_duration_seconds"].GetMetric() {
		verb, res := label(x, "verb"), label(x, "resource")
		if (verb == "POST" || verb == "PATCH" || verb == "PUT") && (res == "services" || res == "ingresses") {
			k := strings.ToLower(verb) + "-" + resourceOf(res, label(x, "subresource"))
			m[k+" sum"] += x.GetHistogram().GetSampleSum()
			m[k+" count"] += float64(x.GetHistogram().GetSampleCount())
		}
	}
	for _, x := range fams["apiserver_admission_webhook_admission_duration_seconds"].GetMetric() {
		k := "webhook " + label(x, "name") + " " + label(x, "operation")
		m[k+" sum"] += x.GetHistogram().GetSampleSum()
		m[k+" count"] += float64(x.GetHistogram().GetSampleCount())
	}
	for _, x := range fams["etcd_request_duration_seconds"].GetMetric() {
		if op := label(x, "operation"); op == "create" || op == "update" {
			k := "etcd " + op + " " + label(x, "type")
			m[k+" sum"] += x.GetHistogram().GetSampleSum()
			m[k+" count"] += float64(x.GetHistogram().GetSampleCount())
		}
	}
	return m
}

func resourceOf(resource, sub string) string {
	if sub != "" {
		return resource + "/" + sub
	}
	return resource
}

// apiMetricsSince describes what happened between two scrapes: request
// counts per object (n objects created) by verb and resource, and the mean
// duration of Service and Ingress writes, webhook calls and etcd writes.
func apiMetricsSince(before, after apiMetrics, n int) string {
	if before == nil || after == nil {
		return "no API server metrics"
	}
	d := func(k string) float64 { return after[k] - before[k] }
	var reqs, others, means []string
	for k := range after {
		switch {
		case strings.HasPrefix(k, "req ") && d(k) >= float64(n)/10:
			reqs = append(reqs, fmt.Sprintf("%s %.2f", strings.TrimPrefix(k, "req "), d(k)/float64(n)))
		case strings.HasPrefix(k, "req ") && d(k) > 0:
			others = append(others, fmt.Sprintf("%s %.0f", strings.TrimPrefix(k, "req "), d(k)))
		}
		if base, ok := strings.CutSuffix(k, " count"); ok && d(k) > 0 {
			means = append(means, fmt.Sprintf("%s %.1f ms × %.0f", base, 1000*d(base+" sum")/d(k), d(k)))
		}
	}
	sort.Strings(reqs)
	sort.Strings(others)
	sort.Strings(means)
	return fmt.Sprintf("requests per object: %s; fewer (in all): %s; mean durations: %s",
		strings.Join(reqs, ", "), strings.Join(others, ", "), strings.Join(means, "; "))
}
