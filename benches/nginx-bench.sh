#!/usr/bin/env bash
# nginx-bench.sh: what apitokend costs nginx per request, cold and hot.
#
# Usage:
#   bash benches/nginx-bench.sh [--smoke] [-d SECONDS] [-r ROUNDS] [-t THREADS] [-c CONNECTIONS]
#                               [-n TOKENS] [-z REQUESTS] [-e MAX_ENTRIES]
#
#   -d  length of each wrk run on the hot path (default 10)
#   -r  rounds; each round measures both upstreams, in alternating order (default 3)
#   -t  wrk threads (default 2)
#   -c  wrk connections (default 32)
#   -n  active tokens of the cold and the skewed runs (default 2000)
#   -z  requests of the skewed run (default 20000)
#   -e  the daemon's [cache] max_entries (default 1000)
#   --smoke  tiny counts (1 s runs, 1 round, 40 tokens): checks that every part runs end
#            to end and prints its lines; the figures mean nothing. CI runs this.
#   KEEP=1 in the environment keeps the work directory (configs, logs) for inspection.
#
# Needs nginx and wrk (bash tests/run.sh installs both) and runs as any user; as root the
# nginx workers run as nobody, as in production. The daemon is built in release mode and
# runs with the default verifier, syslog off, [cache] max_entries = MAX_ENTRIES and
# ttl_seconds = 3600 (so that only capacity, not age, evicts), behind ONE nginx worker.
# It prints:
#
#   hot path   wrk through nginx, alternating /api/ (auth_request to apitokend's http.sock,
#              a cached token) and /plain/ (auth_request to a trivial upstream: a second,
#              single-process nginx answering 204 on a Unix socket). For each run it reads
#              the utime+stime of the daemon's and the trivial upstream's process from
#              /proc/<pid>/stat before and after and divides by the requests: the CPU
#              each spends per auth subrequest. The summary gives the ratio of the medians
#              (apitokend / trivial; 1.0 means apitokend costs what the cheapest possible
#              auth_request upstream costs) and the req/s ratio. Once with a connection per
#              subrequest (the shipped example), once with upstream keep-alive (keepalive
#              32, HTTP/1.1). On a shared machine req/s is noisy; CPU per request is the
#              steadier measure.
#   cold path  TOKENS tokens are created, the daemon is restarted (empty cache), and each
#              token is used exactly once by CONNECTIONS concurrent wrk connections:
#              first-use verifications per second, and how many were answered 2xx, 500
#              (overload or failure) or otherwise.
#   skewed     REQUESTS requests over the same tokens with Zipf-like popularity (s = 1:
#              the k-th token is asked for in proportion to 1/k), right after the cold
#              run: the cache hit rate from /metrics, next to the share of requests for
#              the MAX_ENTRIES most popular tokens (what a perfect cache of that size
#              would hit once warm).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/benches/rig.sh"
source "$repo/benches/measure.sh"
tokens=2000
zipf_requests=20000
max_entries=1000
smoke=0
smoke_defaults=(duration=1 rounds=1 tokens=40 zipf_requests=400 max_entries=20)
options 'd=duration r=rounds t=threads c=connections n=tokens z=zipf_requests e=max_entries' \
    2,17 "$@"
source "$repo/benches/harness.sh" bench
lua=$repo/benches/lua

section "apitokend"
{
    daemon_config "$work/state" "$run"
    printf '\n[cache]\nmax_entries = %s\nttl_seconds = 3600\n' "$max_entries"
} >"$work/apitokend.toml"
daemon_pid=
start_daemon() {
    "$bin/apitokend" --config "$work/apitokend.toml" >>"$work/apitokend.log" 2>&1 &
    daemon_pid=$!
    pids+=("$daemon_pid")
    wait_for "apitokend" apitoken status
    [[ -S $run/http.sock ]] || { echo "no $run/http.sock" >&2; exit 1; }
}
start_daemon
hot_token=$(apitoken create --user bench --name bench-hot)
echo "daemon up (pid $daemon_pid), token ${hot_token:4:8} created"

