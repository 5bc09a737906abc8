package bench

// This file: vipgate as a separate process (bin/vipgate), for the benchmarks
// whose subject is the process itself: its memory (VmRSS, VmHWM from
// /proc/<pid>/status), its restart, and its webhook served over TLS to the
// API server as in a cluster. The test binary holds the API server's clients
// and avisim, so none of their memory or CPU is counted as vipgate's.

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/vipgate/vipgate/internal/freeport"
)

// benchSettingsYAML are the settings of the vipgate process: the demo's,
// on bigSeed's /16 VIP network, LARGE L7 shards (8 shared virtual services);
// %s is the controller host.
const benchSettingsYAML = `
AKOSettings:
  clusterName: bench
  fullSyncFrequency: "%d"
NetworkSettings:
  vipNetworkList:
  - networkName: vip-net-big
L7Settings:
  defaultIngController: true
  serviceType: ClusterIP
  shardVSSize: LARGE
L4Settings:
  defaultLBController: true
ControllerSettings:
  controllerHost: "%s"
  cloudName: Default-Cloud
  serviceEngineGroupName: Default-Group
  tenantName: admin
`

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// vipgateBinary is the binary under test: $VIPGATE_BIN (make bench passes
// bin/vipgate from make build), else ./cmd/vipgate built once per run into
// .cache/bench-bin, so a benchmark run alone measures the working tree.
func vipgateBinary(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("VIPGATE_BIN"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := os.Stat(abs); err != nil {
			b.Fatalf("VIPGATE_BIN: %v", err)
		}
		return abs
	}
	buildOnce.Do(func() {
		dir := filepath.Join(env.Root, ".cache", "bench-bin")
		builtBin = filepath.Join(dir, "vipgate")
		cmd := exec.Command("go", "build", "-trimpath", "-o", builtBin, "./cmd/vipgate")
		cmd.Dir = env.Root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/vipgate: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return builtBin
}

// vipgateProc is one running vipgate process.
type vipgateProc struct {
	cmd         *exec.Cmd
	started     time.Time
	metricsAddr string
	healthAddr  string
	// pprofAddr serves the process's profiles when BENCH_PPROF is set.
	pprofAddr string
	dir       string
	log       string
	done      chan struct{}
	waitErr   error
}

// procDir is the folder for one benchmark's settings, credentials (with the
// simulator's CA, which the process verifies) and logs.
func procDir(b *testing.B, sim interface{ CACertPEM() []byte }) string {
	b.Helper()
	dir := filepath.Join(env.Root, ".cache", "bench-run", strings.ReplaceAll(b.Name(), "/", "_"))
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "credentials"), 0o700); err != nil {
		b.Fatal(err)
	}
	for k, v := range map[string]string{"username": "admin", "password": "admin", "certificateAuthorityData": string(sim.CACertPEM())} {
		if err := os.WriteFile(filepath.Join(dir, "credentials", k), []byte(v), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// freeAddr is a loopback address for a server the vipgate process binds
// (see freeport: not one an outgoing connection can take first).
func freeAddr(b *testing.B) string {
	b.Helper()
	port, err := freeport.Loopback()
	if err != nil {
		b.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// startVipgateProc starts bin/vipgate against the shared API server and the
// controller at simHost, serving the webhooks the harness registered (its
// address, its certificate files), with leader election off, and waits until
// /readyz answers and the webhook server completes a TLS handshake. n tells
// runs apart in the log file's name. The process is killed at cleanup. Its
// full sync (fullSyncFrequency) is AKO's default, 30 minutes: none runs
// within a benchmark.
func startVipgateProc(b *testing.B, dir, simHost string, n int) *vipgateProc {
	b.Helper()
	return startVipgateProcSync(b, dir, simHost, n, 1800)
}

// startVipgateProcSync is startVipgateProc with a full sync every fullSyncS seconds.
func startVipgateProcSync(b *testing.B, dir, simHost string, n, fullSyncS int) *vipgateProc {
	b.Helper()
	ctx := context.Background()
	if err := createOK(ctx, env.Client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "vipgate-system"}}); err != nil {
		b.Fatal(err)
	}
	settings := filepath.Join(dir, "settings.yaml")
	if err := os.WriteFile(settings, fmt.Appendf(nil, benchSettingsYAML, fullSyncS, simHost), 0o600); err != nil {
		b.Fatal(err)
	}
	p := &vipgateProc{metricsAddr: freeAddr(b), healthAddr: freeAddr(b), dir: dir, log: filepath.Join(dir, fmt.Sprintf("vipgate-%d.log", n)), done: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		b.Fatal(err)
	}
	p.cmd = exec.Command(vipgateBinary(b),
		"--settings", settings, "--credentials-dir", filepath.Join(dir, "credentials"), "--namespace", "vipgate-system",
		"--webhook-host", env.WebhookHost, "--webhook-port", strconv.Itoa(env.WebhookPort), "--webhook-cert-dir", env.CertDir,
		"--metrics-bind-address", p.metricsAddr, "--health-probe-bind-address", p.healthAddr,
		"--leader-elect=false",
		// The harness installs fixed webhook configurations, as the other benchmarks see them.
		"--sync-ingress-webhook=false",
		"--zap-log-level=info")
	if os.Getenv("BENCH_PPROF") != "" {
		p.pprofAddr = freeAddr(b)
		p.cmd.Args = append(p.cmd.Args, "--pprof-bind-address", p.pprofAddr)
	}
	p.cmd.Env = append(os.Environ(), "KUBECONFIG="+env.KubeconfigPath)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		b.Fatal(err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	b.Cleanup(p.stop)
	if err := p.waitReady(2 * time.Minute); err != nil {
		b.Fatalf("vipgate process: %v; log %s:\n%s", err, p.log, tail(p.log, 30))
	}
	return p
}

// waitReady waits for /readyz and a TLS handshake on the webhook port.
func (p *vipgateProc) waitReady(limit time.Duration) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(env.CAData)
	addr := net.JoinHostPort(env.WebhookHost, strconv.Itoa(env.WebhookPort))
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("exited: %v", p.waitErr)
		default:
		}
		resp, err := http.Get("http://" + p.healthAddr + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: env.WebhookHost, MinVersion: tls.VersionTLS12})
				if err == nil {
					return conn.Close()
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s", limit)
}

// stop ends the process as a pod is ended (SIGTERM, SIGKILL after 30 s) and
// waits for it; calling it again is harmless.
func (p *vipgateProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// memMiB reads VmRSS (resident now) and VmHWM (peak resident) of the process.
func (p *vipgateProc) memMiB(b *testing.B) (rss, hwm float64) {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		b.Fatalf("reading the vipgate process's status: %v", err)
	}
	return statusKB(data, "VmRSS") / 1024, statusKB(data, "VmHWM") / 1024
}

// statusKB is field (in kB) of a /proc/<pid>/status text, -1 when absent.
func statusKB(data []byte, field string) float64 {
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// procMetrics is what the benchmarks read from the process's /metrics.
type procMetrics struct {
	// reconciles per controller, all results.
	reconciles map[string]float64
	// depth is the sum of every work queue's depth: ready items only
	// (controller-runtime's priority queue leaves out items waiting on a
	// delay), hence settling and active.
	depth float64
	// settling is vipgate_l7_shards_settling: shard syncs waiting for their
	// Ingresses to stop changing, which depth does not show.
	settling float64
	// active is the sum of controller_runtime_active_workers: reconciles
	// running now (a long one moves no counter until it ends).
	active float64
	// runtime holds the Go runtime's gauges without labels (go_memstats_*,
	// go_goroutines), to tell live heap from memory the runtime keeps.
	runtime map[string]float64
}

// busy tells whether the process has work in hand or due: ready items,
// running reconciles, or shard syncs waiting to settle.
func (m procMetrics) busy() bool { return m.depth > 0 || m.active > 0 || m.settling > 0 }

func (m procMetrics) total() float64 {
	t := 0.0
	for _, v := range m.reconciles {
		t += v
	}
	return t
}

// metrics scrapes the process's /metrics (Prometheus text format).
func (p *vipgateProc) metrics() (procMetrics, error) {
	resp, err := http.Get("http://" + p.metricsAddr + "/metrics")
	if err != nil {
		return procMetrics{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return procMetrics{}, fmt.Errorf("/metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads controller_runtime_reconcile_total by controller, the
// sums of workqueue_depth and controller_runtime_active_workers, and
// vipgate_l7_shards_settling from Prometheus text.
func parseMetrics(r io.Reader) (procMetrics, error) {
	m := procMetrics{reconciles: map[string]float64{}, runtime: map[string]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "vipgate_l7_shards_settling "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return m, fmt.Errorf("metrics line %q: %v", line, err)
			}
			m.settling = f
			continue
		}
		if strings.HasPrefix(line, "go_memstats_") || strings.HasPrefix(line, "go_goroutines ") {
			if name, val, ok := strings.Cut(line, " "); ok {
				if v, err := strconv.ParseFloat(val, 64); err == nil {
					m.runtime[name] = v
				}
			}
			continue
		}
		name, rest, ok := strings.Cut(line, "{")
		if !ok || (name != "controller_runtime_reconcile_total" && name != "workqueue_depth" && name != "controller_runtime_active_workers") {
			continue
		}
		labels, val, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return m, fmt.Errorf("metrics line %q: %v", line, err)
		}
		switch name {
		case "workqueue_depth":
			m.depth += v
			continue
		case "controller_runtime_active_workers":
			m.active += v
			continue
		}
		ctrl := ""
		for _, l := range strings.Split(labels, ",") {
			if k, v, ok := strings.Cut(l, "="); ok && k == "controller" {
				ctrl = strings.Trim(v, `"`)
			}
		}
		m.reconciles[ctrl] += v
	}
	return m, sc.Err()
}

// idleResult is what waitIdle saw.
type idleResult struct {
	// at is when the last activity (a reconcile, a controller call, queued
	// work) was seen: the process was idle from then on.
	at time.Time
	// reconciles is every controller's reconcile count at that point.
	reconciles map[string]float64
}

// waitIdle waits until the process is idle: nothing ready in its work
// queues, no reconcile running, no L7 shard waiting for its Ingresses to
// settle (a delayed item, which workqueue_depth does not count: idle used to
// be declared while a shard sync was still due), and neither its reconcile
// counters nor the controller's call counter moved for a second, and the Service controller has reconciled at least minService
// objects (so a quiet moment before the caches have synced does not count)
// or nothing has moved for five seconds. It fails after limit.
func (p *vipgateProc) waitIdle(b *testing.B, calls func() int, minService int, limit time.Duration) idleResult {
	b.Helper()
	deadline := time.Now().Add(limit)
	var lastTotal float64 = -1
	lastCalls := -1
	last := time.Now()
	var res idleResult
	for {
		if time.Now().After(deadline) {
			b.Fatalf("vipgate not idle after %s (reconciles %v); log %s:\n%s", limit, res.reconciles, p.log, tail(p.log, 20))
		}
		select {
		case <-p.done:
			b.Fatalf("vipgate exited: %v; log %s:\n%s", p.waitErr, p.log, tail(p.log, 30))
		default:
		}
		m, err := p.metrics()
		now := time.Now()
		if err != nil {
			last = now
			time.Sleep(100 * time.Millisecond)
			continue
		}
		c := calls()
		if t := m.total(); t != lastTotal || c != lastCalls || m.busy() {
			lastTotal, lastCalls, last = t, c, now
			res = idleResult{at: now, reconciles: m.reconciles}
		}
		quiet := now.Sub(last)
		if quiet >= time.Second && (m.reconciles["service"] >= float64(minService) || quiet >= 5*time.Second) {
			return res
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// profile saves a profile of the process into its benchmark's folder as
// <name>.pprof when BENCH_PPROF is set (for go tool pprof): kind "heap"
// (after a garbage collection, so it shows what is live), "heap-last" (no
// collection first: what the last collection found live, which right after
// a burst shows what the burst held at its peak) or "cpu" (for
// BENCH_PPROF_CPU seconds, 30 by default, from now). A CPU profile is
// taken in the background; the returned func waits for it. Nothing
// happens without BENCH_PPROF. A failed profile is logged, never fatal: the
// measures do not depend on it.
func (p *vipgateProc) profile(b *testing.B, name, kind string) (wait func()) {
	b.Helper()
	if p.pprofAddr == "" {
		return func() {}
	}
	url := "http://" + p.pprofAddr + "/debug/pprof/heap?gc=1"
	switch kind {
	case "heap-last":
		url = "http://" + p.pprofAddr + "/debug/pprof/heap"
	case "cpu":
		url = fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", p.pprofAddr, envInt(b, "BENCH_PPROF_CPU", 30))
	}
	path := filepath.Join(p.dir, name+".pprof")
	done := make(chan struct{})
	fetch := func() {
		defer close(done)
		resp, err := http.Get(url)
		if err != nil {
			b.Logf("profile %s: %v", name, err)
			return
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", resp.Status, data)
		}
		if err == nil {
			err = os.WriteFile(path, data, 0o600)
		}
		if err != nil {
			b.Logf("profile %s: %v", name, err)
			return
		}
		b.Logf("profile %s: %s", name, path)
	}
	if kind == "cpu" {
		go fetch()
	} else {
		fetch()
	}
	return func() { <-done }
}

// apiserverProfile saves a CPU profile of the API server (its own
// /debug/pprof, on by default) into dir as <name>.pprof when BENCH_PPROF is
// set, for BENCH_PPROF_CPU seconds from now, in the background: the
// returned func waits for it. A failed profile is logged, never fatal.
func apiserverProfile(b *testing.B, dir, name string) (wait func()) {
	b.Helper()
	if os.Getenv("BENCH_PPROF") == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		hc, err := rest.HTTPClientFor(env.Cfg)
		if err != nil {
			b.Logf("profile %s: %v", name, err)
			return
		}
		resp, err := hc.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(env.Cfg.Host, "/"), envInt(b, "BENCH_PPROF_CPU", 30)))
		if err != nil {
			b.Logf("profile %s: %v", name, err)
			return
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %.200s", resp.Status, data)
		}
		path := filepath.Join(dir, name+".pprof")
		if err == nil {
			err = os.WriteFile(path, data, 0o600)
		}
		if err != nil {
			b.Logf("profile %s: %v", name, err)
			return
		}
		b.Logf("profile %s: %s", name, path)
	}()
	return func() { <-done }
}

// settledMiB is the process's RSS after it has stayed idle for d more: the
// runtime returns the memory a burst of work left free in the background,
// over tens of seconds, so RSS right at idle still holds some of it.
func (p *vipgateProc) settledMiB(b *testing.B, d time.Duration) float64 {
	b.Helper()
	time.Sleep(d)
	rss, _ := p.memMiB(b)
	return rss
}

// steadyMaxMiB is the highest RSS the process shows over d while it stays
// idle, sampled every second. An idle process still works: the inventory
// reads every VsVip once a minute, and the trim after it returns what that
// read left behind, so RSS is a sawtooth and one sample can catch its low
// point; the highest is what a memory limit has to hold.
func (p *vipgateProc) steadyMaxMiB(b *testing.B, d time.Duration) float64 {
	b.Helper()
	var top float64
	for end := time.Now().Add(d); ; time.Sleep(time.Second) {
		if rss, _ := p.memMiB(b); rss > top {
			top = rss
		}
		if time.Now().After(end) {
			return top
		}
	}
}

// memDetail says where the process's memory is, from its runtime gauges:
// live heap and what the runtime holds besides (for the log next to RSS).
func (p *vipgateProc) memDetail() string {
	m, err := p.metrics()
	if err != nil {
		return "runtime gauges: " + err.Error()
	}
	mib := func(k string) float64 { return m.runtime[k] / (1 << 20) }
	// RSS is anonymous memory (the heap, stacks) plus the binary's pages
	// that are resident (file-backed, shared, dropped under pressure).
	var anon, file float64
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)); err == nil {
		anon, file = statusKB(data, "RssAnon")/1024, statusKB(data, "RssFile")/1024
	}
	return fmt.Sprintf("RSS anonymous %.1f MiB, file-backed %.1f MiB; ", anon, file) + fmt.Sprintf("heap in use %.1f MiB (next GC at %.1f MiB), heap idle %.1f MiB of which released %.1f MiB, stacks %.1f MiB, from the OS %.1f MiB, %.0f goroutines",
		mib("go_memstats_heap_inuse_bytes"), mib("go_memstats_next_gc_bytes"), mib("go_memstats_heap_idle_bytes"), mib("go_memstats_heap_released_bytes"),
		mib("go_memstats_stack_inuse_bytes"), mib("go_memstats_sys_bytes"), m.runtime["go_goroutines"])
}

// tail is the last n lines of a file, for failure messages.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
