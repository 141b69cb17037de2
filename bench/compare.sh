#!/usr/bin/env bash
# bench/compare.sh: gorocket against NATS JetStream on this machine, the
# scenarios of tracker issue 5, interleaved, REPS repetitions, a fresh
# server and a fresh store under $WORK for every repetition.
#
# Usage:  make bench-compare            (or bench/compare.sh from the repository)
#
# Environment (defaults in brackets):
#   REPS [3]            repetitions of every scenario
#   N_ASYNC [1000000]   messages of S1 (async publish), also the S5 backlog
#   N_SYNC1 [20000]     messages of S2 (one sync sender)
#   N_SYNC64 [50000]    messages of S3 and S4 (64 sync senders; 4 x 256 async durable)
#   IDLE [3]            seconds a fresh server idles before its RSS is read
#   WORK [/tmp/gorocket-compare]   binaries, stores, logs, results
#   OUT [$WORK/results-<UTC time>.jsonl]   raw results, one JSON object per line
#   NATS_SERVER [nats-server from Debian, installed if missing]   the default-durability peer
#   NATS_SERVER_ALWAYS [$WORK/nats-2.10.24/nats-server, built with go install]   the sync_interval: always peer
#   BUILD_FROM [head]   head: build gorocket from the committed HEAD; worktree: from the checkout as it is
#   QUIET_MAX [0.3]     before each server start wait until other processes use less than this many cores...
#   QUIET_WAIT [60]     ...for at most this many seconds (the load is recorded either way)
#   DISTURBED [0.25]    a group of scenarios in which other processes used more cores than this...
#   RETRIES [2]         ...runs again, up to this many more times
#
# Durability is matched: gorocket ASYNC_FLUSH against NATS's default (written
# to the page cache, fsync every 2 minutes); gorocket SYNC_FLUSH against NATS
# `sync_interval: always`. The two sync modes differ: NATS fsyncs after every
# message, one at a time, while gorocket's SYNC_FLUSH acknowledges each message
# after an fdatasync that covers it, one fdatasync for everything waiting
# (group commit). Same 1 KiB body, same producers and in-flight window on both
# sides; client and server share the machine's cores.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
REPS=${REPS:-3}
N_ASYNC=${N_ASYNC:-1000000}
N_SYNC1=${N_SYNC1:-20000}
N_SYNC64=${N_SYNC64:-50000}
IDLE=${IDLE:-3}
WORK=${WORK:-/tmp/gorocket-compare}
OUT=${OUT:-$WORK/results-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
QUIET_MAX=${QUIET_MAX:-0.3}
QUIET_WAIT=${QUIET_WAIT:-60}
DISTURBED=${DISTURBED:-0.25}
RETRIES=${RETRIES:-2}
SIZE=1024
NS_PORT=29876 BROKER_PORT=30911 NATS_PORT=24222

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- setup

need_apt=()
command -v jq >/dev/null || need_apt+=(jq)
[[ -n ${NATS_SERVER:-} ]] || command -v nats-server >/dev/null || need_apt+=(nats-server)
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]} from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server)}

mkdir -p "$WORK"
if [[ -z ${NATS_SERVER_ALWAYS:-} ]]; then
  NATS_SERVER_ALWAYS=$WORK/nats-2.10.24/nats-server
  if [[ ! -x $NATS_SERVER_ALWAYS ]]; then
    log "building nats-server v2.10.24 (Debian's has no sync_interval) into $WORK/nats-2.10.24"
    (cd "$WORK" && GOBIN=$WORK/nats-2.10.24 GOFLAGS=-mod=mod go install github.com/nats-io/nats-server/v2@v2.10.24)
  fi
fi

# gorocket is built from the committed HEAD (git archive), so that other
# people's uncommitted work in a shared checkout does not end up in the
# figures; BUILD_FROM=worktree builds the working tree instead, marked
# "+dirty" when its Go sources differ from HEAD.
COMMIT=$(git -C "$REPO" rev-parse --short=12 HEAD)
SRC=$WORK/src
rm -rf "$SRC" && mkdir -p "$SRC"
if [[ ${BUILD_FROM:-head} == worktree ]]; then
  SRC=$REPO
  if git -C "$REPO" status --porcelain --untracked-files=all -- cmd internal client go.mod go.sum |
    grep -Ev '_test\.go$' | grep -Eq '(\.go|go\.mod|go\.sum)$'; then
    COMMIT="$COMMIT+dirty"
  fi
else
  git -C "$REPO" archive HEAD | tar -x -C "$SRC"
