#!/usr/bin/env bash
# Builds a pinned Go tool once (go install MODULE/cmd@VERSION) into DEST, with
# progress on stderr and the toolchain's output in .cache/tools/build.log.
# tests/manifests builds helm into the same place, so either reuses the other's.
#
#   hack/install-tool.sh helm.sh/helm/v3/cmd/helm@v3.22.0 .cache/tools/helm-v3.22.0/helm
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: install-tool.sh PACKAGE@VERSION DEST" >&2; exit 2; }
pkg=$1 dest=$2
[ -x "$dest" ] && exit 0
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
dir=$(dirname "$dest")
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# Install into a private folder and rename into place, so concurrent builds
# never see (or run) a half-written binary.
tmp=$(mktemp -d "$dir/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# From outside the module: pkg@version builds in its own module context.
cd "${TMPDIR:-/tmp}"
GOBIN=$tmp CGO_ENABLED=0 "$here/progress.sh" --label "$(basename "$dest") ${pkg##*@}" \
  --log "$root/.cache/tools/build.log" -- go install "$pkg"
mv "$tmp/$(basename "${pkg%@*}")" "$dir/$(basename "$dest")"
