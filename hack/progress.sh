#!/usr/bin/env bash
# Runs one long command (a first-time `go build`, `go install`) quietly: its
# output (the hundreds of "go: downloading ..." lines, compiler noise) goes to a
# log file, and the terminal shows what is being built, the time elapsed and
# what to expect. On failure it prints the log's last lines and exits with the
# command's status. Progress goes to stderr, so a caller's stdout stays clean.
#
#   hack/progress.sh --label "[1/3] kube-apiserver" --log .cache/envtest/build.log \
#       --expect "first build: ~5 min on 2 cores" -- go build ...
#
# On a terminal the status line is rewritten every second; otherwise (CI,
# captured stderr) a line is printed every PROGRESS_INTERVAL seconds (30).
set -uo pipefail

label="" log="" expect=""
while [ $# -gt 0 ]; do
  case $1 in
    --label) label=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --expect) expect=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "progress.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ $# -eq 0 ] || [ -z "$label" ] || [ -z "$log" ]; then
  echo "usage: progress.sh --label TEXT --log FILE [--expect TEXT] -- command [args...]" >&2
  exit 2
fi
mkdir -p "$(dirname "$log")"

# fmt_dur 130 -> 2m10s
fmt_dur() {
  local s=$1
  if [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

interactive=0
[ -t 2 ] && [ "${TERM:-dumb}" != dumb ] && interactive=1
interval=${PROGRESS_INTERVAL:-30}

# Modules fetched so far by this command: the log's "go: downloading" lines past its start.
start_lines=$( (grep -c '^go: downloading' "$log" 2>/dev/null || true) | head -n1)
start_lines=${start_lines:-0}
downloads() {
  local n
  n=$( (grep -c '^go: downloading' "$log" 2>/dev/null || true) | head -n1)
  echo $(( ${n:-0} - start_lines ))
}

cols=${COLUMNS:-$(tput cols 2>/dev/null || echo 120)}
status() {
  local elapsed=$1 d extra="" line
  d=$(downloads)
  [ "$d" -gt 0 ] && extra=", modules downloaded: $d"
  line=$(printf '%s … %s elapsed%s%s' "$label" "$(fmt_dur "$elapsed")" "$extra" "${expect:+ ($expect)}")
  # On a terminal the line is rewritten in place, which only works if it does
  # not wrap: name the log only when it fits, and cut what does not.
  if [ "$interactive" = 0 ] || [ $((${#line} + ${#log} + 14)) -lt "$cols" ]; then line="$line; output in $log"; fi
  if [ "$interactive" = 1 ] && [ "${#line}" -ge "$cols" ]; then line=${line:0:$((cols - 1))}; fi
  printf '%s' "$line"
}

{ echo; echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) $label: $*"; } >>"$log"
# Where this command's output starts, so a failure shows only its own lines.
offset=$(($(wc -c <"$log") + 1))
start=$SECONDS
"$@" >>"$log" 2>&1 &
pid=$!
# Stop the command with us (Ctrl-C reaches it directly; a TERM to this script does not).
trap 'kill "$pid" 2>/dev/null; exit 143' TERM
trap 'kill "$pid" 2>/dev/null; exit 130' INT

if [ "$interactive" = 0 ]; then
  echo "$label … started${expect:+ ($expect)}; output in $log" >&2
fi
last=$SECONDS
while kill -0 "$pid" 2>/dev/null; do
  sleep 0.2
  now=$SECONDS
  if [ "$interactive" = 1 ]; then
    if [ "$now" != "$last" ]; then printf '\r\033[K%s' "$(status $((now - start)))" >&2; last=$now; fi
  elif [ $((now - last)) -ge "$interval" ]; then
    status $((now - start)) >&2; echo >&2
    last=$now
  fi
done
wait "$pid"
rc=$?
trap - TERM INT
took=$(fmt_dur $((SECONDS - start)))
[ "$interactive" = 1 ] && printf '\r\033[K' >&2
if [ "$rc" -ne 0 ]; then
  {
    echo "$label ✗ failed after $took (exit $rc); last lines of $log:"
    tail -c "+$offset" "$log" | tail -n "${PROGRESS_TAIL:-30}" | sed 's/^/    /'
  } >&2
  exit "$rc"
fi
echo "$label ✓ $took" >&2