fi
log "building gorocket $COMMIT and natspeer"
(cd "$SRC" && CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$COMMIT" -o "$WORK/gorocket" ./cmd/gorocket)
(cd "$SRC/bench/natspeer" && go build -trimpath -o "$WORK/natspeer" .)
GR=$WORK/gorocket
NP=$WORK/natspeer

for port in $NS_PORT $BROKER_PORT $NATS_PORT; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is in use"; fi
done

cat >"$WORK/async.conf" <<'EOF'
flushDiskType=ASYNC_FLUSH
# let one pull return 256 messages of 1 KiB, as NATS's Fetch(256) does
maxTransferCountOnMessageInMemory=256
maxTransferBytesOnMessageInMemory=1048576
EOF
sed 's/^flushDiskType=.*/flushDiskType=SYNC_FLUSH/' "$WORK/async.conf" >"$WORK/sync.conf"

nats_conf() { # nats_conf FILE STORE [always]
  {
    echo "listen: 127.0.0.1:$NATS_PORT"
    echo "jetstream {"
    echo "  store_dir: \"$2\""
    [[ ${3:-} == always ]] && echo "  sync_interval: always"
    echo "}"
  } >"$1"
}

meta=$(jq -cn \
  --arg date "$(date -u +%FT%TZ)" --arg commit "$COMMIT" --arg go "$(go version | cut -d' ' -f3-)" \
  --arg nats "$($NATS_SERVER --version)" --arg nats_always "$($NATS_SERVER_ALWAYS --version)" \
  --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs" \
  --arg mem "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)" \
  --arg kernel "$(uname -r)" --arg disk "$(findmnt -no SOURCE,FSTYPE -T "$WORK" | tr -s ' ')" \
  --arg reps "$REPS" --arg n "$N_ASYNC/$N_SYNC1/$N_SYNC64" \
  '{meta: {date: $date, gorocket: $commit, go: $go, nats_default: $nats, nats_always: $nats_always,
     cpu: $cpu, mem: $mem, kernel: $kernel, disk: $disk, reps: $reps, counts: $n}}')
echo "$meta" >"$OUT"
log "raw results: $OUT"

# ---------------------------------------------------------------- servers

SPID=
cleanup() { [[ -n $SPID ]] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; true; }
trap cleanup EXIT

wait_log() { # wait_log FILE PATTERN: the server printed PATTERN
  for _ in $(seq 200); do
    if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
    kill -0 "$SPID" 2>/dev/null || { cat "$1" >&2; die "server exited"; }
    sleep 0.05
  done
  cat "$1" >&2
  die "server did not start"
}

# settle WHAT: wait until the server idles (at most 2 ticks of CPU, 20 ms,
# in 0.5 s), for at most 20 s, and record how long that took. A fresh
# gorocket under SYNC_FLUSH zero-fills its next 1 GiB commit-log segment
# for about 2 s after it starts serving; the scenarios measure the steady
# state, on both sides alike.
settle() {
  local t0 a b
  t0=$(date +%s%N)
  for _ in $(seq 40); do
    a=$(awk '{print $14 + $15}' "/proc/$SPID/stat")
    sleep 0.5
    b=$(awk '{print $14 + $15}' "/proc/$SPID/stat")
    if ((b - a <= 2)); then break; fi
  done
  jq -cn --argjson r "$REP" --arg w "$1" --argjson ms "$((($(date +%s%N) - t0) / 1000000))" \
    '{rep: $r, settle: $w, settle_ms: $ms}' >>"$OUT"
}

start_gorocket() { # start_gorocket CONF DIR
  rm -rf "$2" && mkdir -p "$2"
  "$GR" standalone -c "$1" --data-dir "$2/data" --namesrv-port $NS_PORT --broker-port $BROKER_PORT >"$2/server.log" 2>&1 &
  SPID=$!
  wait_log "$2/server.log" "Broker .* listening"
  settle "gorocket $(basename "$1" .conf)"
}

start_nats() { # start_nats SERVER DIR [always]
  rm -rf "$2" && mkdir -p "$2"
  nats_conf "$2/nats.conf" "$2/store" "${3:-}"
  "$1" -c "$2/nats.conf" >"$2/server.log" 2>&1 &
  SPID=$!
  wait_log "$2/server.log" "Server is ready"
  "$NP" setup -url "nats://127.0.0.1:$NATS_PORT"
  settle "nats ${3:-default}"
}

stop_server() {
  kill "$SPID" && wait "$SPID" 2>/dev/null || true
  SPID=
}

# ---------------------------------------------------------------- runs

