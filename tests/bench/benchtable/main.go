// Command benchtable prints the table of `make bench`: it reads the output
// of `go test -bench` for tests/bench (and the load-average lines the
// Makefile writes around the run) on standard input and prints one Markdown
// table, one row per measure of issue 18 (and the applier mirror's bytes
// per object from avi/apply's BenchmarkMirror10kServices), with its value, its goal and
// whether the goal was met. A benchmark that did not run gives rows saying so.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

func main() {
	res, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	fmt.Print(render(res))
}

// results are the metrics of each benchmark (name without the -GOMAXPROCS
// suffix → unit → value) and the load-average lines.
type results struct {
	metrics   map[string]map[string]float64
	loadStart string
	loadEnd   string
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// parse reads `go test -bench` output: "BenchmarkX-2  1  123 ns/op  4.5 unit ..."
// lines and "# loadavg start: ..." / "# loadavg end: ..." lines.
func parse(r io.Reader) (results, error) {
	res := results{metrics: map[string]map[string]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "# loadavg start:"); ok {
			res.loadStart = strings.TrimSpace(v)
			continue
		}
		if v, ok := strings.CutPrefix(line, "# loadavg end:"); ok {
			res.loadEnd = strings.TrimSpace(v)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // a "--- BENCH:" log or a failure line
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		m := res.metrics[name]
		if m == nil {
			m = map[string]float64{}
			res.metrics[name] = m
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return res, fmt.Errorf("%s: value %q of %q is not a number", name, f[i], f[i+1])
			}
			m[f[i+1]] = v
		}
	}
	return res, sc.Err()
}

