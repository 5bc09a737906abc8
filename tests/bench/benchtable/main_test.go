package main

import (
	"slices"
	"strings"
	"testing"
)

const sample = `# loadavg start: 1.00 2.00 3.00 1/200 99
goos: linux
BenchmarkBurst-2   	       1	36368933333 ns/op	 10.64 burst100-vipgate-s	 3.240 burst100-ref-s	 3.450 burst100-gets-per-svc	 5.100 burst100-floor-s
--- BENCH: BenchmarkBurst-2
    burst_bench_test.go:102: 100 Services ...
BenchmarkRestart-2 	       1	11457695210 ns/op	 150.0 ingresses	 300.0 services	 600.0 secrets	 81.81 mem-rss-MiB	 84.60 mem-hwm-MiB	 94.66 restart-rss-MiB	 95.34 restart-hwm-MiB	 10.31 restart-idle-s	 0.5353 restart-ready-s	 1011 restart-calls	 1006 restart-owned-gets	 616.0 restart-object-reads	 13.00 restart-pages	 0 restart-writes
BenchmarkL7Ingresses-2 	 1	11835854172 ns/op	 200.0 l7-ingresses	 11.84 l7-status-s	 2.569 l7-create-s	 7.700 l7-writes-per-ingress	 7.620 l7-changed-per-ingress	 16.00 l7-sync-gets	 1225 l7-sync-foreign-objects	 198.0 l7-sync-own-objects	 198.0 l7-shard-objects
BenchmarkMirror10kServices-2   	       1	10902238202 ns/op	       748.8 B/mirrored-object	826431744 B/op	 9331799 allocs/op
# loadavg end: 4.00 5.00 6.00 2/210 100
`

func TestParse(t *testing.T) {
	r, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		bench, unit string
		want        float64
	}{
		{"BenchmarkBurst", "burst100-vipgate-s", 10.64},
		{"BenchmarkBurst", "burst100-ref-s", 3.24},
		{"BenchmarkRestart", "restart-ready-s", 0.5353},
		{"BenchmarkL7Ingresses", "l7-sync-foreign-objects", 1225},
	}
	for _, tt := range tests {
		if got := r.metrics[tt.bench][tt.unit]; got != tt.want {
			t.Errorf("%s %s = %v, want %v", tt.bench, tt.unit, got, tt.want)
		}
	}
	if r.loadStart != "1.00 2.00 3.00 1/200 99" || r.loadEnd != "4.00 5.00 6.00 2/210 100" {
		t.Errorf("load averages %q, %q", r.loadStart, r.loadEnd)
	}
}

func TestParseRejectsNonNumbers(t *testing.T) {
	_, err := parse(strings.NewReader("BenchmarkBurst-2 1 5 ns/op x burst1-ref-s\n"))
	if err == nil || err.Error() != `BenchmarkBurst: value "x" of "burst1-ref-s" is not a number` {
		t.Fatalf("err = %v", err)
	}
}

func TestRows(t *testing.T) {
	r, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	want := []row{
		{"100 Services created at once: all VIPs in status", "10.6 s (other class: 3.2 s created; ratio 3.28)", "≤ 1.3 × 3.2 s + 1 s = 5.2 s", "NO"},
		{"the floor for 100: a webhook call and a status write per Service, nothing else", "5.1 s (ratio 1.57)", "≤ 5.2 s: the goal can be met here", "yes"},
		{"controller reads while creating 100", "345 (3.45 per Service)", "—", "—"},
		{"restart with 300 Services and 150 Ingresses in sync: time to idle", "10.3 s (ready after 0.5 s)", "< 30 s", "yes"},
		{"restart: controller calls", "1,011 (owned types: 1,006 GETs, 616 of one object; collection pages: 13)", "collection pages only: no single-object read, GETs of owned types ≤ 3 × pages", "NO"},
		{"restart: controller writes", "0", "0", "yes"},
		{"200 Ingresses × 3 paths on LARGE shards: all with status", "11.8 s (creates 2.6 s)", "< 30 s", "yes"},
		{"Ingresses: controller writes per Ingress", "7.70", "≤ objects changed per Ingress (7.62)", "NO"},
		{"one shard sync: objects its reads return", "1,225 of other shards, 198 of its own (it holds 198; 16 GETs)", "only its own objects (0 of other shards)", "NO"},
		{"memory: vipgate process RSS, idle after creating 300 Services, 150 Ingresses, 600 Secrets", "82 MiB (peak 85 MiB)", "< 150 MiB", "yes"},
		{"memory: vipgate process RSS, idle after a restart", "95 MiB (peak 95 MiB)", "< 150 MiB", "yes"},
		{"memory: the applier's mirror of 10,000 Services (30,000 objects), live heap per object", "749 B (21.4 MiB in all)", "—", "—"},
		{"admission p99 at the webhook and through the API server", "not run (BenchmarkAdmission)", "< 1 ms, < 10 ms", "—"},
		{"HostRule admission p99 at the webhook and through the API server", "not run (BenchmarkHostRuleAdmission)", "< 1 ms, < 10 ms", "—"},
	}
	sameRows(t, rows(r), want)
}

