#!/usr/bin/env bash
# fleet.sh: `apitoken list` with fleet filters on a database of N tokens (default 100000).
#
# Usage:
#   bash benches/fleet.sh [N]
#
# Environment: RUNS (10), WARMUP (2), USERS (2000), TARGET_MS (200), KEEP=1 keeps the
# work directory (database, config, daemon log, hyperfine CSV) for inspection.
#
# How: starts a private release apitokend (default argon2 parameters, syslog off), makes
# a few tokens through `apitoken create` (real argon2id hashes), stops the daemon, then
# inserts N rows straight into its database with the sqlite3 command in one transaction:
# a realistic fleet of USERS people plus service accounts, named tokens, creation times
# over three years, 30% never used, a quarter without expiry (some expired, some due
# within two weeks), a mix of scopes (a fifth from before scopes existed: NULL) and 2%
# rotated away. The daemon is started again on it and each query is timed end to end
# (process start, admin socket, query, rendering) with hyperfine, or a timing loop when
# hyperfine is missing. The median per query is printed, with the SQLite query plan of
# each filter so a slow one shows which index it lacks.
#
# Needs sqlite3 (bash tests/run.sh installs it); hyperfine is optional (apt-get install
# hyperfine). Runs as any user: the caller's primary group is the admin group.
set -euo pipefail

N=${1:-100000}
RUNS=${RUNS:-10}
WARMUP=${WARMUP:-2}
USERS=${USERS:-2000}
TARGET_MS=${TARGET_MS:-200}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

# shellcheck source=benches/fleet-db.sh
source "$ROOT/benches/fleet-db.sh"

command -v sqlite3 >/dev/null || { echo "sqlite3 is required (apt-get install sqlite3)" >&2; exit 1; }

fleet_setup fleet

start_daemon() {
    "$BIN/apitokend" --config "$DIR/apitokend.toml" 2>>"$DIR/daemon.log" &
    DAEMON_PID=$!
    # The sockets accept before the database is open; `status` answers once it is.
    for _ in $(seq 400); do
        "${APITOKEN[@]}" status >/dev/null 2>&1 && return 0
        kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$DIR/daemon.log" >&2; exit 1; }
        sleep 0.05
    done
    echo "apitokend did not answer within 20 s" >&2
    cat "$DIR/daemon.log" >&2
    exit 1
}

start_daemon
for i in $(seq 8); do
    "${APITOKEN[@]}" create --user "svc-real-$i" --name "real token $i" --expires 1y >/dev/null
done
"${APITOKEN[@]}" create --user alice --name "alice laptop" --scope read,write --expires 10d >/dev/null
"${APITOKEN[@]}" create --user alice --name "alice ci deploy" --scope write --path /api/ci/ >/dev/null
stop_daemon

NOW=$(date +%s)
echo "inserting $N tokens for $USERS users with sqlite3..." >&2
start=$(date +%s%N)
fleet_insert "$DB" "$N" "$USERS" "$NOW"
insert_ms=$(( ($(date +%s%N) - start) / 1000000 ))

start_daemon
count=$("${APITOKEN[@]}" status --json | grep -o '"tokens": *[0-9]*' | grep -o '[0-9]*$' || true)
echo
echo "== apitoken list at fleet scale: ${count:-?} tokens, $(sqlite3 "$DB" 'SELECT COUNT(DISTINCT owner) FROM tokens') owners =="
echo "inserted $N rows in ${insert_ms} ms; database $(du -h "$DB" | cut -f1)"
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); ${RUNS} runs per query after ${WARMUP} warm-up runs; target < ${TARGET_MS} ms"
echo

# The busiest owner, and a name fragment that matches a modest share of tokens.
BUSY=$(sqlite3 "$DB" 'SELECT owner FROM tokens GROUP BY owner ORDER BY COUNT(*) DESC LIMIT 1')

# label | apitoken arguments | the WHERE/ORDER clause the store builds for them (for the plan)
QUERIES=(
    "list --all (everything)|list --all|ORDER BY created_at ASC, id ASC"
    "--user $BUSY|list --user $BUSY|WHERE owner = '$BUSY' ORDER BY created_at ASC, id ASC"
    "--name 'deploy 42'|list --all --name deploy_42|WHERE instr(lower(name), lower('deploy 42')) > 0 ORDER BY created_at ASC, id ASC"
    "--never-used --created-before 90d|list --all --never-used --created-before 90d|WHERE created_at < $((NOW - 90 * 86400)) AND last_used_at IS NULL ORDER BY created_at ASC, id ASC"
    "--scope write --sort last-used --limit 50|list --all --scope write --sort last-used --limit 50|WHERE (scopes IS NULL OR instr(',' || scopes || ',', ',write,') > 0) ORDER BY last_used_at ASC, id ASC LIMIT 50"
    "--expiring 14d|list --all --expiring 14d|WHERE expires_at < $((NOW + 14 * 86400)) AND expires_at > $NOW ORDER BY created_at ASC, id ASC"
    "--last-used-before 365d --sort user --limit 100|list --all --last-used-before 365d --sort user --limit 100|WHERE last_used_at < $((NOW - 365 * 86400)) ORDER BY owner ASC, id ASC LIMIT 100"
    "--sort expires --reverse --limit 20|list --all --sort expires --reverse --limit 20|ORDER BY expires_at DESC, id DESC LIMIT 20"
)