// row is one line of the table.
type row struct {
	measure, value, goal, met string
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// get returns the named metrics of a benchmark, ok only when all are there.
func (r results) get(bench string, units ...string) ([]float64, bool) {
	m := r.metrics[bench]
	out := make([]float64, len(units))
	for i, u := range units {
		v, ok := m[u]
		if !ok {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

// count prints n with thousands separators ("10,000").
func count(n float64) string {
	s := strconv.FormatInt(int64(n+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

var burstUnit = regexp.MustCompile(`^burst(\d+)-vipgate-s$`)

// floorRow is the floor's burst of n next to the burst goal: whether any
// operator of vipgate's shape (a webhook call at create and a status write)
// can meet it on this machine.
func floorRow(r results, n int, ref, limit float64) row {
	measure := fmt.Sprintf("the floor for %s: a webhook call and a status write per Service, nothing else", count(float64(n)))
	v, ok := r.get("BenchmarkBurst", fmt.Sprintf("burst%d-floor-s", n))
	if !ok {
		return row{measure, "not run (BenchmarkBurst)", "—", "—"}
	}
	return row{measure, fmt.Sprintf("%.1f s (ratio %.2f)", v[0], v[0]/ref), fmt.Sprintf("≤ %.1f s: the goal can be met here", limit), yesNo(v[0] <= limit)}
}

// rows builds the table from the results, in the order.
func rows(r results) []row {
	var out []row
	notRun := func(measure, bench, goal string) {
		out = append(out, row{measure, "not run (" + bench + ")", goal, "—"})
	}

	var sizes []int
	for u := range r.metrics["BenchmarkBurst"] {
		if m := burstUnit.FindStringSubmatch(u); m != nil {
			n, _ := strconv.Atoi(m[1])
			sizes = append(sizes, n)
		}
	}
	sort.Ints(sizes)
	if len(sizes) == 0 {
		notRun("Services created at once: all VIPs in status", "BenchmarkBurst", "≤ 1.3 × reference + 1 s")
	}
	for _, n := range sizes {
		p := fmt.Sprintf("burst%d-", n)
		v, ok := r.get("BenchmarkBurst", p+"vipgate-s", p+"ref-s", p+"gets-per-svc")
		if !ok {
			continue
		}
		limit := 1.3*v[1] + 1
		out = append(out,
			row{fmt.Sprintf("%s Services created at once: all VIPs in status", count(float64(n))),
				fmt.Sprintf("%.1f s (other class: %.1f s created; ratio %.2f)", v[0], v[1], v[0]/v[1]),
				fmt.Sprintf("≤ 1.3 × %.1f s + 1 s = %.1f s", v[1], limit), yesNo(v[0] <= limit)},
			floorRow(r, n, v[1], limit),
			row{fmt.Sprintf("controller reads while creating %s", count(float64(n))),
				fmt.Sprintf("%s (%.2f per Service)", count(v[2]*float64(n)), v[2]), "—", "—"})
	}

	const restartGoal = "< 30 s"
	if v, ok := r.get("BenchmarkRestart", "services", "ingresses", "restart-idle-s", "restart-ready-s"); ok {
		out = append(out, row{fmt.Sprintf("restart with %s Services and %s Ingresses in sync: time to idle", count(v[0]), count(v[1])),
			fmt.Sprintf("%.1f s (ready after %.1f s)", v[2], v[3]), restartGoal, yesNo(v[2] < 30)})
	} else {
		notRun("restart with Services and Ingresses in sync: time to idle", "BenchmarkRestart", restartGoal)
	}
	const callsGoal = "collection pages only: no single-object read, GETs of owned types ≤ 3 × pages"
	if v, ok := r.get("BenchmarkRestart", "restart-calls", "restart-owned-gets", "restart-object-reads", "restart-pages"); ok {
		out = append(out, row{"restart: controller calls",
			fmt.Sprintf("%s (owned types: %s GETs, %s of one object; collection pages: %s)", count(v[0]), count(v[1]), count(v[2]), count(v[3])),
			callsGoal, yesNo(v[2] == 0 && v[1] <= 3*v[3])})
	} else {
		notRun("restart: controller calls", "BenchmarkRestart", callsGoal)
	}
	if v, ok := r.get("BenchmarkRestart", "restart-writes"); ok {
		out = append(out, row{"restart: controller writes", count(v[0]), "0", yesNo(v[0] == 0)})
	} else {
		notRun("restart: controller writes", "BenchmarkRestart", "0")
	}
	out = append(out, fullSyncRows(r)...)

	if v, ok := r.get("BenchmarkL7Ingresses", "l7-ingresses", "l7-status-s", "l7-create-s"); ok {
		out = append(out, row{fmt.Sprintf("%s Ingresses × 3 paths on LARGE shards: all with status", count(v[0])),
			fmt.Sprintf("%.1f s (creates %.1f s)", v[1], v[2]), "< 30 s", yesNo(v[1] < 30)})
	} else {
		notRun("Ingresses × 3 paths on LARGE shards: all with status", "BenchmarkL7Ingresses", "< 30 s")
	}
	if v, ok := r.get("BenchmarkL7Ingresses", "l7-writes-per-ingress", "l7-changed-per-ingress"); ok {
		out = append(out, row{"Ingresses: controller writes per Ingress",
			fmt.Sprintf("%.2f", v[0]), fmt.Sprintf("≤ objects changed per Ingress (%.2f)", v[1]), yesNo(v[0] <= v[1])})
	} else {
		notRun("Ingresses: controller writes per Ingress", "BenchmarkL7Ingresses", "≤ objects changed")
	}
	const shardGoal = "only its own objects (0 of other shards)"
	if v, ok := r.get("BenchmarkL7Ingresses", "l7-sync-gets", "l7-sync-foreign-objects", "l7-sync-own-objects", "l7-shard-objects"); ok {
		out = append(out, row{"one shard sync: objects its reads return",
			fmt.Sprintf("%s of other shards, %s of its own (it holds %s; %s GETs)", count(v[1]), count(v[2]), count(v[3]), count(v[0])),
			shardGoal, yesNo(v[1] == 0)})
	} else {
		notRun("one shard sync: objects its reads return", "BenchmarkL7Ingresses", shardGoal)
	}

	const memGoal = "< 150 MiB"
	if v, ok := r.get("BenchmarkRestart", "services", "ingresses", "secrets", "mem-rss-MiB", "mem-hwm-MiB", "restart-rss-MiB", "restart-hwm-MiB"); ok {
		size := fmt.Sprintf("%s Services, %s Ingresses, %s Secrets", count(v[0]), count(v[1]), count(v[2]))
		out = append(out,
			row{"memory: vipgate process RSS, idle after creating " + size, fmt.Sprintf("%.0f MiB (peak %.0f MiB)", v[3], v[4]), memGoal, yesNo(v[3] < 150)},
			row{"memory: vipgate process RSS, idle after a restart", fmt.Sprintf("%.0f MiB (peak %.0f MiB)", v[5], v[6]), memGoal, yesNo(v[5] < 150)})
		// Older outputs have no settled measures: their rows are left out.
		if v, ok := r.get("BenchmarkRestart", "mem-settled-rss-MiB", "restart-settled-rss-MiB"); ok {
			out = append(out,
				row{"memory: vipgate process RSS, 30 s after it went idle (after creating)", fmt.Sprintf("%.0f MiB", v[0]), memGoal, yesNo(v[0] < 150)},
				row{"memory: vipgate process RSS, 30 s after it went idle (after a restart)", fmt.Sprintf("%.0f MiB", v[1]), memGoal, yesNo(v[1] < 150)})
		}
		if v, ok := r.get("BenchmarkRestart", "mem-steady-max-rss-MiB", "restart-steady-max-rss-MiB"); ok {
			out = append(out,
				row{"memory: vipgate process RSS, highest in the 90 s after that (after creating)", fmt.Sprintf("%.0f MiB", v[0]), memGoal, yesNo(v[0] < 150)},
				row{"memory: vipgate process RSS, highest in the 90 s after that (after a restart)", fmt.Sprintf("%.0f MiB", v[1]), memGoal, yesNo(v[1] < 150)})
		}
	} else {
		notRun("memory: vipgate process RSS", "BenchmarkRestart", memGoal)
	}

	if v, ok := r.get("BenchmarkMirror10kServices", "B/mirrored-object"); ok {
		out = append(out, row{"memory: the applier's mirror of 10,000 Services (30,000 objects), live heap per object",
			fmt.Sprintf("%s B (%.1f MiB in all)", count(v[0]), v[0]*30000/(1<<20)), "—", "—"})
	} else {
		notRun("memory: the applier's mirror of 10,000 Services, live heap per object", "BenchmarkMirror10kServices", "—")
	}

	if v, ok := r.get("BenchmarkAdmission", "services", "ingresses", "secrets", "p99-ms", "api-p99-ms"); ok {
		size := fmt.Sprintf("%s Services, %s Ingresses, %s Secrets", count(v[0]), count(v[1]), count(v[2]))
		out = append(out,
			row{"admission p99 at the webhook, " + size, fmt.Sprintf("%.2f ms", v[3]), "< 1 ms (quiet machine)", yesNo(v[3] < 1)},
			row{"admission p99 through the API server (dry-run)", apiP99(r, v[4]), "< 10 ms (quiet machine)", yesNo(v[4] < 10)})
	} else {
		notRun("admission p99 at the webhook and through the API server", "BenchmarkAdmission", "< 1 ms, < 10 ms")
	}
	if v, ok := r.get("BenchmarkHostRuleAdmission", "p99-ms", "api-p99-ms"); ok {
		out = append(out,
			row{"HostRule admission p99 at the webhook, 5k HostRules and Ingresses", fmt.Sprintf("%.2f ms", v[0]), "< 1 ms (quiet machine)", yesNo(v[0] < 1)},
			row{"HostRule admission p99 through the API server (dry-run)", fmt.Sprintf("%.2f ms", v[1]), "< 10 ms (quiet machine)", yesNo(v[1] < 10)})
	} else {
		notRun("HostRule admission p99 at the webhook and through the API server", "BenchmarkHostRuleAdmission", "< 1 ms, < 10 ms")
	}
	return out
}

// apiP99 shows the admission p99 through the API server next to the same
// dry-run create of a Service that calls no webhook, where the output has
// it (older outputs do not).
func apiP99(r results, p99 float64) string {
	if v, ok := r.get("BenchmarkAdmission", "api-ref-p99-ms"); ok {
		return fmt.Sprintf("%.2f ms (a Service of another class, no webhook: %.2f ms)", p99, v[0])
	}
	return fmt.Sprintf("%.2f ms", p99)
}

// render prints the rows as a Markdown table with aligned columns, the
// load averages before and after.
func render(r results) string {
	rs := append([]row{{"measure", "value", "goal", "met?"}}, rows(r)...)
	var w [4]int
	for _, x := range rs {
		for i, c := range []string{x.measure, x.value, x.goal, x.met} {
			w[i] = max(w[i], len([]rune(c)))
		}
	}
	pad := func(s string, n int) string { return s + strings.Repeat(" ", n-len([]rune(s))) }
	var sb strings.Builder
	line := func(c [4]string) {
		fmt.Fprintf(&sb, "| %s | %s | %s | %s |\n", pad(c[0], w[0]), pad(c[1], w[1]), pad(c[2], w[2]), pad(c[3], w[3]))
	}
	for i, x := range rs {
		line([4]string{x.measure, x.value, x.goal, x.met})
		if i == 0 {
			line([4]string{strings.Repeat("-", w[0]), strings.Repeat("-", w[1]), strings.Repeat("-", w[2]), strings.Repeat("-", w[3])})
		}
	}
	orUnknown := func(s string) string {
		if s == "" {
			return "not recorded"
		}
		return s
	}
	fmt.Fprintf(&sb, "\nload average (1, 5, 15 min; running/total tasks) at start: %s; at end: %s\n", orUnknown(r.loadStart), orUnknown(r.loadEnd))
	return sb.String()
}

// fullSyncRows are the full-sync measures of BenchmarkRestart; outputs
// without them (older ones, BENCH_FULLSYNC_S=0) have no such rows.
func fullSyncRows(r results) []row {
	const goal = "collection pages only: no single-object read, GETs of owned types ≤ 3 × pages; 0 writes"
	var out []row
	if v, ok := r.get("BenchmarkRestart", "fullsync-s", "fullsync-owned-gets", "fullsync-object-reads", "fullsync-writes", "restart-pages"); ok {
		out = append(out, row{"full sync (fullSyncFrequency) with everything in sync: one round",
			fmt.Sprintf("%.1f s; owned types: %s GETs, %s of one object (collection pages: %s); %s writes", v[0], count(v[1]), count(v[2]), count(v[4]), count(v[3])),
			goal, yesNo(v[2] == 0 && v[1] <= 3*v[4] && v[3] == 0)})
	}
	if v, ok := r.get("BenchmarkRestart", "fullsync-probe-s", "idle-probe-s"); ok {
		out = append(out, row{"full sync: a Service created as the round begins, VIP in status",
			fmt.Sprintf("%.1f s (one created when idle: %.1f s)", v[0], v[1]), "—", "—"})
	}
	return out
}
