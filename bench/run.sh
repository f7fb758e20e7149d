#!/usr/bin/env bash
# The benchmark suite (see README "Measured"): release build, fresh embedded database per
# size, wrk from a second process on loopback. Prints a table and writes JSON under
# bench/results/. Usage: make bench   (BENCH_SECONDS, BENCH_CONNECTIONS to change the run)
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${BENCH_SECONDS:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
# How long the machine idles between two sign-ins of the loop below (measured 2026-12-04:
# 30 ms apart, each 20-22 ms; see the sign-in step).
SIGNIN_PAUSE_MS=${BENCH_SIGNIN_PAUSE_MS:-10}
# The sign-in step's rounds: this many sign-ins, then as many verifies of each kind.
PER_ROUND=10
# Sign-ins and verifies in turns (after the rounds): this many pairs, about 30 ms each.
# 200 since 2026-12-05 (a twenty-sixth machine; 40 before, the number of each in the rounds).
PAIRS=${BENCH_SIGNIN_PAIRS:-200}
PORT=${BENCH_PORT:-3300}
# BENCH_DB_CLOCK=HH:MM runs the embedded PostgreSQL with its clock at that UTC time of day
# (libfaketime, Debian's `faketime`; only PostgreSQL: Rust's clock calls fail under the
# library). The dashboard's 7-day window reads its partial first day from `calls`, so its
# cost moves with the time of day (`bench/HISTORY.md`, 2026-12-05): `BENCH_DB_CLOCK=23:30`
# measures the RLS ratio at its worst hour whenever the run is made.
DB_CLOCK=${BENCH_DB_CLOCK:-}
# The PostgreSQL binaries the server's embedded cluster runs (as the server picks them).
PG_BIN=${SWITCHBOARD_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
BASE="http://127.0.0.1:$PORT"
BIN=target/release/switchboard
WORK=$(mktemp -d /tmp/switchboard-bench.XXXXXX)
# The embedded cluster runs as an unprivileged user when we are root: it must reach $WORK.
chmod 711 "$WORK"
SERVER_PID=""
OTHER_PID=""
cleanup() {
  for pid in $SERVER_PID $OTHER_PID; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '%s\n' "$*" >&2; }

if [ -n "$DB_CLOCK" ]; then
  faketime_lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
  [ -n "$faketime_lib" ] || { log "BENCH_DB_CLOCK needs libfaketime (apt-get install faketime)"; exit 1; }
  target=$(date -u -d "$DB_CLOCK" +%s) || { log "BENCH_DB_CLOCK: not a time of day: $DB_CLOCK"; exit 1; }
  # The offset is fixed at the start: the clock reads $DB_CLOCK when the run begins and
  # moves on with it. A directory of the real binaries whose `postgres` is the wrapper.
  offset=$((target - $(date -u +%s)))
  mkdir -m 755 "$WORK/pgbin"
  for f in "$PG_BIN"/*; do [ "${f##*/}" = postgres ] || ln -s "$f" "$WORK/pgbin/"; done
  printf '#!/bin/sh\nLD_PRELOAD=%s FAKETIME=%s exec %s/postgres "$@"\n' \
    "$faketime_lib" "$(printf '%+d' "$offset")" "$PG_BIN" >"$WORK/pgbin/postgres"
  chmod 755 "$WORK/pgbin/postgres"
  export SWITCHBOARD_PG_BINDIR="$WORK/pgbin"
  log "== the database's clock: $(date -u -d "@$target" +%H:%M) UTC (offset ${offset} s)"
fi

# One of the binary's helper commands, its output on stdout. The binary logs to stdout too,
# so an error would vanish with the `$(…)` that reads the result: a failure shows it here
# and stops the run.
helper() {
  local out
  if ! out=$("$BIN" "$@"); then
    log "switchboard $1 failed:"
    log "$out"
    return 1
  fi
  printf '%s\n' "$out"
}

start_server() { # data_dir [port]
  local port=${2:-$PORT}
  SWITCHBOARD_DATA_DIR="$1" LEPTOS_SITE_ADDR="127.0.0.1:$port" RUST_LOG=warn \
    PASSWORD_HASH_CONCURRENCY=2 "$BIN" >"$WORK/server-$port.log" 2>&1 &
  SERVER_PID=$!
  local start=$(date +%s.%N)
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server-$port.log" >&2; exit 1; }
    sleep 0.02
  done
  COLD=$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { printf "%.3f", a - b }')
}

stop_server() { # [pid]
  local pid=${1:-$SERVER_PID}
  kill "$pid" && wait "$pid" 2>/dev/null || true
  [ "$pid" = "$SERVER_PID" ] && SERVER_PID=""
  [ "$pid" = "$OTHER_PID" ] && OTHER_PID=""
  return 0
}

# curl posting the demo password for `email` as the app's sign-in form does, to the URLs
# among the options that follow (each `$base/auth/signin`).
source bench/signin.sh

sign_in() { # email [base] -> cookie
  local base=${2:-$BASE}
  sign_in_curl "$1" "$base" -f -o /dev/null -c "$WORK/cookies" "$base/auth/signin"
  session_cookie "$WORK/cookies"
}

# wrk with --latency prints the 50% and 99% lines; convert to milliseconds.
to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us/,"",v); v=v/1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v=v*1000 }; printf "%.2f", v }'; }

