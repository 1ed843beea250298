#!/usr/bin/env bash
# million.sh: apitokend with a very large fleet (default 1,000,000 tokens).
#
# Usage:
#   bash benches/million.sh [N]
#
# Environment: USERS (20000), RUNS (10), KEEP=1 keeps the work directory.
#
# Builds the release binaries, makes a few real tokens with `apitoken create` (so the
# database holds verifiers of the current format), inserts N rows with sqlite3 in one
# transaction (the fleet of benches/fleet-db.sh), then measures on this machine:
# - daemon start-up: from exec until the admin socket answers (median of 3 starts);
# - the daemon's idle RSS;
# - the first page, `apitoken list --all --limit 50` (goal < 200 ms), a page deep in the
#   listing (after a cursor half-way through) and a few other orders and filters;
# - a full `apitoken list --all --json` stream: wall time, the CLI's peak RSS, and the
#   daemon's RSS and peak RSS around it.
# Needs sqlite3 and GNU time (/usr/bin/time). A benchmark, not a test: nothing fails on
# a number; the goal is printed next to the figure.
set -euo pipefail

N=${1:-1000000}
USERS=${USERS:-20000}
RUNS=${RUNS:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benches/fleet-db.sh
source "$ROOT/benches/fleet-db.sh"

for tool in sqlite3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "$tool is required (apt-get install sqlite3 time)" >&2; exit 1; }
done

fleet_setup million

now_ns() { date +%s%N; }
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }

# Starts the daemon; sets START_MS to the time until the admin socket answers a request
# (check-ip needs no database query, so only start-up is measured).
start_daemon() {
    local t0
    t0=$(now_ns)
    "$BIN/apitokend" --config "$DIR/apitokend.toml" 2>>"$DIR/daemon.log" &
    DAEMON_PID=$!
    for _ in $(seq 2000); do
        if "${APITOKEN[@]}" check-ip 127.0.0.1 >/dev/null 2>&1; then
            START_MS=$(ms_since "$t0")
            return 0
        fi
        kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$DIR/daemon.log" >&2; exit 1; }
        sleep 0.005
    done
    echo "apitokend did not answer within 10 s" >&2
    exit 1
}

kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

# Median wall time in ms of RUNS runs of `apitoken ARGS` (output discarded).
median_ms() {
    local times=() t0
    "${APITOKEN[@]}" "$@" >/dev/null 2>&1
    for _ in $(seq "$RUNS"); do
        t0=$(now_ns)
        "${APITOKEN[@]}" "$@" >/dev/null 2>&1
        times+=($(( $(now_ns) - t0 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END {
        m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.1f", m / 1e6 }'
}

start_daemon
for i in $(seq 4); do
    "${APITOKEN[@]}" create --user "svc-real-$i" --name "real token $i" --expires 1y >/dev/null
done
stop_daemon

echo "inserting $N tokens for $USERS users with sqlite3..." >&2
t0=$(now_ns)
fleet_insert "$DB" "$N" "$USERS" "$(date +%s)"
insert_ms=$(ms_since "$t0")
sqlite3 "$DB" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
verifier=$(sqlite3 "$DB" "SELECT substr(hash, 1, instr(substr(hash, 2), '\$') + 1) FROM tokens LIMIT 1")

echo
echo "== apitokend with $(sqlite3 "$DB" 'SELECT COUNT(*) FROM tokens') tokens, $(sqlite3 "$DB" 'SELECT COUNT(DISTINCT owner) FROM tokens') owners =="
echo "inserted in ${insert_ms} ms; database $(du -h "$DB" | cut -f1); verifiers ${verifier}..."
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); medians of $RUNS runs"
echo

starts=()
for _ in 1 2 3; do
    start_daemon
    starts+=("$START_MS")
    stop_daemon
done
start_daemon
sleep 2
idle_rss=$(kib "$DAEMON_PID" VmRSS)
start_median=$(printf '%s\n' "${starts[@]}" | sort -n | sed -n 2p)
printf '%-58s %s ms (runs: %s)\n' "daemon start-up until the admin socket answers" "$start_median" "${starts[*]}"
printf '%-58s %s\n' "daemon idle RSS" "$(mib "$idle_rss")"
echo

# A cursor half-way through the default order, as `next:` would print it.
half=$(sqlite3 "$DB" "SELECT 'ca.i' || created_at || '.' || id FROM tokens ORDER BY created_at, id LIMIT 1 OFFSET $((N / 2))")
printf '%-58s %10s\n' "apitoken list ..." "median ms"
while IFS='|' read -r label args; do
    read -r -a argv <<<"$args"
    printf '%-58s %10s\n' "$label" "$(median_ms "${argv[@]}")"
done <<EOF3
--all --limit 50 (first page; goal < 200 ms)|list --all --limit 50
--all --limit 50 --json|list --all --limit 50 --json
--all --limit 50 --after <half-way cursor>|list --all --limit 50 --after $half
--all --sort expires --reverse --limit 50|list --all --sort expires --reverse --limit 50
--all --sort user --limit 50|list --all --sort user --limit 50
--all --sort name --limit 50 (no index on name)|list --all --sort name --limit 50
--all --scope write --sort last-used --limit 50|list --all --scope write --sort last-used --limit 50
--all --expiring 14d --limit 50|list --all --expiring 14d --limit 50
--user user0001|list --user user0001
EOF3
echo

hwm_before=$(kib "$DAEMON_PID" VmHWM)
t0=$(now_ns)
/usr/bin/time -f '%M' -o "$DIR/cli.time" "${APITOKEN[@]}" list --all --json >"$DIR/all.json"
stream_ms=$(ms_since "$t0")
rss_after=$(kib "$DAEMON_PID" VmRSS)
hwm_after=$(kib "$DAEMON_PID" VmHWM)
rows=$(grep -c '"id"' "$DIR/all.json" || true)
echo "== full stream: apitoken list --all --json =="
printf '%-58s %s\n' "rows, bytes" "$rows, $(wc -c <"$DIR/all.json")"
printf '%-58s %s ms (%s tokens/s)\n' "wall time" "$stream_ms" "$(( rows * 1000 / (stream_ms > 0 ? stream_ms : 1) ))"
printf '%-58s %s\n' "apitoken peak RSS" "$(mib "$(cat "$DIR/cli.time")")"
printf '%-58s %s before, %s after\n' "apitokend peak RSS (VmHWM)" "$(mib "$hwm_before")" "$(mib "$hwm_after")"
printf '%-58s %s\n' "apitokend RSS after the stream" "$(mib "$rss_after")"
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
