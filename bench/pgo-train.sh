#!/usr/bin/env bash
# The training run of the profile-guided release build (`make build-release`; README,
# Architecture, "The release server is built for speed"): the instrumented server serves a signed-in user's pages and calls on a
# small seeded database, so that the counts it writes when it exits say which code is hot.
# Code this run never reaches is laid out as cold: it stays correct, only less optimized.
# Usage: bash bench/pgo-train.sh INSTRUMENTED_BINARY   (writes where -Cprofile-generate says)
set -euo pipefail
BIN=$1
PORT=${PGO_TRAIN_PORT:-3390}
BASE="http://127.0.0.1:$PORT"
DATA=$(mktemp -d /tmp/switchboard-pgo.XXXXXX)
# The embedded cluster runs as an unprivileged user when we are root: it must reach $DATA.
chmod 711 "$DATA"
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$DATA"
}
trap cleanup EXIT

seeded=$(SWITCHBOARD_DATA_DIR="$DATA" RUST_LOG=error "$BIN" seed --orgs 20 --calls-per-org 1000 --agents-per-org 3)
email=$(sed -n 's/.*Sign in as \([^ ]*\).*/\1/p' <<<"$seeded")
[ -n "$email" ] || { echo "pgo-train: the seed printed no account: $seeded" >&2; exit 1; }

SWITCHBOARD_DATA_DIR="$DATA" LEPTOS_SITE_ADDR="127.0.0.1:$PORT" RUST_LOG=warn \
  "$BIN" >"$DATA/server.log" 2>&1 &
PID=$!
until curl -sf "$BASE/readyz" >/dev/null; do
  kill -0 "$PID" 2>/dev/null || { cat "$DATA/server.log" >&2; exit 1; }
  sleep 0.05
done

source "$(dirname "$0")/signin.sh"

sign_in() { # email; the session cookie goes into $DATA/cookies
  sign_in_curl "$1" "$BASE" -f -o /dev/null -c "$DATA/cookies" "$BASE/auth/signin"
}

# COUNT requests of each PATH, 16 at a time, in one curl process; extra curl options first.
# Each response's status goes to $DATA/codes, the batch's alone to $DATA/batch.
requests() { # count options... -- paths...
  local count=$1 opts=() config="$DATA/curl.conf"
  shift
  while [ "$1" != "--" ]; do opts+=("$1"); shift; done
  shift
  : >"$config"
  for path in "$@"; do
    for _ in $(seq "$count"); do printf 'url = "%s%s"\noutput = "/dev/null"\n' "$BASE" "$path" >>"$config"; done
  done
  curl -s --no-progress-meter --parallel --parallel-max 16 -w '%{http_code}\n' "${opts[@]}" --config "$config" >"$DATA/batch"
  cat "$DATA/batch" >>"$DATA/codes"
}

# Counts from a run that only met redirects or errors would train the wrong code: stop.
all_ok() { # what
  local other
  other=$(grep -cv '^200$' "$DATA/batch" || true)
  [ "$other" = 0 ] || { echo "pgo-train: $other of $1 did not answer 200" >&2; exit 1; }
}

sign_in "$email"
cookie="Cookie: $(session_cookie "$DATA/cookies")"
call="" agent=""
[[ $(curl -sf -H "$cookie" "$BASE/calls") =~ href=\"(/calls/[0-9a-f-]+)\" ]] && call=${BASH_REMATCH[1]}
[[ $(curl -sf -H "$cookie" "$BASE/agents") =~ href=\"(/agents/[0-9a-f-]+)\" ]] && agent=${BASH_REMATCH[1]}

# The pages the benchmark loads most, then the rest of a signed-in console, the public
# pages, and the server functions a hydrated page calls as it navigates.
requests 2000 -H "$cookie" -- /dashboard
all_ok "the signed-in dashboards"
requests 1000 -H "$cookie" -- /calls /api/auth/session /healthz
all_ok "the calls pages, sessions and health checks"
requests 100 -H "$cookie" -- /agents /agents/new /settings/account /settings/sessions \
  /settings/organization "/calls?page=2" "/calls?status=completed" ${call:+"$call"} ${agent:+"$agent"} /nowhere
requests 100 -- / /auth/signin /auth/signup /auth/forgot /dashboard /readyz
requests 100 -X POST -H "$cookie" -H "Origin: $BASE" -- /api/org/dashboard /api/org/calls /api/org/agents /api/auth/current_user
for _ in $(seq 20); do sign_in "$email"; done
! grep -q '^5' "$DATA/codes" || { echo "pgo-train: the server answered with an error (5xx)" >&2; exit 1; }
echo "pgo-train: responses by status: $(sort "$DATA/codes" | uniq -c | awk '{ printf "%s %s; ", $2, $1 }')" >&2