measure() { # path cookie [seconds] [base] -> "rps p50 p99 non2xx requests"
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${3:-$SECONDS_PER_RUN}s" --latency -H "Cookie: $2" "${4:-$BASE}$1")
  local rps p50 p99 bad requests
  rps=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out" | to_ms)
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out" | to_ms)
  bad=$(awk '/Non-2xx/ { print $5 }' <<<"$out"); bad=${bad:-0}
  requests=$(awk '/ requests in / { print $1 }' <<<"$out")
  echo "$rps $p50 $p99 $bad ${requests:-0}"
}

# The fields of /proc/PID/stat after the command's name ($12 and $13: user and system CPU
# time in clock ticks, $14 and $15 the same of the children it has reaped, $8 its minor
# page faults).
proc_stat() { sed 's/^.*) //' "/proc/$1/stat"; }
# CPU time so far, in clock ticks (user and system). Of one process:
proc_ticks() { proc_stat "$1" | awk '{ print $12 + $13 }'; }
# of the embedded PostgreSQL cluster in data directory $1: its postmaster with the children
# it has reaped (a backend that ended, an autovacuum worker) and its live processes;
cluster_ticks() {
  local pm
  pm=$(head -1 "$1/pgdata/postmaster.pid")
  { proc_stat "$pm" | awk '{ print $12 + $13 + $14 + $15 }'
    for child in $(pgrep -P "$pm"); do proc_ticks "$child" 2>/dev/null || true; done
  } | awk '{ t += $1 } END { print t }'
}
# and of the whole machine, all cores (/proc/stat): busy (wrk included), idle (with
# iowait), and the part of busy the host reports as stolen.
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6, $9; exit }' /proc/stat; }

# `measure` of the server $SERVER_PID on the cluster in $1, with where the CPU went while wrk
# ran: the server's, PostgreSQL's and the machine's busy time per request (µs), the share
# of the machine left idle (%) and the stolen ticks. The same binary's throughput moves by
# a quarter from one run to the next on these machines: this tells a run in which the same
# pages took more CPU (a slower machine, or more work) from one in which the CPU sat idle.
measure_cpu() { # data_dir path cookie base -> "rps p50 p99 non2xx server_us pg_us machine_us idle_pct steal"
  local s0 p0 m0 s1 p1 m1 rps p50 p99 bad requests
  s0=$(proc_ticks "$SERVER_PID"); p0=$(cluster_ticks "$1"); m0=$(machine_ticks)
  read -r rps p50 p99 bad requests < <(measure "$2" "$3" "$SECONDS_PER_RUN" "$4")
  s1=$(proc_ticks "$SERVER_PID"); p1=$(cluster_ticks "$1"); m1=$(machine_ticks)
  awk -v s="$((s1 - s0))" -v p="$((p1 - p0))" -v m0="$m0" -v m1="$m1" -v n="$requests" -v hz="$CLK_TCK" \
    -v head="$rps $p50 $p99 $bad" 'BEGIN {
      split(m0, a, " "); split(m1, b, " "); busy = b[1] - a[1]; idle = b[2] - a[2]
      us = 1e6 / hz / (n > 0 ? n : 1)
      printf "%s %.0f %.0f %.0f %.1f %d\n", head, s * us, p * us, busy * us,
        100 * idle / (busy + idle > 0 ? busy + idle : 1), b[3] - a[3] }'
}

