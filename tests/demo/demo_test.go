// Package demo runs `make demo` end to end: it builds bin/vipgate and
// bin/avisim into a temporary folder, runs cmd/demo against them (a local
// kube-apiserver and etcd, avisim and vipgate as subprocesses) and checks that
// the walkthrough behaved as the README shows.
package demo

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipgate/vipgate/tests/harness"
)

// buildBinary builds ./cmd/<name> statically into dir.
func buildBinary(t *testing.T, root, dir, name string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./cmd/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
}

// The demo's step titles, in order.
var stepTitles = []string{
	"1. A Service asks for a loadBalancerIP outside every VIP network: refused at once",
	"2. A good Service is admitted ...",
	"3. An Ingress whose TLS Secret does not exist: refused",
	"4. An AviInfraSetting with two VIP networks on a vCenter cloud (multi-VIP needs AWS): refused",
	"5. The objects vipgate created on the controller (created_by vipgate-demo)",
	"6. Traffic: a request to the Service's VIP reaches a pod",
	"7. With its TLS Secret in place the Ingress of step 3 is admitted ...",
	"   ... and answers https://shop.example.com/ on it with the Secret's certificate",
	"8. A HostRule naming a WAF policy the controller does not have: refused",
	"   ... and the host's SNI virtual service on the controller carries it",
}

// The denials as kubectl prints them.
var denials = []string{
	`spec.loadBalancerIP: Invalid value: "10.10.0.5": not inside any VIP network`,
	`spec.tls[0].secretName: Invalid value: "shop-tls": Secret default/shop-tls does not exist`,
	"CLOUD_VCENTER",
	"vip-net-b",
	`spec.virtualhost.wafPolicy: Invalid value: "shop-waf": no WAF policy named "shop-waf" exists on the controller`,
}

// TestDemo runs the demo exactly as `make demo` does (go run ./cmd/demo --bin
// DIR) and checks its exit status and transcript.
func TestDemo(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// The demo needs the project's kube-apiserver, etcd and kubectl; build them
	// first (cached) so their build does not count against the demo's own waits.
	if _, err := harness.Assets(root); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	buildBinary(t, root, bin, "vipgate")
	buildBinary(t, root, bin, "avisim")

	workDir := filepath.Join(tmp, "demo")
	// Stop the demo cleanly (and print its transcript) before go test's own
	// -timeout would panic: the builds alone take minutes on a busy machine, so
	// run this with -timeout 20m or more.
	limit := time.Now().Add(15 * time.Minute)
	if d, ok := t.Deadline(); ok && d.Add(-time.Minute).Before(limit) {
		limit = d.Add(-time.Minute)
	}
	ctx, cancel := context.WithDeadline(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./cmd/demo", "--bin", bin, "--dir", workDir)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// On a timeout, interrupt the process group rather than kill: go run does
	// not forward signals, and the demo stops its subprocesses on SIGINT.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	cmd.WaitDelay = time.Minute
	err = cmd.Run()
	transcript := out.String()
	if err != nil {
		t.Fatalf("go run ./cmd/demo: %v\n%s%s", err, transcript, logs(workDir))
	}

	for _, s := range stepTitles {
		if !strings.Contains(transcript, "==> "+s) {
			t.Errorf("transcript lacks step %q", s)
		}
	}
	for _, d := range denials {
		if !strings.Contains(transcript, d) {
			t.Errorf("transcript lacks the denial text %q", d)
		}
	}
	// The demo seed's static range is printed in the first denial's hint.
	if !strings.Contains(transcript, "10.50.0.10-10.50.0.200") {
		t.Errorf("transcript lacks the VIP network's range 10.50.0.10-10.50.0.200")
	}
	if ip, ok := externalIP(transcript); !ok {
		t.Errorf("no EXTERNAL-IP for service web in the transcript")
	} else if !inRange(ip, "10.50.0.10", "10.50.0.200") {
		t.Errorf("EXTERNAL-IP %s is outside the static range 10.50.0.10-10.50.0.200", ip)
	}
	// What users get: a pod's answer through the Service VIP, and over HTTPS
	// through the Ingress VIP with the Secret's certificate.
	for _, w := range []string{`"backend":"web-pod-`, "certificate subject: CN=shop.example.com", `"host":"shop.example.com"`} {
		if !strings.Contains(transcript, w) {
			t.Errorf("transcript lacks %q", w)
		}
	}
	if !strings.Contains(transcript, "every step behaved as expected") {
		t.Errorf("transcript lacks %q", "every step behaved as expected")
	}
	if strings.Contains(transcript, "!!") {
		t.Errorf("transcript reports a misbehaving step (a line with !!)")
	}
	if t.Failed() {
		t.Logf("transcript:\n%s", transcript)
	}
}

// externalIP reads the EXTERNAL-IP column of `kubectl get service web -o wide`.
func externalIP(transcript string) (netip.Addr, bool) {
	lines := strings.Split(transcript, "\n")
	for i, l := range lines {
		fields := strings.Fields(l)
		col := -1
		for j, f := range fields {
			if f == "EXTERNAL-IP" {
				col = j
			}
		}
		if col < 0 || i+1 >= len(lines) {
			continue
		}
		row := strings.Fields(lines[i+1])
		if len(row) <= col || row[0] != "web" {
			continue
		}
		if ip, err := netip.ParseAddr(row[col]); err == nil {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

func inRange(ip netip.Addr, lo, hi string) bool {
	l, h := netip.MustParseAddr(lo), netip.MustParseAddr(hi)
	return ip.Compare(l) >= 0 && ip.Compare(h) <= 0
}

var logName = regexp.MustCompile(`\.log$`)

// logs returns the demo's subprocess logs, for a failure message.
func logs(dir string) string {
	var b strings.Builder
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !logName.MatchString(e.Name()) {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if len(data) > 8000 {
			data = append([]byte("..."), data[len(data)-8000:]...)
		}
		b.WriteString("\n--- " + e.Name() + " ---\n" + string(data))
	}
	return b.String()
}
