package bench

// This file: CPU time by process (kube-apiserver, etcd, the vipgate process
// and this test process, which holds avisim and the clients), so a
// benchmark can say where a burst's CPU went: on 2 shared cores the time to
// status is mostly CPU, and the share of each process tells what to attack.

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpuSeconds is the user+system CPU time a process has used, from the
// text of /proc/<pid>/stat; -1 when the text cannot be read.
func cpuSeconds(stat string) float64 {
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields are counted after its closing parenthesis.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(stat[i+1:])
	// After the name: state is field 3, utime 14 and stime 15.
	if len(f) < 13 {
		return -1
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	s, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return (u + s) / clockTicks
}

// pidCPU reads a process's CPU seconds; -1 when it is gone.
func pidCPU(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	return cpuSeconds(string(data))
}

// cpuMeter follows the CPU time of named processes.
type cpuMeter struct {
	pids  map[string]int
	names []string
}

// controlPlanePIDs finds this benchmark's kube-apiserver (by the port of
// env.Cfg.Host) and its etcd (by the address the API server uses) among
// the machine's processes; other agents run API servers of their own.
func controlPlanePIDs(host string) (apiserver, etcd int) {
	u, err := url.Parse(host)
	if err != nil {
		return 0, 0
	}
	cmdlines := map[int][]string{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || len(data) == 0 {
			continue
		}
		cmdlines[pid] = strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
	}
	etcdURL := ""
	for pid, args := range cmdlines {
		if filepath.Base(args[0]) == "kube-apiserver" && hasArg(args, "--secure-port", u.Port()) {
			apiserver = pid
			etcdURL = argValue(args, "--etcd-servers")
		}
	}
	for pid, args := range cmdlines {
		if etcdURL != "" && filepath.Base(args[0]) == "etcd" && hasArg(args, "--listen-client-urls", etcdURL) {
			etcd = pid
		}
	}
	return apiserver, etcd
}

func argValue(args []string, name string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func hasArg(args []string, name, value string) bool { return argValue(args, name) == value }

// newCPUMeter follows the control plane, this process and, when p is not
// nil, the vipgate process. A process it cannot find is left out (the
// measures do not depend on it) and said so in the log.
func newCPUMeter(b *testing.B, p *vipgateProc) *cpuMeter {
	b.Helper()
	m := &cpuMeter{pids: map[string]int{"bench": os.Getpid()}}
	api, etcd := controlPlanePIDs(env.Cfg.Host)
	if api == 0 || etcd == 0 {
		b.Logf("CPU by process: kube-apiserver pid %d, etcd pid %d (0: not found, left out)", api, etcd)
	}
	if api != 0 {
		m.pids["apiserver"] = api
	}
	if etcd != 0 {
		m.pids["etcd"] = etcd
	}
	if p != nil {
		m.pids["vipgate"] = p.cmd.Process.Pid
	}
	for n := range m.pids {
		m.names = append(m.names, n)
	}
	sort.Strings(m.names)
	return m
}

// cpuSample is CPU seconds by process name.
type cpuSample map[string]float64

func (m *cpuMeter) sample() cpuSample {
	s := cpuSample{}
	for n, pid := range m.pids {
		s[n] = pidCPU(pid)
	}
	return s
}

// since is the CPU each process used from before until now, as text
// ("apiserver 12.3 s, bench 4.5 s, ...; total 30.1 s") and by name.
func (m *cpuMeter) since(before cpuSample) (string, cpuSample) {
	now := m.sample()
	d := cpuSample{}
	var parts []string
	total := 0.0
	for _, n := range m.names {
		if before[n] < 0 || now[n] < 0 {
			continue
		}
		d[n] = now[n] - before[n]
		total += d[n]
		parts = append(parts, fmt.Sprintf("%s %.1f s", n, d[n]))
	}
	return fmt.Sprintf("%s; total %.1f s", strings.Join(parts, ", "), total), d
}
