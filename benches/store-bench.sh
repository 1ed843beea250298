#!/usr/bin/env bash
# store-bench.sh: the hot path per host with a PostgreSQL store (a fleet) next to SQLite.
#
# Usage:
#   bash benches/store-bench.sh [--smoke] [-d SECONDS] [-r ROUNDS] [-t THREADS] [-c CONNECTIONS]
#
#   -d  length of each wrk run (default 10)
#   -r  rounds; each round measures both daemons, in alternating order (default 3)
#   -t  wrk threads (default 2)
#   -c  wrk connections (default 32)
#   --smoke  1 s runs, 1 round: checks that every part runs; the figures mean nothing.
#   KEEP=1 keeps the work directory (configs, logs).
#
# Run as root (the PostgreSQL server is made with initdb and pg_ctl as the postgres user;
# bash tests/run.sh installs postgresql, nginx and wrk). Starts a private PostgreSQL server
# on a free port of 127.0.0.1 in the work directory, two release daemons with the default
# verifier and syslog off (one on SQLite, one on that server), and ONE nginx worker in
# front of both, as benches/nginx-bench.sh does (a connection per auth subrequest, as the
# shipped snippet). Each daemon has one cached token; wrk asks /sqlite/ and /pg/ in turn,
# and for each run the daemon's utime+stime from /proc gives its CPU per request. The
# hot path must not touch the database, so the two should be within 5 %. It also prints
# the transactions the PostgreSQL database committed during the runs (pg_stat_database):
# the change log's catch-up every 2 s and the housekeeping, never one per request, and
# each daemon's CPU while idle (background work that a run spreads over its requests).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/benches/rig.sh"
source "$repo/benches/measure.sh"
smoke=0
smoke_defaults=(duration=1 rounds=1)
options 'd=duration r=rounds t=threads c=connections' 2,12 "$@"
source "$repo/benches/harness.sh" store-bench
[[ $(id -u) == 0 ]] || { echo "run as root: the PostgreSQL server runs as the postgres user" >&2; exit 1; }
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[[ -x $pg_bin/pg_ctl ]] || { echo "missing PostgreSQL (bash tests/run.sh installs postgresql)" >&2; exit 1; }

section "PostgreSQL"
pg=$work/postgres
mkdir -p "$pg"
chown postgres: "$pg"
as_postgres() { runuser -u postgres -- "$@"; }
pg_port=$(free_port)
as_postgres "$pg_bin/initdb" -D "$pg/data" -U postgres --auth-local=trust --auth-host=trust --no-sync >"$pg/initdb.log"
as_postgres "$pg_bin/pg_ctl" -D "$pg/data" -l "$pg/log" -w start \
    -o "-p $pg_port -k $pg -c listen_addresses=127.0.0.1 -c fsync=off" >/dev/null
stop_pg() { as_postgres "$pg_bin/pg_ctl" -D "$pg/data" -m fast -w stop >/dev/null 2>&1 || true; }
trap 'stop_pg; cleanup' EXIT
psql_pg() { as_postgres psql -h "$pg" -p "$pg_port" -d "${2:-postgres}" -Atc "$1"; }
psql_pg "CREATE DATABASE apitokend" >/dev/null
echo "PostgreSQL $(psql_pg 'SHOW server_version') on 127.0.0.1:$pg_port"

section "apitokend: one daemon per store"
declare -A daemon_pid token
start_host() {
    local name=$1 store=$2 dir=$work/$1
    mkdir -p "$dir"
    {
        daemon_config "$dir/state" "$dir/run"
        printf '\n[cache]\nttl_seconds = 3600\n\n%s\n' "$store"
    } >"$dir/apitokend.toml"
    "$bin/apitokend" --config "$dir/apitokend.toml" >>"$dir/apitokend.log" 2>&1 &
    daemon_pid[$name]=$!
    pids+=("$!")
    wait_for "apitokend ($name)" "$bin/apitoken" --socket "$dir/run/admin.sock" status
    token[$name]=$("$bin/apitoken" --socket "$dir/run/admin.sock" create --user bench --name "bench-$name")
    echo "$name: pid ${daemon_pid[$name]}, token ${token[$name]:4:8}"
}
start_host sqlite ""
start_host pg "[store]
backend = \"postgres\"
url = \"postgresql://postgres@127.0.0.1:$pg_port/apitokend\""

