#!/usr/bin/env bash
# How `apitoken` behaves with a large database: starts a private apitokend (production
# argon2 parameters unless overridden), creates N tokens (default 10000) spread over 100
# users with parallel `apitoken create` runs, then times one more `apitoken create` and
# `apitoken list --all`. Uses hyperfine when installed, else a timed loop.
#
# Usage: benches/cli-scale.sh [N]
# Environment: PROFILE (release), RUNS (20), JOBS (nproc), ARGON2_MEMORY_KIB (19456),
#              ARGON2_ITERATIONS (2), KEEP=1 keeps the temporary directory.
set -euo pipefail

N=${1:-10000}
PROFILE=${PROFILE:-release}
RUNS=${RUNS:-20}
JOBS=${JOBS:-$(nproc)}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benches/fleet-db.sh
source "$ROOT/benches/fleet-db.sh"

fleet_setup cli-scale "$PROFILE"
cat >>"$DIR/apitokend.toml" <<EOF

[argon2]
memory_kib = ${ARGON2_MEMORY_KIB:-19456}
iterations = ${ARGON2_ITERATIONS:-2}
parallelism = 1
EOF

"$BIN/apitokend" --config "$DIR/apitokend.toml" 2>"$DIR/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 200); do
    "$BIN/apitoken" --socket "$SOCK" status >/dev/null 2>&1 && break
    kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$DIR/daemon.log" >&2; exit 1; }
    sleep 0.05
done
"$BIN/apitoken" --socket "$SOCK" status >/dev/null

# The workers below are children: the CLI's path and socket reach them in the environment
# (fleet_setup's APITOKEN is an array, which cannot be exported).
export APITOKEN_SOCKET="$SOCK"
unset APITOKEN
export APITOKEN="$BIN/apitoken"

echo "creating $N tokens with $JOBS parallel workers..." >&2
start=$(date +%s%N)
seq 1 "$N" | xargs -P "$JOBS" -n 250 bash -c '
    for i in "$@"; do
        "$APITOKEN" create --user "bench-$((i % 100))" --name "bench $i" >/dev/null
    done' _
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
count=$("$APITOKEN" list --all --json | grep -c '"id"')
[ "$count" -ge "$N" ] || { echo "expected $N tokens, found $count" >&2; exit 1; }

echo
echo "== apitokend CLI at scale: $count tokens, argon2 m=${ARGON2_MEMORY_KIB:-19456} KiB t=${ARGON2_ITERATIONS:-2} =="
echo "bulk create: $N tokens in ${elapsed_ms} ms ($(( N * 1000 / (elapsed_ms > 0 ? elapsed_ms : 1) )) tokens/s, $JOBS workers)"
echo "list --all --json: $("$APITOKEN" list --all --json | wc -c) bytes"

CREATE_CMD="$APITOKEN create --user bench-timed --name timed"
LIST_CMD="$APITOKEN list --all"
if command -v hyperfine >/dev/null; then
    hyperfine --warmup 2 --runs "$RUNS" -N "$CREATE_CMD" "$LIST_CMD"
else
    # Mean wall time of RUNS sequential runs, in milliseconds.
    mean_ms() {
        local t0 t1
        t0=$(date +%s%N)
        for _ in $(seq "$RUNS"); do $1 >/dev/null; done
        t1=$(date +%s%N)
        awk -v ns="$((t1 - t0))" -v n="$RUNS" 'BEGIN { printf "%.1f", ns / 1e6 / n }' 
    }
    echo "hyperfine not found; timing $RUNS runs of each with date(1)"
    echo "apitoken create:     $(mean_ms "$CREATE_CMD") ms mean"
    echo "apitoken list --all: $(mean_ms "$LIST_CMD") ms mean"
fi
