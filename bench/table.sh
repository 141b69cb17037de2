#!/usr/bin/env bash
# bench/table.sh RESULTS.jsonl: the comparison table of a bench/compare.sh
# run, in Markdown: per scenario the median over the repetitions with the
# min–max spread, for gorocket and NATS JetStream, the ratio of the medians
# (gorocket / NATS) and the issue-5 target.
#
# compare.sh runs a group of scenarios again when other processes used
# more than DISTURBED (0.25) cores during one of its measurements; each
# repetition counts with its last undisturbed attempt. A disturbed
# measurement is left out of its cell when the cell has an undisturbed one
# ("[n=K]" then says how many were used); a cell of disturbed measurements
# only is marked "†".
set -euo pipefail
DISTURBED=${DISTURBED:-0.25}
[[ $# -eq 1 ]] || { echo "usage: $0 RESULTS.jsonl" >&2; exit 2; }

jq -rs --argjson disturbed "$DISTURBED" '
def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
  else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def r(d): (. * pow(10; d) | round) / pow(10; d);
# a number in a unit whose scale was chosen for the median
def num(d): if . >= 100 then r(0) elif . >= 10 then r(d - 1) elif . >= 0.1 or . == 0 then r(d) else r(3) end;
def scale(u): if u == "µs" and . >= 1000 then {div: 1000, unit: "ms"}
  elif u == "msgs/s" and . >= 1000 then {div: 1000, unit: "k"}
  else {div: 1, unit: (if u == "msgs/s" then "" else u end)} end;
def cell(u): if .n == 0 then "–"
  else (.med | scale(u)) as $s
    | (if $s.unit == "" or $s.unit == "k" then "" else " " + $s.unit end) as $sfx
    | (if $s.unit == "k" then "k" else "" end) as $k
    | "\(.med / $s.div | num(2))\($k)"
      + (if .n > 1 then " (\(.min / $s.div | num(2))\($k)–\(.max / $s.div | num(2))\($k))" else "" end) + $sfx
      + (if .all_disturbed then " †" elif .n < .reps then " [n=\(.n)]" else "" end)
  end;

(map(select(.meta)) | first | .meta) as $m
# one measurement per repetition, scenario and system: compare.sh runs a
# group of scenarios again when other load disturbed it; take the last
# undisturbed attempt, or the last one when all were disturbed
| (map(select(.scenario and (.failed | not))) | group_by([.rep, .scenario, .system])
    | map((map(select((.other_cpu_cores // 0) <= $disturbed)) | last) // last)) as $rs
| def stat(s; y; f): [$rs[] | select(.scenario == s and .system == y) | select(.[f] != null)] as $all
    | ($all | map(select((.other_cpu_cores // 0) <= $disturbed))) as $quiet
    | (if ($quiet | length) > 0 then $quiet else $all end) as $use
    | ($use | map(.[f])) as $v
    | {med: ($v | median), min: ($v | min), max: ($v | max), n: ($v | length), reps: ($all | length),
       all_disturbed: (($all | length) > 0 and ($quiet | length) == 0)};
# rows: [scenario, what, JSON key, unit, target]
[
  ["S1", "async publish, 4 producers × 256 in flight: msgs/s", "msgs_per_sec", "msgs/s", "≥ 1.5× NATS"],
  ["S1", "… ack latency p50", "p50_us", "µs", ""],
  ["S1", "… ack latency p99", "p99_us", "µs", ""],
  ["S1", "… server CPU per message (µs)", "server_cpu_us_per_msg", "", "≤ 3 µs"],
  ["S1", "… client CPU per message (µs)", "client_cpu_us_per_msg", "", ""],
  ["S2", "one sync sender, one at a time: msgs/s", "msgs_per_sec", "msgs/s", ""],
  ["S2", "… latency p50", "p50_us", "µs", ""],
  ["S2", "… latency p99", "p99_us", "µs", "p99 ≤ 150 µs"],
  ["S3-async", "64 sync senders, ASYNC_FLUSH vs NATS default: msgs/s", "msgs_per_sec", "msgs/s", ""],
  ["S3-async", "… latency p99", "p99_us", "µs", ""],
  ["S3-sync", "64 sync senders, SYNC_FLUSH vs NATS sync_interval always: msgs/s", "msgs_per_sec", "msgs/s", "≥ 10× NATS always"],
  ["S3-sync", "… latency p99", "p99_us", "µs", ""],
  ["S3-sync", "… fsync/fdatasync calls per message", "flushes_per_msg", "", ""],
  ["S4-sync", "async publish 4 × 256, SYNC_FLUSH vs NATS always: msgs/s", "msgs_per_sec", "msgs/s", ""],
  ["S4-sync", "… ack latency p99", "p99_us", "µs", ""],
  ["S4-sync", "… fsync/fdatasync calls per message", "flushes_per_msg", "", ""],
  ["S5-256", "consume the backlog, 256 per pull: msgs/s", "msgs_per_sec", "msgs/s", "≥ 1.2× NATS"],
  ["S5-256", "… server CPU per message (µs)", "server_cpu_us_per_msg", "", ""],
  ["S5-32", "consume the backlog, 32 per pull: msgs/s", "msgs_per_sec", "msgs/s", ""],
  ["startup", "idle RSS, empty store", "rss_mib", "MiB", "≤ 40 MiB"],
  ["startup", "start-up to serving, empty store", "startup_ms", "ms", "≤ 200 ms"]
] as $rows
| "### Comparison run of \($m.date)",
  "",
  "gorocket `\($m.gorocket)`, \($m.go); NATS default: \($m.nats_default); NATS always: \($m.nats_always).",
  "\($m.cpu), \($m.mem), kernel \($m.kernel), store on \($m.disk). \($m.reps) repetitions; messages \($m.counts) (async / one sync sender / 64 sync senders); 1 KiB bodies.",
  "",
  "| scenario | measure | gorocket | NATS JetStream | gorocket / NATS | target |",
  "| --- | --- | --- | --- | --- | --- |",
  ($rows[] as [$s, $what, $f, $u, $target]
    | stat($s; "gorocket"; $f) as $g | stat($s; "nats"; $f) as $n
    | (if $g.med != null and $n.med != null and $n.med != 0 then "\($g.med / $n.med | num(2))×" else "–" end) as $ratio
    | "| \($s) | \($what) | \($g | cell($u)) | \($n | cell($u)) | \($ratio) | \($target) |"),
  (stat("S3-sync"; "gorocket"; "msgs_per_sec").med as $sync | stat("S3-async"; "gorocket"; "msgs_per_sec").med as $async
    | "| S3 | gorocket SYNC_FLUSH / its own ASYNC_FLUSH, 64 sync senders | \(if $sync and $async then "\($sync / $async | num(2))×" else "–" end) | | | ≥ 0.8× |"),
  "",
  "Other load on the machine during the measured phases (cores used by neither the tool nor the server): up to \([$rs[] | select(.system == "gorocket") | .other_cpu_cores // empty] | max // "–") in gorocket runs and \([$rs[] | select(.system == "nats") | .other_cpu_cores // empty] | max // "–") in NATS runs; \([.[] | .background_cores // empty] | max // "–") at most before a server start.",
  ([$rs[] | select((.other_cpu_cores // 0) > $disturbed)] as $d | if ($d | length) > 0
    then "Measurements disturbed by other load (more than \($disturbed) cores): \($d | map("\(.scenario)/\(.system)/rep \(.rep) (\(.other_cpu_cores))") | join(", "))."
    else "No measurement saw more than \($disturbed) cores of other load." end),
  "Cells use only the measurements with at most \($disturbed) cores of other load when they have one ([n=K]: K were used; †: all were disturbed).",
  "Each fresh server idled before its scenarios (longest wait): \([.[] | select(.settle)] | group_by(.settle) | map("\(.[0].settle) \(map(.settle_ms) | max) ms") | join(", ")).",
  ([.[] | select(.group and .attempt > 1)] | map(.group) | unique) as $again
    | (if ($again | length) > 0 then "Groups run again because other load disturbed them: \($again | join(", ")) (each repetition counts with its last undisturbed attempt; all attempts are in the raw file)." else empty end),
  (if ([.[] | select(.failed)] | length) > 0 then "Failed runs: \([.[] | select(.failed) | "\(.scenario)/\(.system)/rep \(.rep)"] | join(", "))." else empty end),
  (if ([$rs[] | select((.errors // 0) > 0)] | length) > 0 then "Runs with errors: \([$rs[] | select((.errors // 0) > 0) | "\(.scenario)/\(.system)/rep \(.rep): \(.errors) (\(.first_error // ""))"] | join("; "))." else empty end)
' "$1"
