#!/usr/bin/env bash
# Checks, before anything heavy, what `make demo`, `make demo-up` and `make test`
# need: Go at least go.mod's version, the tools the build scripts call, and
# free disk where the Go caches and .cache/ live (the first run fills ~3.5 GB).
# Each problem is reported with what to do about it; exit status 1 if any.
# Fast (no network, no build): a few `df` and one `go env`.
#
# Environment: K8S_VERSION (which envtest folder to look for), SKIP_PREREQS=1 skips.
set -uo pipefail
[ "${SKIP_PREREQS:-}" = 1 ] && exit 0
root=$(cd "$(dirname "$0")/.." && pwd)
k8s_version=${K8S_VERSION:-1.37.1}
problems=()
notes=()

# ver_ge 1.26.8 1.26.0 -> true when the first version is at least the second.
ver_ge() {
  local IFS=. i a b
  read -ra a <<<"$1"
  read -ra b <<<"$2"
  for i in 0 1 2; do
    [ "${a[i]:-0}" -gt "${b[i]:-0}" ] && return 0
    [ "${a[i]:-0}" -lt "${b[i]:-0}" ] && return 1
  done
  return 0
}

# Tools the Makefile and hack/ scripts call.
missing=()
for tool in make bash git flock df; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  problems+=("missing: ${missing[*]} — install them (flock is in util-linux; on macOS: brew install flock)")
fi

want=$(awk '$1 == "go" { print $2; exit }' "$root/go.mod")
if ! command -v go >/dev/null 2>&1; then
  problems+=("Go is not on PATH — install Go $want or newer and add its bin folder to PATH")
else
  # From / so go.mod's version does not make the go command switch toolchains
  # (or refuse to run) while we only ask what is installed.
  env=()
  while IFS= read -r line; do env+=("$line"); done < <(cd / && GOTOOLCHAIN=local go env GOVERSION GOTOOLCHAIN GOMODCACHE GOCACHE 2>/dev/null)
  have=${env[0]:-}
  have=${have#go}
  have=${have%%[-+ ]*}
  if [ -z "$have" ]; then
    problems+=("'go env' failed — check the Go installation (run: go env)")
  elif ! ver_ge "$have" "$want"; then
    case ${GOTOOLCHAIN:-${env[1]:-}} in
      local | go1*[0-9])
        problems+=("Go $have is older than go.mod's $want and GOTOOLCHAIN=${GOTOOLCHAIN:-${env[1]:-}} forbids switching — install Go $want or newer, or set GOTOOLCHAIN=auto") ;;
      *)
        notes+=("Go $have is older than go.mod's $want: the go command fetches toolchain $want through the module proxy on first use") ;;
    esac
  fi
fi

# Free disk on every filesystem that holds a Go cache or .cache/. The first run
# (control-plane build, module downloads) needs ~4 GiB; later runs little.
if [ -x "$root/.cache/envtest/k8s-$k8s_version/kube-apiserver" ]; then
  need_gib=1 why="builds and test caches"
else
  need_gib=4 why="the first run builds the control plane from Go modules"
fi
existing() { # nearest existing folder of a path
  local p=$1
  while [ ! -d "$p" ] && [ "$p" != / ]; do p=$(dirname "$p"); done
  echo "$p"
}
# One line per filesystem: mount, free KiB, what it holds.
disks=$(
  for pair in "GOMODCACHE=${env[2]:-}" "GOCACHE=${env[3]:-}" ".cache=$root/.cache"; do
    name=${pair%%=*} dir=${pair#*=}
    [ -z "$dir" ] && continue
    # df -P: fixed columns; available KiB is the 4th, the mount point the 6th.
    df -Pk "$(existing "$dir")" 2>/dev/null | awk -v name="$name" 'NR == 2 { print $6, $4, name }'
  done | awk '{ free[$1] = $2; what[$1] = what[$1] (what[$1] ? ", " : "") $3 }
    END { for (m in free) print m, int(free[m] / 1048576), what[m] }'
)
free_summary=""
while read -r mount gib what; do
  [ -z "$mount" ] && continue
  free_summary="${free_summary:+$free_summary, }$gib GiB free on $mount"
  if [ "$gib" -lt "$need_gib" ]; then
    problems+=("only $gib GiB free on $mount (holds $what); $why and needs ~$need_gib GiB — free some space (go clean -cache empties the build cache) or point GOCACHE/GOMODCACHE at a larger disk")
  fi
done <<<"$disks"

for n in ${notes[@]+"${notes[@]}"}; do echo "prereqs: note: $n"; done
if [ ${#problems[@]} -gt 0 ]; then
  echo "prereqs: cannot continue:" >&2
  for p in "${problems[@]}"; do echo "  ✗ $p" >&2; done
  echo "(SKIP_PREREQS=1 skips this check)" >&2
  exit 1
fi
# The demo, its API server and etcd bind only ports the OS picks on 127.0.0.1,
# so no port has to be free in advance.
echo "prereqs ok: go ${have} (go.mod: ${want}), make, bash, git, flock; ${free_summary:-free disk unknown} (needs ~${need_gib} GiB); ports: none fixed (the demo binds OS-chosen ports on 127.0.0.1)"