REP=0 GROUP= ATTEMPT=1
# record SCENARIO SYSTEM COMMAND...: runs a JSON-printing command and appends
# its result, tagged, to $OUT. A failed run is recorded as failed and skipped.
record() {
  local scenario=$1 system=$2; shift 2
  local out
  if out=$("$@"); then
    jq -c --arg s "$scenario" --arg y "$system" --argjson r "$REP" --arg g "$GROUP" --argjson a "$ATTEMPT" \
      '. + {scenario: $s, system: $y, rep: $r, group: $g, attempt: $a}' <<<"$out" >>"$OUT"
    jq -r --arg s "$scenario" --arg y "$system" \
      '"  \($s) \($y): \(.msgs_per_sec // "-") msgs/s  p99 \(.p99_us // "-") µs  errors \(.errors // 0)  other load \(.other_cpu_cores // "-") cores\(if .startup_ms then "  startup \(.startup_ms) ms  rss \(.rss_mib) MiB" else "" end)\(if .flushes then "  flushes/msg \(.flushes_per_msg)" else "" end)"' <<<"$out" >&2
  else
    log "  $scenario $system FAILED"
    jq -cn --arg s "$scenario" --arg y "$system" --argjson r "$REP" --arg g "$GROUP" --argjson a "$ATTEMPT" \
      '{scenario: $s, system: $y, rep: $r, group: $g, attempt: $a, failed: true}' >>"$OUT"
  fi
}

# counted COMMAND...: runs COMMAND while counting the server's fsync,
# fdatasync and msync calls with `perf stat` (when perf can), and adds
# "flushes" and "flushes_per_msg" to its JSON: group commit made visible.
counted() {
  local out f=$WORK/run/perf.$$ ppid
  if ! command -v perf >/dev/null; then "$@"; return; fi
  perf stat -x, -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync,syscalls:sys_enter_msync \
    -p "$SPID" -o "$f" 2>/dev/null &
  ppid=$!
  sleep 0.2 # perf attaches
  out=$("$@") || { kill -INT $ppid; wait $ppid; return 1; }
  kill -INT $ppid && wait $ppid || true
  local n
  n=$(awk -F, '$1 ~ /^[0-9]+$/ {s += $1} END {print s + 0}' "$f" 2>/dev/null || echo "")
  if [[ -n $n ]] && grep -q sys_enter "$f" 2>/dev/null; then
    jq -c --argjson n "$n" '. + {flushes: $n, flushes_per_msg: (if .count > 0 then ($n / .count * 1000 | round) / 1000 else null end)}' <<<"$out"
  else
    echo "$out"
  fi
}

gr_produce() { "$GR" bench produce -n 127.0.0.1:$NS_PORT --topic bench_1k --size $SIZE --json -q --server-pid "$SPID" "$@"; }
gr_consume() { "$GR" bench consume -n 127.0.0.1:$NS_PORT --topic bench_1k --json -q --server-pid "$SPID" "$@"; }
np_produce() { "$NP" produce -url "nats://127.0.0.1:$NATS_PORT" -size $SIZE -json -quiet -server-pid "$SPID" "$@"; }
np_consume() { "$NP" consume -url "nats://127.0.0.1:$NATS_PORT" -json -quiet -server-pid "$SPID" "$@"; }

# busy_cores: CPU cores in use on the machine over about a second (busy
# ticks over all ticks, times the CPU count: a late wake-up does not count)
busy_cores() {
  local a b
  a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  awk -v n="$(nproc)" \
    -v busy="$(( (b[1]+b[2]+b[3]+b[6]+b[7]) - (a[1]+a[2]+a[3]+a[6]+a[7]) ))" \
    -v all="$(( (b[1]+b[2]+b[3]+b[4]+b[5]+b[6]+b[7]+b[8]) - (a[1]+a[2]+a[3]+a[4]+a[5]+a[6]+a[7]+a[8]) ))" \
    'BEGIN {printf "%.2f", (all > 0 ? busy / all * n : 0)}'
}

wait_quiet() { # wait_quiet WHAT
  local load waited=0
  while :; do
    load=$(busy_cores)
    if awk -v l="$load" -v m="$QUIET_MAX" 'BEGIN {exit !(l < m)}'; then break; fi
    ((waited += 1))
    if ((waited >= QUIET_WAIT)); then log "machine still busy ($load cores); going on, the load is recorded"; break; fi
    if ((waited % 10 == 1)); then log "waiting for a quiet machine: $load cores busy"; fi
  done
  jq -cn --argjson r "$REP" --argjson l "$load" --arg b "$1" --argjson a "$ATTEMPT" \
    '{rep: $r, before: $b, attempt: $a, background_cores: $l}' >>"$OUT"
}

