#!/usr/bin/env bash
# Runs Go's native fuzz targets one after another, each for the same time
# (`go test -fuzz` takes one target per package run), and prints the
# executions of each. The Go toolchain's output goes to .cache/fuzz/<target>.log.
#
#   hack/fuzz.sh <fuzztime> <workers> <package>:<Target>...
#
# When a target fails (a panic, a hang, a broken property), go test writes the
# input to <package>/testdata/fuzz/<Target>/<hash>; the script prints the log's
# last lines and carries on with the next target, exiting 1 at the end. Commit
# that file with the fix: plain `go test` then runs it as a regression test.
set -uo pipefail

if [ $# -lt 3 ]; then
  echo "usage: fuzz.sh <fuzztime> <workers> <package>:<Target>..." >&2
  exit 2
fi
fuzztime=$1 workers=$2
shift 2
logdir=.cache/fuzz
mkdir -p "$logdir"

# deadline_race tells whether a failed run's log says nothing but that the
# fuzztime deadline was exceeded: Go's coordinator (go1.26 and older) can
# report its own deadline as the target's failure when a worker is still
# running at the end of -fuzztime on a busy machine (go.dev/issue/75804). A
# real finding always says more: the failing input written, a panic, the
# target's own error.
deadline_race() {
  grep -q '^    context deadline exceeded$' "$1" || return 1
  ! grep -v -E '^fuzz: elapsed:|^--- FAIL: [A-Za-z0-9_]+ \([0-9.]+s\)$|^    context deadline exceeded$|^FAIL$|^exit status 1$|^FAIL'$'\t''|^warning: starting with empty corpus$' "$1" | grep -q .
}

status=0
for t in "$@"; do
  pkg=${t%%:*} name=${t##*:}
  log=$logdir/$name.log
  printf 'fuzz %-24s %-11s %s (log %s)\n' "$name" "$pkg" "$fuzztime" "$log"
  # -timeout 0: the test binary's default 10 minutes must not end a long run
  # while it compiles and replays the corpus on a busy machine.
  run() { go test -timeout 0 -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -parallel "$workers" "$pkg" >"$log" 2>&1; }
  run
  rc=$?
  if [ $rc -ne 0 ] && deadline_race "$log"; then
    # Once more: a second run that fails the same way is the same race.
    printf '  the fuzz engine reported its own deadline (go.dev/issue/75804; no input failed); running again\n'
    run
    rc=$?
    if [ $rc -ne 0 ] && deadline_race "$log"; then
      printf '  the same race again; no input failed, so not counted as a failure\n'
      rc=0
    fi
  fi
  # The last progress line: "fuzz: elapsed: 5s, execs: 1234 (246/sec), new interesting: 3 (total: 40)".
  last=$(grep '^fuzz: elapsed:' "$log" | tail -n 1)
  execs=$(sed -n 's/.*execs: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(sed -n 's/.*(total: \([0-9]*\)).*/\1/p' <<<"$last")
  if [ $rc -eq 0 ]; then
    printf '  ok: %s executions, %s corpus entries\n' "${execs:-?}" "${corpus:-?}"
  else
    status=1
    printf '  FAILED after %s executions:\n' "${execs:-?}"
    grep -v '^fuzz: elapsed:' "$log" | tail -n 25 | sed 's/^/    /'
  fi
done
exit $status