median() { sort -n "$1" | awk '{ a[NR]=$1 } END { printf "%.2f", a[int((NR+1)/2)] }'; }
# The p50 of each run of PER_ROUND lines of a file (the sign-in step's rounds), space-separated.
round_p50s() {
  local rounds=() chunk
  chunk=$(mktemp "$WORK/round.XXXXXX")
  for start in $(seq 1 "$PER_ROUND" "$(wc -l <"$1")"); do
    sed -n "${start},$((start + PER_ROUND - 1))p" "$1" >"$chunk"
    rounds+=("$(median "$chunk")")
  done
  rm -f "$chunk"
  echo "${rounds[*]}"
}

# The server's CPU time so far (user and system, in clock ticks) and its minor page faults.
CLK_TCK=$(getconf CLK_TCK)
server_counters() { proc_stat "$SERVER_PID" | awk '{ print $12 + $13, $8 }'; }

declare -A RESULT
for size in 10k 1m; do
  data="$WORK/db-$size"
  calls=$([ "$size" = 10k ] && echo 10 || echo 1000)
  log "== seeding $size calls (1,000 organizations)"
  seed_out=$(SWITCHBOARD_DATA_DIR="$data" RUST_LOG=error helper seed --orgs 1000 --calls-per-org "$calls" --agents-per-org 3)
  log "$seed_out"
  email=$(sed -n 's/.*Sign in as \([^ ]*\).*/\1/p' <<<"$seed_out")
  # 10k on the next port: it keeps running while 1M is measured (the growth rounds).
  port=$([ "$size" = 10k ] && echo $((PORT + 1)) || echo "$PORT")
  base="http://127.0.0.1:$port"
  start_server "$data" "$port"
  cookie=$(sign_in "$email" "$base")
  for path in /healthz /dashboard /calls /api/auth/session; do
    log "== $size $path"
    read -r rps p50 p99 bad cpu < <(measure_cpu "$data" "$path" "$cookie" "$base")
    RESULT["$size $path"]="$rps $p50 $p99 $bad"
    RESULT["$size $path cpu"]=$cpu
  done
  RESULT["$size cold_start_s"]=$COLD
  if [ "$size" = 10k ]; then
    # Kept running, on its own port, for the growth rounds below.
    OTHER_PID=$SERVER_PID; SERVER_PID=""
    SMALL_BASE=$base; SMALL_COOKIE=$cookie
    continue
  fi
  log "== growth: /dashboard and /calls, 10k and 1M in turn, 5 rounds of 5 s each"
  # The table's runs of one size are minutes apart from the other's; on a shared machine
  # that alone moves a ratio by a third. Interleaved, a slower minute weighs on both.
  for path in /dashboard /calls; do
    : >"$WORK/g10k"; : >"$WORK/g1m"
    for round in 1 2 3 4 5; do
      read -r _ p50 _ _ < <(measure "$path" "$SMALL_COOKIE" 5 "$SMALL_BASE"); echo "$p50" >>"$WORK/g10k"
      read -r _ p50 _ _ < <(measure "$path" "$cookie" 5); echo "$p50" >>"$WORK/g1m"
    done
    RESULT["growth $path"]="$(median "$WORK/g10k") $(median "$WORK/g1m")"
  done
  stop_server "$OTHER_PID"
  if [ "$size" = 1m ]; then
    log "== 60 s of dashboard load for memory"
    wrk -t2 -c"$CONNECTIONS" -d60s -H "Cookie: $cookie" "$BASE/dashboard" >/dev/null
    RESULT["rss_kib"]=$(ps -o rss= -p "$SERVER_PID" | tr -d ' ')
    # What that RSS is made of, so that a high figure can be explained after the run.
    RESULT["rss_detail"]=$(awk '/^(Anonymous|AnonHugePages|Rss_File|Private_Dirty):/ { printf "%s %s KiB ", $1, $2 }' \
      "/proc/$SERVER_PID/smaps_rollup" 2>/dev/null || true)
    log "== sign-in latency vs a bare argon2id verify"
    # Interleaved, PER_ROUND of each at a time, so that a slower minute of the shared machine
    # weighs on both sides alike; the p50 of each series' 4 × PER_ROUND samples. Two kinds
    # of sign-in:
    # - back to back over one kept-alive connection, as a browser that has loaded the page
    #   sends its sign-in (the first of each round, which connects, is not counted), against
    #   the verify back to back: like for like, each side as fast as its client asks. The
    #   target's figure from 2026-12-05 until the twenty-sixth machine; since then the
    #   sign-ins and verifies in turns below (README, "Sign-in").
    # - a new curl and connection each: the machine idles between two of them (curl
    #   starting, connecting), and on these virtual machines a hash after a pause is slower
    #   than one right after another (`bench/HISTORY.md`, 2026-12-04, a thirteenth
    #   machine), so it is also set against a verify after a pause as long.
    : >"$WORK/signin.ms"; : >"$WORK/signin-kept.ms"; : >"$WORK/argon2.ms"; : >"$WORK/argon2-paused.ms"
    # Beside each round, the server's CPU time and minor page faults per sign-in: whether
    # a slow round was the server working more (a slower hash) or waiting.
    cpu_rounds=(); fault_rounds=()
    kept_urls=()
    for i in $(seq 0 "$PER_ROUND"); do kept_urls+=(-o /dev/null "$BASE/auth/signin"); done
    for round in 1 2 3 4; do
      read -r ticks0 faults0 <<<"$(server_counters)"
      for i in $(seq 1 "$PER_ROUND"); do
        sign_in_curl "$email" "$BASE" -o /dev/null -w '%{time_total} %{http_code}\n' "$BASE/auth/signin"
      done >"$WORK/round"
      read -r ticks1 faults1 <<<"$(server_counters)"
      sign_in_curl "$email" "$BASE" -w '%{time_total} %{http_code}\n' "${kept_urls[@]}" | tail -n +2 >>"$WORK/round"
      # Every one of them a successful sign-in, or the figures mean nothing.
      if awk '$2 != 200 { bad = 1 } END { exit !bad }' "$WORK/round"; then
        log "a sign-in failed:"; cat "$WORK/round" >&2; exit 1
      fi
      head -n "$PER_ROUND" "$WORK/round" | awk '{ printf "%.3f\n", $1 * 1000 }' >>"$WORK/signin.ms"
      tail -n +"$((PER_ROUND + 1))" "$WORK/round" | awk '{ printf "%.3f\n", $1 * 1000 }' >>"$WORK/signin-kept.ms"
      cpu_rounds+=("$(awk -v t=$((ticks1 - ticks0)) -v hz="$CLK_TCK" -v n="$PER_ROUND" 'BEGIN { printf "%.1f", t * 1000 / hz / n }')")
      fault_rounds+=("$(( (faults1 - faults0) / PER_ROUND ))")
      helper argon2-bench --iterations "$PER_ROUND" --each >>"$WORK/argon2.ms"
      helper argon2-bench --iterations "$PER_ROUND" --each --pause-ms "$SIGNIN_PAUSE_MS" >>"$WORK/argon2-paused.ms"
    done
    RESULT["signin_round_server_cpu_ms"]="${cpu_rounds[*]}"
    RESULT["signin_round_server_faults"]="${fault_rounds[*]}"
    RESULT["signin_p50_ms"]=$(median "$WORK/signin.ms")
    RESULT["signin_kept_p50_ms"]=$(median "$WORK/signin-kept.ms")
    RESULT["argon2_p50_ms"]=$(median "$WORK/argon2.ms")
    RESULT["argon2_paused_p50_ms"]=$(median "$WORK/argon2-paused.ms")
    # Then one of each in turn (`switchboard signin-bench`: the sign-ins over one kept-alive
    # connection, each followed by a verify in the helper's own process), $PAIRS of each.
    # A slower spell of these machines lasts seconds: in the rounds above it can
    # fall on one side's round of ten alone (a run on the twenty-fifth machine: sign-in
    # rounds of 20.45, 16.41, 21.59 and 20.48 ms beside verifies of 15.35, 14.59, 20.20 and
    # 14.88), here it meets both sides alike. This is the target's figure.
    helper signin-bench --addr "127.0.0.1:$PORT" --email "$email" --pairs "$PAIRS" >"$WORK/pairs"
    awk '{ print $1 }' "$WORK/pairs" >"$WORK/paired-signin.ms"
    awk '{ print $2 }' "$WORK/pairs" >"$WORK/paired-argon2.ms"
    RESULT["paired_signin_p50_ms"]=$(median "$WORK/paired-signin.ms")
    RESULT["paired_argon2_p50_ms"]=$(median "$WORK/paired-argon2.ms")
    # By how much each sign-in exceeded the verify right after it: the median, and in how
    # many pairs it was longer.
    awk '{ printf "%.3f\n", $1 - $2 }' "$WORK/pairs" >"$WORK/paired-diff.ms"
    RESULT["paired_diff_p50_ms"]=$(median "$WORK/paired-diff.ms")
    RESULT["paired_signin_longer"]=$(awk '$1 > $2 { n++ } END { print n + 0 }' "$WORK/pairs")
    # Each round's p50s and every sample, in the order taken: a run whose ratio stands out
    # can be read afterwards (one slow round, or a whole series shifted).
    for series in signin signin-kept argon2 argon2-paused paired-signin paired-argon2; do
      RESULT["${series}_round_p50s_ms"]=$(round_p50s "$WORK/$series.ms")
      RESULT["${series}_samples_ms"]=$(paste -sd' ' "$WORK/$series.ms")
    done
    log "== RLS cost"
    RESULT["rls"]=$(SWITCHBOARD_DATA_DIR="$data" RUST_LOG=error helper rls-bench --email "$email" --iterations 2000)
  fi
  # The server's log of this size's runs: a panic or an error would explain an odd figure.
  RESULT["$size log"]="$(grep -ci 'panic' "$WORK/server-$port.log" || true) panics, $(grep -c 'ERROR' "$WORK/server-$port.log" || true) errors, $(grep -c 'WARN' "$WORK/server-$port.log" || true) warnings"
  stop_server