run_startup() { # the server on an empty store: time to serve, idle RSS
  local d=$WORK/run/startup
  if [[ $1 == gorocket ]]; then
    rm -rf "$d" && mkdir -p "$d"
    record startup gorocket "$GR" bench startup -n 127.0.0.1:$NS_PORT --idle "${IDLE}s" --json --log "$d/server.log" -- \
      "$GR" standalone -c "$WORK/async.conf" --data-dir "$d/data" --namesrv-port $NS_PORT --broker-port $BROKER_PORT
  else
    rm -rf "$d" && mkdir -p "$d"
    nats_conf "$d/nats.conf" "$d/store"
    record startup nats "$NP" startup -url "nats://127.0.0.1:$NATS_PORT" -idle "${IDLE}s" -json -log "$d/server.log" -- \
      "$NATS_SERVER" -c "$d/nats.conf"
  fi
}

run_default() { # ASYNC_FLUSH against NATS default: S1, S5, S2, S3
  if [[ $1 == gorocket ]]; then
    start_gorocket "$WORK/async.conf" "$WORK/run/gorocket"
    record S1 gorocket gr_produce --producers 4 --inflight 256 --count "$N_ASYNC"
    record S5-256 gorocket gr_consume --group s5_256 --pull-batch 256 --count "$N_ASYNC"
    record S5-32 gorocket gr_consume --group s5_32 --pull-batch 32 --count "$N_ASYNC"
    record S2 gorocket gr_produce --producers 1 --sync --count "$N_SYNC1"
    record S3-async gorocket gr_produce --producers 64 --sync --count "$N_SYNC64"
  else
    start_nats "$NATS_SERVER" "$WORK/run/nats"
    record S1 nats np_produce -producers 4 -inflight 256 -count "$N_ASYNC"
    record S5-256 nats np_consume -group s5_256 -pull-batch 256 -count "$N_ASYNC"
    record S5-32 nats np_consume -group s5_32 -pull-batch 32 -count "$N_ASYNC"
    record S2 nats np_produce -producers 1 -sync -count "$N_SYNC1"
    record S3-async nats np_produce -producers 64 -sync -count "$N_SYNC64"
  fi
  stop_server
}

run_durable() { # SYNC_FLUSH against NATS sync_interval: always: S3, S4
  if [[ $1 == gorocket ]]; then
    start_gorocket "$WORK/sync.conf" "$WORK/run/gorocket"
    record S3-sync gorocket counted gr_produce --producers 64 --sync --count "$N_SYNC64"
    record S4-sync gorocket counted gr_produce --producers 4 --inflight 256 --count "$N_SYNC64"
  else
    start_nats "$NATS_SERVER_ALWAYS" "$WORK/run/nats" always
    record S3-sync nats counted np_produce -producers 64 -sync -count "$N_SYNC64"
    record S4-sync nats counted np_produce -producers 4 -inflight 256 -count "$N_SYNC64"
  fi
  stop_server
}

# measure KIND SYSTEM: runs one group of scenarios (run_KIND) on a quiet
# machine. When other processes took more than DISTURBED cores during any
# of its measurements, the group runs again, up to RETRIES more times; the
# table uses the last attempt, the raw file keeps them all.
measure() {
  GROUP="$REP-$1-$2"
  for ((ATTEMPT = 1; ATTEMPT <= RETRIES + 1; ATTEMPT++)); do
    wait_quiet "$1 $2"
    "run_$1" "$2"
    local disturbed
    disturbed=$(jq -s --arg g "$GROUP" --argjson a "$ATTEMPT" --argjson d "$DISTURBED" \
      '[.[] | select(.group == $g and .attempt == $a and (.other_cpu_cores // 0) > $d)] | length' "$OUT")
    if ((disturbed == 0)); then return 0; fi
    if ((ATTEMPT <= RETRIES)); then log "  $disturbed measurement(s) of $1/$2 disturbed by other load; again"; fi
  done
  return 0
}

started=$(date +%s)
for ((REP = 1; REP <= REPS; REP++)); do
  # Alternate who goes first, so that neither always runs on a warmer
  # (or more tired) machine.
  if ((REP % 2)); then order=(nats gorocket); else order=(gorocket nats); fi
  log "rep $REP/$REPS (${order[*]})"
  for kind in startup default durable; do
    for sys in "${order[@]}"; do measure "$kind" "$sys"; done
  done
done
log "done in $(( $(date +%s) - started )) s"

"$REPO/bench/table.sh" "$OUT" | tee "${OUT%.jsonl}.md"
log "table: ${OUT%.jsonl}.md"