section "nginx"
port=$(free_port)
nginx_front front "$port" sqlite="$work/sqlite/run/http.sock" pg="$work/pg/run/http.sock"
nginx_start front
wait_for "nginx" port_in_use "$port"
base=http://127.0.0.1:$port
for name in sqlite pg; do
    got=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${token[$name]}" "$base/$name/x")
    [[ $got == 204 ]] || { echo "sanity check failed: /$name/ gave $got" >&2; exit 1; }
done
echo "nginx on $base (1 worker); both daemons answer 204 through it"

section "Hot path: a cached token (-t$threads -c$connections -d${duration}s, $rounds rounds)"
declare -A rps us last_rps last_us
paired_rps="" paired_us=""
for name in sqlite pg; do
    hot_token=${token[$name]}
    wrk_run -t"$threads" -c"$connections" -d1s -H "Authorization: Bearer $hot_token" "$base/$name/x" >/dev/null
done
# Background work (the change log's catch-up, housekeeping, the store's runtime): each
# daemon's CPU while idle, which a run divides among its requests.
idle_s=$(( smoke ? 2 : 10 ))
declare -A idle0 idle
for name in sqlite pg; do idle0[$name]=$(cpu_ticks "${daemon_pid[$name]}"); done
sleep "$idle_s"
for name in sqlite pg; do
    idle[$name]=$(awk -v t="$(( $(cpu_ticks "${daemon_pid[$name]}") - ${idle0[$name]} ))" \
        -v hz="$clk_tck" -v s="$idle_s" 'BEGIN { printf "%.2f", t / hz * 1000 / s }')
done
echo "idle CPU over ${idle_s} s: sqlite ${idle[sqlite]} ms/s, pg ${idle[pg]} ms/s"
commits() { psql_pg "SELECT xact_commit FROM pg_stat_database WHERE datname = 'apitokend'" apitokend; }
commits_before=$(commits)
started=$SECONDS
for ((round = 1; round <= rounds; round++)); do
    order=(sqlite pg)
    ((round % 2 == 0)) && order=(pg sqlite)
    for name in "${order[@]}"; do
        hot_token=${token[$name]}
        read -r r u < <(measured_run "/$name/x" "${daemon_pid[$name]}")
        rps[$name]+="$r " us[$name]+="$u "
        last_rps[$name]=$r last_us[$name]=$u
        printf '  round %d  %-7s %10s req/s %8s us CPU per request\n' "$round" "$name" "$r" "$u"
    done
    # The two runs of a round are next to each other in time: their ratio is the least
    # disturbed by load that changes over the whole benchmark.
    paired_rps+="$(ratio "${last_rps[pg]}" "${last_rps[sqlite]}") "
    paired_us+="$(ratio "${last_us[pg]}" "${last_us[sqlite]}") "
done
commits_after=$(commits)
elapsed=$((SECONDS - started))

section "Summary"
med() { tr ' ' '\n' <<<"$1" | grep . | median "${2:-2}"; }
sr=$(med "${rps[sqlite]}") pr=$(med "${rps[pg]}") su=$(med "${us[sqlite]}") pu=$(med "${us[pg]}")
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); nginx 1 worker; wrk -t$threads -c$connections -d${duration}s x $rounds rounds"
((smoke)) && echo "SMOKE RUN: the figures mean nothing"
printf '%-10s %12s %14s\n' "store" "req/s" "us CPU/req"
printf '%-10s %12s %14s\n' sqlite "$sr" "$su" postgres "$pr" "$pu"
printf 'postgres / sqlite: req/s %s, CPU per request %s (goal: within 5%%, 0.95..1.05)\n' \
    "$(ratio "$pr" "$sr")" "$(ratio "$pu" "$su")"
printf 'postgres / sqlite, each round on its own (%s): median: req/s %s, CPU per request %s\n' \
    "${paired_rps% }" "$(med "$paired_rps" 3)" "$(med "$paired_us" 3)"
echo "idle CPU (background work): sqlite ${idle[sqlite]} ms/s, postgres ${idle[pg]} ms/s"
echo "database transactions committed during ${elapsed} s of runs: $((commits_after - commits_before)) (catch-up and housekeeping; none per request)"