// sameRows fails t unless got is want, row by row.
func sameRows(t *testing.T, got, want []row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d:\n%v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
}

func TestCount(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 10000: "10,000", 1234567: "1,234,567"} {
		if got := count(in); got != want {
			t.Errorf("count(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestRenderNothingRun(t *testing.T) {
	out := render(results{metrics: map[string]map[string]float64{}})
	for _, s := range []string{"| measure ", "not run (BenchmarkBurst)", "not run (BenchmarkRestart)", "not run (BenchmarkL7Ingresses)", "not run (BenchmarkMirror10kServices)", "at start: not recorded; at end: not recorded"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

// TestRowsSettledMemory: with the settled and steady measures, four rows
// follow the memory rows, each judged against the same goal.
func TestRowsSettledMemory(t *testing.T) {
	in := strings.Replace(sample, " 95.34 restart-hwm-MiB", " 95.34 restart-hwm-MiB	 160.4 mem-settled-rss-MiB	 120.2 restart-settled-rss-MiB	 171.6 mem-steady-max-rss-MiB	 148.2 restart-steady-max-rss-MiB", 1)
	r, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	got := rows(r)
	want := []row{
		{"memory: vipgate process RSS, idle after a restart", "95 MiB (peak 95 MiB)", "< 150 MiB", "yes"},
		{"memory: vipgate process RSS, 30 s after it went idle (after creating)", "160 MiB", "< 150 MiB", "NO"},
		{"memory: vipgate process RSS, 30 s after it went idle (after a restart)", "120 MiB", "< 150 MiB", "yes"},
		{"memory: vipgate process RSS, highest in the 90 s after that (after creating)", "172 MiB", "< 150 MiB", "NO"},
		{"memory: vipgate process RSS, highest in the 90 s after that (after a restart)", "148 MiB", "< 150 MiB", "yes"},
	}
	start := slices.IndexFunc(got, func(r row) bool { return r.measure == want[0].measure })
	if start < 0 {
		t.Fatalf("rows %v\nhave no %q", got, want[0].measure)
	}
	for i, w := range want {
		j := start + i
		if j >= len(got) || got[j] != w {
			t.Fatalf("rows %v\nwant %q at %d", got, w, j)
		}
	}
}

func TestFullSyncRows(t *testing.T) {
	r, err := parse(strings.NewReader("BenchmarkRestart-2 1 5 ns/op 340 restart-pages 12.5 fullsync-s 352 fullsync-owned-gets 0 fullsync-object-reads 0 fullsync-writes 1.2 fullsync-probe-s 0.3 idle-probe-s\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []row{
		{"full sync (fullSyncFrequency) with everything in sync: one round", "12.5 s; owned types: 352 GETs, 0 of one object (collection pages: 340); 0 writes",
			"collection pages only: no single-object read, GETs of owned types ≤ 3 × pages; 0 writes", "yes"},
		{"full sync: a Service created as the round begins, VIP in status", "1.2 s (one created when idle: 0.3 s)", "—", "—"},
	}
	sameRows(t, fullSyncRows(r), want)
}

// TestAdmissionRowsWithReference: the API server's p99 is shown next to the
// reference create that calls no webhook, when the output has it.
func TestAdmissionRowsWithReference(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"BenchmarkAdmission-2 1 5 ns/op 0.52 p99-ms 12.1 api-p99-ms 8.24 api-ref-p99-ms 2000 services 1000 ingresses 4000 secrets\n",
			"12.10 ms (a Service of another class, no webhook: 8.24 ms)"},
		{"BenchmarkAdmission-2 1 5 ns/op 0.52 p99-ms 12.1 api-p99-ms 2000 services 1000 ingresses 4000 secrets\n", "12.10 ms"},
	} {
		r, err := parse(strings.NewReader(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		var got *row
		for _, x := range rows(r) {
			if x.measure == "admission p99 through the API server (dry-run)" {
				got = &x
			}
		}
		if got == nil || got.value != tt.want || got.met != "NO" {
			t.Errorf("%q: row %+v, want value %q, not met", tt.in, got, tt.want)
		}
	}
}
