package chaos

import (
	"bufio"
	"bytes"
	"context"
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
	"time"

	"github.com/vipgate/vipgate/internal/freeport"
	"github.com/vipgate/vipgate/tests/harness"
)

// vipgate runs as separate processes (bin/vipgate built from this tree), so
// that kill -9 is a real kill: no deferred cleanup, no lease released, work
// queues and in-memory state gone.

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// vipgateBinary returns the vipgate binary the run starts: CHAOS_VIPGATE_BIN
// when set, else one built from this tree into .cache/chaos/bin (with -race
// when the test itself runs with -race, so the processes report data races
// too). The go tool's cache makes the build after the first one quick.
func vipgateBinary() (string, error) {
	buildOnce.Do(func() {
		if p := os.Getenv("CHAOS_VIPGATE_BIN"); p != "" {
			buildPath = p
			return
		}
		root, err := harness.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		name, args := "vipgate", []string{"build", "-o"}
		if raceEnabled {
			name = "vipgate-race"
		}
		buildPath = filepath.Join(root, ".cache", "chaos", "bin", name)
		args = append(args, buildPath)
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "./cmd/vipgate")
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	return buildPath, buildErr
}

// replica is one vipgate process slot: it keeps its ports across restarts
// (a pod's replacement comes back behind the same Service).
type replica struct {
	name                         string
	webhookPort, metrics, health int
	args                         []string
	env                          []string
	dir                          string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	exitErr error
	starts  int
	logs    []string
}

// newReplica prepares a slot; args are vipgate's flags besides the ports.
func newReplica(name, dir string, env, args []string) (*replica, error) {
	r := &replica{name: name, dir: dir, env: env}
	for _, p := range []*int{&r.webhookPort, &r.metrics, &r.health} {
		port, err := freeport.Loopback()
		if err != nil {
			return nil, err
		}
		*p = port
	}
	r.args = append(args,
		"--webhook-host", "127.0.0.1", "--webhook-port", strconv.Itoa(r.webhookPort),
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", r.metrics),
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", r.health))
	return r, nil
}

func (r *replica) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.webhookPort) }

// start starts the process unless it runs.
func (r *replica) start(bin string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return nil
	}
	r.starts++
	logPath := filepath.Join(r.dir, fmt.Sprintf("%s-%d.log", r.name, r.starts))
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, r.args...)
	cmd.Env = append(os.Environ(), r.env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	r.cmd, r.done = cmd, make(chan struct{})
	r.logs = append(r.logs, logPath)
	done := r.done
	go func() {
		err := cmd.Wait()
		f.Close()
		r.mu.Lock()
		r.exitErr = err
		if r.cmd == cmd {
			r.cmd = nil
		}
		r.mu.Unlock()
		close(done)
	}()
	return nil
}

// running reports whether the process is up.
func (r *replica) running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cmd != nil
}

// signal sends sig and waits (bounded) for the exit; SIGTERM escalates to
// SIGKILL after 30 s.
func (r *replica) signal(sig syscall.Signal) {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func (r *replica) kill() { r.signal(syscall.SIGKILL) }
func (r *replica) stop() { r.signal(syscall.SIGTERM) }

// waitServing waits until the webhook port accepts a connection, the
// process exits, or limit passes.
func (r *replica) waitServing(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		done, err := r.done, r.exitErr
		r.mu.Unlock()
		select {
		case <-done:
			return fmt.Errorf("%s exited: %v (log %s)", r.name, err, r.lastLog())
		default:
		}
		if c, err := net.DialTimeout("tcp", r.addr(), 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not serving on %s after %s (log %s)", r.name, r.addr(), limit, r.lastLog())
}

func (r *replica) lastLog() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.logs) == 0 {
		return ""
	}
	return r.logs[len(r.logs)-1]
}

// leader reports whether the replica holds the lease, from controller-runtime's
// leader_election_master_status metric.
func (r *replica) leader(ctx context.Context) bool {
	if !r.running() {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/metrics", r.metrics), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "leader_election_master_status{") && strings.HasSuffix(l, " 1") {
			return true
		}
	}
	return false
}

// raceReports returns the data race reports in the replica's logs.
func (r *replica) raceReports() []string {
	r.mu.Lock()
	logs := append([]string(nil), r.logs...)
	r.mu.Unlock()
	var out []string
	for _, p := range logs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for {
			i := bytes.Index(b, []byte("WARNING: DATA RACE"))
			if i < 0 {
				break
			}
			b = b[i:]
			end := bytes.Index(b, []byte("=================="))
			if end < 0 {
				end = min(len(b), 4000)
			}
			out = append(out, fmt.Sprintf("%s: %s", filepath.Base(p), b[:end]))
			b = b[min(len(b), end+1):]
		}
	}
	return out
}

// tail returns the last n lines of the replica's current log.
func (r *replica) tail(n int) string {
	p := r.lastLog()
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