section "nginx"
# The trivial upstream: a separate nginx in one process (master_process off), as
# apitokend is one process, so /proc/<pid>/stat holds all of its CPU time. umask 0 makes
# its socket connectable by the front nginx's workers.
{
    nginx_head trivial "master_process off;"
    cat <<EOF
    server {
        listen unix:$work/trivial.sock backlog=4096;
        location / { return 204; }
    }
}
EOF
} >"$work/trivial.conf"
(umask 0 && exec "$nginx_bin" -p "$work" -c "$work/trivial.conf" -e "$work/trivial-error.log") &
trivial_pid=$!
pids+=("$trivial_pid")
wait_for "trivial nginx" test -S "$work/trivial.sock"

port=$(free_port)
keepalive='proxy_http_version 1.1;
            proxy_set_header Connection "";'
# auth_request runs in the access phase, after rewrite-phase `return`, so the
# protected locations answer from try_files (content phase) instead.
{
    nginx_head front
    cat <<EOF

    upstream apitokend_keepalive {
        server unix:$run/http.sock;
        keepalive 32;
    }
    upstream trivial_keepalive {
        server unix:$work/trivial.sock;
        keepalive 32;
    }

    server {
        listen 127.0.0.1:$port backlog=4096;
        root $work/www;

        location /api/ { auth_request /_apitoken; try_files /none =204; }
        location /plain/ { auth_request /_trivial; try_files /none =204; }
        location /api-ka/ { auth_request /_apitoken_ka; try_files /none =204; }
        location /plain-ka/ { auth_request /_trivial_ka; try_files /none =204; }
        location = /done { return 202; }

        location = /_apitoken {
            $nginx_subrequest
            proxy_pass http://unix:$run/http.sock:/auth;
        }
        location = /_trivial {
            $nginx_subrequest
            proxy_pass http://unix:$work/trivial.sock:/;
        }
        location = /_apitoken_ka {
            $nginx_subrequest
            $keepalive
            proxy_pass http://apitokend_keepalive/auth;
        }
        location = /_trivial_ka {
            $nginx_subrequest
            $keepalive
            proxy_pass http://trivial_keepalive/;
        }
    }
}
EOF
} >"$work/front.conf"
nginx_start front
wait_for "front nginx" port_in_use "$port"
base=http://127.0.0.1:$port
echo "nginx on $base (1 worker); trivial upstream pid $trivial_pid"

status_of() {
    local path=$1 auth=${2:-}
    curl -s -o /dev/null -w '%{http_code}' ${auth:+-H "Authorization: $auth"} "$base$path"
}
expect_status() {
    local want=$1 got
    shift
    got=$(status_of "$@")
    if [[ $got != "$want" ]]; then
        echo "sanity check failed: GET $1 gave $got, expected $want" >&2
        exit 1
    fi
}
expect_status 401 /api/x
expect_status 401 /api-ka/x
expect_status 204 /api/x "Bearer $hot_token"
expect_status 204 /api-ka/x "Bearer $hot_token"
expect_status 204 /plain/x
expect_status 204 /plain-ka/x
echo "sanity checks passed (401 without a token, 204 with one)"

summary=()
hot_compare "connection per request" /api/x /plain/x
hot_compare "upstream keep-alive 32" /api-ka/x /plain-ka/x

cold_path
skewed_path

section "Summary"
echo "machine: $(nproc) CPUs, $(uname -r); nginx 1 worker; wrk -t$threads -c$connections -d${duration}s x $rounds rounds"
((smoke)) && echo "SMOKE RUN: tiny counts, the figures mean nothing"
printf '%-24s %9s %9s %7s   %10s %10s %7s\n' "hot path (medians)" "api us" "plain us" "CPU x" \
    "api req/s" "plain r/s" "req/s x"
printf '%s\n' "${summary[@]}"
printf '%s\n' "$cold_line" "$skewed_line"
