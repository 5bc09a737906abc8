#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from Go modules into a folder keyed by
# the Kubernetes version, and prints that folder (for KUBEBUILDER_ASSETS).
# Skips the build when all three binaries are already there.
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
echo "building kube-apiserver, kubectl, etcd v$k8s_version into $out (first time: several minutes)" >&2
go build -trimpath -ldflags "-s -w $ldflags" -o "$out/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
go build -trimpath -ldflags "-s -w $ldflags" -o "$out/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl
go build -trimpath -ldflags "-s -w" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3
# Rename only after every build succeeded so a half-built folder is never taken as complete.
for b in kube-apiserver kubectl etcd; do mv "$out/$b.tmp" "$out/$b"; done
echo "$out"
