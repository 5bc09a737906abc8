package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitEnv names the container's memory limit in bytes, as the
// Deployment's downward API (resourceFieldRef limits.memory) gives it.
const memoryLimitEnv = "VIPGATE_MEMORY_LIMIT"

// outsideGoRuntime is what a container holds beyond the memory the Go
// runtime counts against its limit: the binary's resident pages (about
// 40 MiB of vipgate's code and read-only data, charged to the container as
// page cache) and the kernel's share (sockets, page tables).
const outsideGoRuntime = 64 << 20

// softMemoryLimit is the Go runtime's memory limit for a container limited
// to limit bytes: the limit less what the runtime does not see
// (outsideGoRuntime, and at least a tenth, as the Go GC guide advises), so
// that the collector works harder before the container is killed rather
// than after. Never below half the limit: a container limited to less than
// twice the reserve still gets a limit that leaves its caches room.
func softMemoryLimit(limit int64) int64 {
	soft := limit - max(outsideGoRuntime, limit/10)
	return max(soft, limit/2)
}

// applyMemoryLimit sets the runtime's memory limit from the container's
// (memoryLimitEnv) unless GOMEMLIMIT is set, which the runtime has already
// applied. It returns what it set, 0 when it set nothing, and an error for
// a value that is not a number of bytes (left unapplied).
func applyMemoryLimit(getenv func(string) string, set func(int64) int64) (int64, error) {
	raw := strings.TrimSpace(getenv(memoryLimitEnv))
	if raw == "" || getenv("GOMEMLIMIT") != "" {
		return 0, nil
	}
	limit, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || limit <= 0 {
		return 0, fmt.Errorf("%s=%q is not a number of bytes; the Go runtime keeps no memory limit", memoryLimitEnv, raw)
	}
	soft := softMemoryLimit(limit)
	set(soft)
	return soft, nil
}

// setMemoryLimit is applyMemoryLimit on the process's environment and runtime.
func setMemoryLimit() (int64, error) { return applyMemoryLimit(os.Getenv, debug.SetMemoryLimit) }