# --name takes one argument with a space; the table splits on spaces, so it is written
# with an underscore above and restored below.
CSV="$DIR/hyperfine.csv"
# The query alone, as the store runs it (every column), best of three, in milliseconds:
# what is left of the median is the socket, JSON and rendering.
COLUMNS_SQL="id, owner, name, hash, created_at, created_by, expires_at, last_used_at, \
last_used_ip, scopes, paths, networks, revoke_at, rotated_to, last_ips"
sql_ms() {
    printf '.timer on\n.output /dev/null\n%s\n%s\n%s\n' \
        "SELECT $COLUMNS_SQL FROM tokens $1;" "SELECT $COLUMNS_SQL FROM tokens $1;" \
        "SELECT $COLUMNS_SQL FROM tokens $1;" |
        sqlite3 -batch "$DB" 2>&1 |
        awk '/^Run Time/ { ms = $4 * 1000; if (best == "" || ms < best) best = ms }
             END { if (best < 1) printf "<1"; else printf "%.0f", best }'
}

declare -a LABELS MEDIANS ROWS SQL_MS
for q in "${QUERIES[@]}"; do
    IFS='|' read -r label args clause <<<"$q"
    read -r -a argv <<<"$args"
    for k in "${!argv[@]}"; do [ "${argv[k]}" = deploy_42 ] && argv[k]="deploy 42"; done
    rows=$("${APITOKEN[@]}" "${argv[@]}" --json | grep -c '"id"' || true)
    if command -v hyperfine >/dev/null; then
        # hyperfine -N splits on spaces; quote the one argument that has one.
        cmd="${APITOKEN[*]}"
        for a in "${argv[@]}"; do
            if [[ $a == *" "* ]]; then cmd+=" '$a'"; else cmd+=" $a"; fi
        done
        hyperfine -N --style none --warmup "$WARMUP" --runs "$RUNS" --export-csv "$CSV" \
            "$cmd" >/dev/null 2>&1
        median=$(awk -F, 'NR == 2 { printf "%.1f", $4 * 1000 }' "$CSV")
    else
        times=()
        for _ in $(seq "$WARMUP"); do "${APITOKEN[@]}" "${argv[@]}" >/dev/null; done
        for _ in $(seq "$RUNS"); do
            t0=$(date +%s%N)
            "${APITOKEN[@]}" "${argv[@]}" >/dev/null
            times+=($(( $(date +%s%N) - t0 )))
        done
        median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END {
            m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.1f", m / 1e6 }')
    fi
    LABELS+=("$label")
    MEDIANS+=("$median")
    ROWS+=("$rows")
    SQL_MS+=("$(sql_ms "$clause")")
done

printf '%-48s %8s %10s %10s\n' "query (apitoken list ...)" "rows" "median ms" "sqlite ms"
slow=0
for i in "${!LABELS[@]}"; do
    mark=""
    if awk -v m="${MEDIANS[$i]}" -v t="$TARGET_MS" 'BEGIN { exit !(m >= t) }'; then
        mark="  over ${TARGET_MS} ms"
        slow=1
    fi
    printf '%-48s %8s %10s %10s%s\n' "${LABELS[$i]}" "${ROWS[$i]}" "${MEDIANS[$i]}" "${SQL_MS[$i]}" "$mark"
done

echo
echo "== SQLite query plans (as the store builds each filter) =="
for q in "${QUERIES[@]}"; do
    IFS='|' read -r label _ clause <<<"$q"
    echo "-- $label"
    sqlite3 "$DB" "EXPLAIN QUERY PLAN SELECT id FROM tokens $clause" | sed 's/^/   /'
done
echo
echo "== Sorting after filtering (ORDER BY +column: SQLite may not walk the sort index) =="
for q in "${QUERIES[@]}"; do
    IFS='|' read -r label _ clause <<<"$q"
    [[ $clause == *"ORDER BY created_at"* && $clause != *LIMIT* ]] || continue
    plus=${clause/ORDER BY created_at/ORDER BY +created_at}
    printf '%-48s %10s ms (now %s ms)\n' "$label" "$(sql_ms "$plus")" "$(sql_ms "$clause")"
done

echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$slow" = 1 ]; then
    echo
    echo "Some queries took ${TARGET_MS} ms or more; see the plans above and the notes in docs/beyond.md."
fi
