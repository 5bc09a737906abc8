#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from Go modules into a folder keyed by
# the Kubernetes version, and prints that folder (for KUBEBUILDER_ASSETS).
# Skips the build when all three binaries are already there. Shows progress on
# stderr and sends the Go toolchain's output to build.log in that folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
k8s_version=${K8S_VERSION:-1.37.1}
out=${ENVTEST_DIR:-$root/.cache/envtest/k8s-$k8s_version}

if [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ] && [ -x "$out/kubectl" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
# Test packages run in parallel and may all ask for the binaries at once: one builds, the rest wait.
exec 9>"$out/.lock"
flock 9
if [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ] && [ -x "$out/kubectl" ]; then
  echo "$out"
  exit 0
fi
cd "$here"

ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $pkg.gitVersion=v$k8s_version -X $pkg.gitMajor=${k8s_version%%.*}"
  minor=${k8s_version#*.}; minor=${minor%%.*}
  ldflags="$ldflags -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
export CGO_ENABLED=0

# Progress on stderr (stdout is only the folder, for callers that capture it);
# the Go toolchain's output goes to a log. Expected times: ~8 min in all on an
# idle 2-core machine with empty Go caches (kube-apiserver ~7, which includes
# most downloads; kubectl and etcd ~1 each). They scale roughly with the cores,
# and stretch on a busy machine: with the load average at 6x the cores (other
# builds running) the same build took 26 min, so the estimate grows by half the
# load's excess over the cores, at most 4x.
log=$out/build.log
cores=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)
busy=$(awk -v l="$load" -v c="$cores" 'BEGIN { f = 1 + (l / c - 1) / 2; if (f < 1) f = 1; if (f > 4) f = 4; printf "%.1f", f }')
scale() { # minutes on an idle 2-core machine -> minutes expected here (at least 1)
  awk -v m="$1" -v c="$cores" -v f="$busy" 'BEGIN { x = m * 2 / c * f; if (x < 1) x = 1; printf "%d", x + 0.5 }'
}
total_2core=8
echo "building kube-apiserver, kubectl and etcd v$k8s_version from Go modules (once; later runs reuse them)" >&2
if [ "$busy" != 1.0 ]; then
  why="$cores cores, load average $load: busy"
else
  why="$cores cores"
fi
echo "  expected with empty Go caches: ~$(scale $total_2core) min here ($why), ~$total_2core min on an idle 2-core machine" >&2
echo "  output of the Go toolchain (downloads, compiler): $log" >&2
started=$SECONDS
build() { # index name minutes-on-2-cores package [ldflags]
  "$here/../progress.sh" --label "  [$1/3] $2" --log "$log" --expect "with empty Go caches ~$(scale "$3") of ~$(scale $total_2core) min" -- \
    go build -trimpath -ldflags "-s -w ${5:-}" -o "$out/$2.tmp" "$4"
}
build 1 kube-apiserver 7 k8s.io/kubernetes/cmd/kube-apiserver "$ldflags"
build 2 kubectl 1 k8s.io/kubernetes/cmd/kubectl "$ldflags"
build 3 etcd 1 go.etcd.io/etcd/server/v3
# Rename only after every build succeeded so a half-built folder is never taken as complete.
for b in kube-apiserver kubectl etcd; do mv "$out/$b.tmp" "$out/$b"; done
took=$((SECONDS - started))
printf 'control-plane binaries built in %dm%02ds: %s\n' $((took / 60)) $((took % 60)) "$out" >&2
echo "$out"
