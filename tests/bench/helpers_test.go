package bench

// Tests of the benchmarks' own arithmetic: they need no API server, so they
// run in `go test ./...` while the benchmarks do not.

import (
	"net/url"
	"strings"
	"testing"

	"github.com/vipgate/vipgate/avi/model"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP controller_runtime_reconcile_total Total number of reconciliations per controller
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="service",result="success"} 351
controller_runtime_reconcile_total{controller="service",result="error"} 2
controller_runtime_reconcile_total{controller="ingress",result="requeue_after"} 1.5e+01
workqueue_depth{controller="service",name="service"} 3
workqueue_depth{controller="ingress",name="ingress"} 4
workqueue_adds_total{controller="service",name="service"} 900
controller_runtime_active_workers{controller="service"} 0
controller_runtime_active_workers{controller="ingress"} 2
# TYPE vipgate_l7_shards_settling gauge
vipgate_l7_shards_settling 5
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want float64
	}{
		{"service reconciles", m.reconciles["service"], 353},
		{"ingress reconciles", m.reconciles["ingress"], 15},
		{"total", m.total(), 368},
		{"depth", m.depth, 7},
		{"active", m.active, 2},
		{"settling", m.settling, 5},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if _, err := parseMetrics(strings.NewReader("vipgate_l7_shards_settling x\n")); err == nil || !strings.Contains(err.Error(), `metrics line "vipgate_l7_shards_settling x"`) {
		t.Errorf("bad settling value: err %v", err)
	}
	if _, err := parseMetrics(strings.NewReader(`workqueue_depth{name="x"} many` + "\n")); err == nil || !strings.Contains(err.Error(), `metrics line "workqueue_depth{name=\"x\"} many"`) {
		t.Errorf("bad value: err %v", err)
	}
}

func TestStatusKB(t *testing.T) {
	status := []byte("Name:\tvipgate\nVmHWM:\t  120400 kB\nVmRSS:\t   98304 kB\n")
	for field, want := range map[string]float64{"VmRSS": 98304, "VmHWM": 120400, "VmSwap": -1} {
		if got := statusKB(status, field); got != want {
			t.Errorf("%s = %v, want %v", field, got, want)
		}
	}
}

func TestChangedObjects(t *testing.T) {
	before := map[string]string{"pool/a": "1", "pool/b": "1", "vsvip/c": "1"}
	after := map[string]string{"pool/a": "1", "pool/b": "2", "pool/d": "1"}
	// b modified, d created, c deleted.
	if got := changedObjects(before, after); got != 3 {
		t.Errorf("changedObjects = %d, want 3", got)
	}
}

func TestShardOf(t *testing.T) {
	host1 := int(model.ShardIndex("ing-1.bench.example.com", 8))
	tests := []struct {
		name string
		want int
	}{
		{"bench--Shared-L7-5", 5},
		{"bench--Shared-L7-0", 0},
		{"System-HTTP", -1},
		{"bench--pb-01-lb-7", -1},
		// Host-named objects land on their host's shard (fnv32a mod 8).
		{"bench--ing-1.bench.example.com", host1},
		{"bench--ing-1.bench.example.com_p0-pb-01-ing-1", host1},
	}
	for _, tt := range tests {
		if got := shardOf(tt.name); got != tt.want {
			t.Errorf("shardOf(%q) = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestReadsOfShard(t *testing.T) {
	own := "bench--Shared-L7-2"
	other := "bench--Shared-L7-3"
	reads := []readRecord{
		{Type: "virtualservice", Query: url.Values{"name": {own}}, Names: []string{own}, Single: true},
		{Type: "pool", Query: url.Values{}, Names: []string{own, other, "System-x"}},
		{Type: "vsvip", Query: url.Values{"fields": {"name,vip"}}, Names: []string{own, other}},
	}
	s := readsOfShard(reads, 2)
	if s.gets != 3 || s.own != 2 || s.foreign != 1 || s.inventory != 2 || s.rest != 1 {
		t.Errorf("readsOfShard = %+v, want 3 GETs, 2 own, 1 foreign, 2 inventory, 1 other", s)
	}
	if s.byType["pool"] != [2]int{1, 3} {
		t.Errorf("pool reads %v, want 1 GET of 3 objects", s.byType["pool"])
	}
}

func TestAnswerNames(t *testing.T) {
	tests := []struct {
		body string
		want []string
	}{
		{`{"count":2,"results":[{"name":"a"},{"name":"b"}]}`, []string{"a", "b"}},
		{`{"count":0,"results":[]}`, []string{}},
		{`{"name":"one","uuid":"x"}`, []string{"one"}},
		{`not json`, nil},
	}
	for _, tt := range tests {
		got := answerNames([]byte(tt.body))
		if strings.Join(got, ",") != strings.Join(tt.want, ",") || (got == nil) != (tt.want == nil) {
			t.Errorf("answerNames(%s) = %#v, want %#v", tt.body, got, tt.want)
		}
	}
}

// TestBusy: the process is busy with ready items, running reconciles or
// shard syncs waiting to settle (delayed items, which depth does not count),
// and idle only with none of them.
func TestBusy(t *testing.T) {
	for _, tt := range []struct {
		name string
		m    procMetrics
		want bool
	}{
		{"nothing", procMetrics{}, false},
		{"ready items", procMetrics{depth: 1}, true},
		{"a reconcile running", procMetrics{active: 1}, true},
		{"a shard settling, queues empty", procMetrics{settling: 1}, true},
	} {
		if got := tt.m.busy(); got != tt.want {
			t.Errorf("%s: busy = %v, want %v", tt.name, got, tt.want)
		}
	}
}