done

log "== the bounded load test, long (60 s): zero 5xx, bounded memory"
LOAD_LINE=$(SWITCHBOARD_LOAD_SECONDS=60 cargo test -q -p server --test it load -- --nocapture 2>&1 | grep '^load:' || echo "load: FAILED")

log "== bundle"
# Built with --split: switchboard.wasm is the main module every page needs; the code of
# every page but the landing page and sign-in is in further modules the browser fetches
# the first time it shows that page.
gz() { gzip -9 -c "$1" | wc -c; }
wasm_raw=$(stat -c %s target/site/pkg/switchboard.wasm)
wasm_gz=$(gz target/site/pkg/switchboard.wasm)
wasm_all_gz=0
for f in target/site/pkg/*.wasm; do wasm_all_gz=$((wasm_all_gz + $(gz "$f"))); done
# A first visit to /auth/signin in Chromium: every same-origin file it fetched (fails the
# run if the page does not hydrate cleanly), each counted gzip -9.
data="$WORK/db-1m"
start_server "$data"
# The page hydrates at the visitor's first interaction (app/src/components/hydration.rs):
# `first_visit_load` is what it fetched before, `first_visit` the whole visit.
visited=$(node bench/first-visit.cjs "$BASE/auth/signin")
first_visit=0
first_visit_load=0
while read -r phase path; do
  case "$path" in
    /auth/signin) bytes=$(curl -s "$BASE/auth/signin" | gzip -9 | wc -c) ;;
    *) bytes=$(gz "target/site$path") ;;
  esac
  log "   $phase $path $bytes B gzip"
  first_visit=$((first_visit + bytes))
  if [ "$phase" = load ]; then first_visit_load=$((first_visit_load + bytes)); fi
done <<<"$visited"
stop_server

CPU=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
PG_VERSION=$("$PG_BIN/postgres" --version | awk '{ print $3 }')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
CLOCK_NOTE=""
[ -z "$DB_CLOCK" ] || CLOCK_NOTE=", the database clock at $DB_CLOCK UTC"
{
  echo "Switchboard benchmark, $stamp, $(nproc) cores ($CPU), $(uname -m), PostgreSQL $PG_VERSION, ${CONNECTIONS} connections, ${SECONDS_PER_RUN} s per run$CLOCK_NOTE"
  # The CPU columns: µs of CPU per request of the server, of PostgreSQL and of the whole
  # machine (wrk included) while wrk ran, the machine's idle share and its stolen ticks.
  printf '%-24s %10s %10s %10s %8s %8s %8s %8s %6s %6s\n' "endpoint" "req/s" "p50 ms" "p99 ms" "non-2xx" \
    "srv us" "pg us" "all us" "idle%" "steal"
  for size in 10k 1m; do
    for path in /healthz /dashboard /calls /api/auth/session; do
      read -r rps p50 p99 bad <<<"${RESULT["$size $path"]}"
      read -r srv pg all idle steal <<<"${RESULT["$size $path cpu"]}"
      printf '%-24s %10s %10s %10s %8s %8s %8s %8s %6s %6s\n' "$size $path" "$rps" "$p50" "$p99" "$bad" \
        "$srv" "$pg" "$all" "$idle" "$steal"
    done
  done
  read -r d10 d1m <<<"${RESULT["growth /dashboard"]}"; read -r c10 c1m <<<"${RESULT["growth /calls"]}"
  echo "growth 1M/10k, median p50 of 5 interleaved rounds: dashboard $d1m vs $d10 ms, $(ratio "$d1m" "$d10")x; calls $c1m vs $c10 ms, $(ratio "$c1m" "$c10")x"
  echo "sign-in p50 in turns, one sign-in over one connection then one argon2id verify, $PAIRS pairs: ${RESULT[paired_signin_p50_ms]} ms vs verify p50 ${RESULT[paired_argon2_p50_ms]} ms: $(ratio "${RESULT[paired_signin_p50_ms]}" "${RESULT[paired_argon2_p50_ms]}")x; each sign-in over the verify after it by ${RESULT[paired_diff_p50_ms]} ms (median), longer in ${RESULT[paired_signin_longer]} of $PAIRS"
  echo "  back to back over one connection, rounds of $PER_ROUND: sign-in p50 ${RESULT[signin_kept_p50_ms]} ms vs verify p50, back to back, ${RESULT[argon2_p50_ms]} ms: $(ratio "${RESULT[signin_kept_p50_ms]}" "${RESULT[argon2_p50_ms]}")x"
  echo "  a new connection each: sign-in p50 ${RESULT[signin_p50_ms]} ms, $(ratio "${RESULT[signin_p50_ms]}" "${RESULT[argon2_p50_ms]}")x the verify back to back, $(ratio "${RESULT[signin_p50_ms]}" "${RESULT[argon2_paused_p50_ms]}")x a verify after a ${SIGNIN_PAUSE_MS} ms pause (p50 ${RESULT[argon2_paused_p50_ms]} ms)"
  echo "  each round's p50 ($PER_ROUND of each): sign-in over one connection ${RESULT[signin-kept_round_p50s_ms]}; a new connection each ${RESULT[signin_round_p50s_ms]}; verify ${RESULT[argon2_round_p50s_ms]}; after a pause ${RESULT[argon2-paused_round_p50s_ms]} ms"
  echo "  the server's CPU per sign-in (a new connection each), each round: ${RESULT[signin_round_server_cpu_ms]} ms (clock ticks of $((1000 / CLK_TCK)) ms); minor page faults per sign-in: ${RESULT[signin_round_server_faults]}"
  echo "RLS: ${RESULT[rls]}"
  echo "server RSS after 60 s of dashboard load: ${RESULT[rss_kib]} KiB (${RESULT[rss_detail]% })"
  echo "server log, 1M runs: ${RESULT["1m log"]}"
  echo "cold start to /readyz: 10k ${RESULT["10k cold_start_s"]} s, 1M ${RESULT["1m cold_start_s"]} s"
  echo "release WASM main module: $wasm_raw B raw, $wasm_gz B gzip -9 (all modules $wasm_all_gz B gzip); first visit to /auth/signin: $first_visit B gzip ($first_visit_load B before the first interaction)"
  echo "$LOAD_LINE"
} | tee "$WORK/table.txt"

json="bench/results/$(date -u +%Y%m%dT%H%M%SZ).json"
{
  echo "{"
  echo "  \"when\": \"$stamp\", \"db_clock\": \"${DB_CLOCK:-real}\", \"cores\": $(nproc), \"cpu\": \"$CPU\", \"postgresql\": \"$PG_VERSION\", \"connections\": $CONNECTIONS, \"seconds\": $SECONDS_PER_RUN,"
  for key in "${!RESULT[@]}"; do printf '  "%s": "%s",\n' "$key" "${RESULT[$key]}"; done
  echo "  \"wasm_raw\": $wasm_raw, \"wasm_gzip\": $wasm_gz, \"wasm_all_modules_gzip\": $wasm_all_gz, \"first_visit_gzip\": $first_visit, \"first_visit_before_interaction_gzip\": $first_visit_load"
  echo "}"
} >"$json"
log "written $json"
