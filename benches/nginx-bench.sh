#!/usr/bin/env bash
# nginx-bench.sh: what apitokend costs nginx per request.
#
# Usage:
#   bash benches/nginx-bench.sh [-d SECONDS] [-r ROUNDS] [-t THREADS] [-c CONNECTIONS] [-C SECONDS]
#
#   -d  length of each wrk run on the hot path (default 10)
#   -r  rounds; each round measures both targets, in alternating order (default 3)
#   -t  wrk threads (default 2)
#   -c  wrk connections (default 32)
#   -C  length of the cold-path runs (default 5)
#   KEEP=1 in the environment keeps the work directory (configs, logs) for inspection.
#
# Needs nginx and wrk (bash tests/run.sh installs both) and runs as any user; as root the
# nginx workers run as nobody, as in production.
#
# What it measures, with the daemon built in release mode, default argon2 parameters and
# syslog disabled, behind ONE nginx worker:
#
#   hot path   /api/    auth_request to apitokend's http.sock with a cached token, 204
#              /plain/  auth_request to a trivial upstream (a second nginx that answers
#                       204 on a Unix socket), 204
#              wrk alternates the two; the ratio apitokend/trivial is what putting
#              apitokend in front costs compared with the cheapest possible auth_request.
#              Once with a connection per subrequest (the shipped example), once with
#              upstream keepalive (keepalive 32, HTTP/1.1).
#   cold path  first-use verifications per second: every request carries a token that
#              was never used before, so each one costs an argon2id verification;
#              and the latency of cached requests alone versus while such a burst of
#              first uses is being hashed.
set -euo pipefail

duration=10
rounds=3
threads=2
connections=32
cold_seconds=5
while getopts 'd:r:t:c:C:h' opt; do
    case $opt in
        d) duration=$OPTARG ;;
        r) rounds=$OPTARG ;;
        t) threads=$OPTARG ;;
        c) connections=$OPTARG ;;
        C) cold_seconds=$OPTARG ;;
        *) sed -n '2,13p' "$0"; exit 2 ;;
    esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/benches/harness.sh" bench

section "apitokend"
cat >"$work/apitokend.toml" <<EOF
state_dir = "$work/state"
runtime_dir = "$run"

[password]
backend = "none"

[syslog]
enabled = false
EOF
"$bin/apitokend" --config "$work/apitokend.toml" >"$work/apitokend.log" 2>&1 &
pids+=($!)
wait_for "apitokend" apitoken status
[[ -S $run/http.sock ]] || { echo "no $run/http.sock" >&2; exit 1; }
hot_token=$(apitoken create --user bench --name bench-hot)
echo "daemon up, token ${hot_token:4:8} created"

section "nginx"
# The trivial upstream: a separate nginx, as apitokend is a separate process.
# umask 0 makes its socket connectable by the front nginx's workers.
cat >"$work/trivial.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/trivial.pid;
error_log $work/trivial-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/trivial-tmp;
    proxy_temp_path $work/trivial-tmp;
    fastcgi_temp_path $work/trivial-tmp;
    uwsgi_temp_path $work/trivial-tmp;
    scgi_temp_path $work/trivial-tmp;
    server {
        listen unix:$work/trivial.sock backlog=4096;
        location / { return 204; }
    }
}
EOF
(umask 0 && exec "$nginx_bin" -p "$work" -c "$work/trivial.conf" -e "$work/trivial-error.log") &
pids+=($!)
wait_for "trivial nginx" test -S "$work/trivial.sock"

port_in_use() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((20000 + RANDOM % 20000))
while port_in_use "$port"; do port=$((20000 + RANDOM % 20000)); done

# Subrequest settings shared by every auth location, as in packaging/nginx/apitokend.conf.
subrequest='internal;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;'
keepalive='proxy_http_version 1.1;
            proxy_set_header Connection "";'
# auth_request runs in the access phase, after rewrite-phase `return`, so the
# protected locations answer from try_files (content phase) instead.
cat >"$work/front.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/front.pid;
error_log $work/front-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/front-tmp;
    proxy_temp_path $work/front-tmp;
    fastcgi_temp_path $work/front-tmp;
    uwsgi_temp_path $work/front-tmp;
    scgi_temp_path $work/front-tmp;

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

        location = /_apitoken {
            $subrequest
            proxy_pass http://unix:$run/http.sock:/auth;
        }
        location = /_trivial {
            $subrequest
            proxy_pass http://unix:$work/trivial.sock:/;
        }
        location = /_apitoken_ka {
            $subrequest
            $keepalive
            proxy_pass http://apitokend_keepalive/auth;
        }
        location = /_trivial_ka {
            $subrequest
            $keepalive
            proxy_pass http://trivial_keepalive/;
        }
    }
}
EOF
"$nginx_bin" -p "$work" -c "$work/front.conf" -e "$work/front-error.log" &
pids+=($!)
wait_for "front nginx" port_in_use "$port"
base=http://127.0.0.1:$port
echo "nginx on $base (1 worker)"

# Status code of one GET through the front nginx, with an optional Authorization value.
status_of() {
    local path=$1 auth=${2:-} line
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    if [[ -n $auth ]]; then
        printf 'GET %s HTTP/1.1\r\nHost: bench\r\nAuthorization: %s\r\nConnection: close\r\n\r\n' "$path" "$auth" >&3
    else
        printf 'GET %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n' "$path" >&3
    fi
    IFS= read -r line <&3
    exec 3<&-
    line=${line%$'\r'}
    echo "${line#* }" | cut -d' ' -f1
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

# Runs wrk and prints its report; fails loudly when any response was not 2xx.
wrk_run() {
    local out
    out=$(wrk "$@")
    printf '%s\n' "$out" >>"$work/wrk.log"
    if grep -q 'Non-2xx or 3xx responses' <<<"$out"; then
        printf '%s\n' "$out" >&2
        echo "wrk saw error responses; see above" >&2
        exit 1
    fi
    printf '%s\n' "$out"
}
rps_of() { awk '/^Requests\/sec:/ { print $2 }'; }
# Median of the numbers on stdin: one disturbed round does not move it.
median() { sort -g | awk '{ v[n++] = $1 } END { if (!n) print 0; else if (n % 2) printf "%.0f", v[(n - 1) / 2]; else printf "%.0f", (v[n / 2 - 1] + v[n / 2]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
# One latency percentile (50%, 75%, 90%, 99%) from wrk --latency output.
pct_of() { awk -v p="$1" '$1 == p { print $2 }'; }

hot_compare() {
    local label=$1 api_path=$2 plain_path=$3 api_all=() plain_all=() round r
    section "Hot path: $label (-t$threads -c$connections -d${duration}s, $rounds rounds)"
    # Warm-up: fills apitokend's cache and nginx's keepalive pools.
    wrk_run -t"$threads" -c"$connections" -d2s -H "Authorization: Bearer $hot_token" "$base$api_path" >/dev/null
    wrk_run -t"$threads" -c"$connections" -d2s -H "Authorization: Bearer $hot_token" "$base$plain_path" >/dev/null
    for ((round = 1; round <= rounds; round++)); do
        # Alternate the order so slow drift (thermal, other load) hits both sides alike.
        local order=(api plain)
        ((round % 2 == 0)) && order=(plain api)
        for side in "${order[@]}"; do
            if [[ $side == api ]]; then
                r=$(wrk_run -t"$threads" -c"$connections" -d"${duration}s" \
                    -H "Authorization: Bearer $hot_token" "$base$api_path" | rps_of)
                api_all+=("$r")
            else
                r=$(wrk_run -t"$threads" -c"$connections" -d"${duration}s" \
                    -H "Authorization: Bearer $hot_token" "$base$plain_path" | rps_of)
                plain_all+=("$r")
            fi
            printf '  round %d  %-9s %10s req/s\n' "$round" "$side" "$r"
        done
    done
    local api_median plain_median
    api_median=$(printf '%s\n' "${api_all[@]}" | median)
    plain_median=$(printf '%s\n' "${plain_all[@]}" | median)
    printf '  median    apitokend %10s req/s   trivial %10s req/s   ratio %s\n' \
        "$api_median" "$plain_median" "$(ratio "$api_median" "$plain_median")"
    summary+=("$(printf '%-24s %12s %12s %8s' "$label" "$api_median" "$plain_median" "$(ratio "$api_median" "$plain_median")")")
}

summary=()
hot_compare "no keepalive" /api/x /plain/x
hot_compare "upstream keepalive 32" /api-ka/x /plain-ka/x

section "Cold path: token pools"
# Size each pool so that no token is used twice: twice the expected verification rate
# (CPUs / time of one creation, which hashes once like a first use) times the run length.
t0=$(date +%s%N)
for i in 1 2 3 4 5 6 7 8; do apitoken create --user bench-probe --name "probe-$i" >/dev/null; done
per_create_ms=$((($(date +%s%N) - t0) / 8000000))
cpus=$(nproc)
pool=$(awk -v c="$cpus" -v ms="$per_create_ms" -v s="$cold_seconds" \
    'BEGIN { n = 2 * c * 1000 / (ms > 0 ? ms : 1) * s; if (n < 500) n = 500; if (n > 20000) n = 20000; printf "%d", n }')
pool=${COLD_POOL:-$pool}
echo "one creation takes ${per_create_ms} ms; $cpus CPUs; $pool tokens per pool"
make_pool() {
    local file=$1 tag=$2
    : >"$file"
    seq 1 "$pool" | xargs -P "$cpus" -I{} \
        "$bin/apitoken" --socket "$admin_sock" create --user "bench-$tag" --name "$tag-{}" >>"$file"
    local got
    got=$(grep -c '^atk_' "$file")
    [[ $got == "$pool" ]] || { echo "created $got of $pool tokens" >&2; exit 1; }
}
t0=$(date +%s%N)
make_pool "$work/cold.tokens" cold
make_pool "$work/burst.tokens" burst
echo "created $((2 * pool)) tokens in $((($(date +%s%N) - t0) / 1000000)) ms"

# Every request takes the next unused token of this thread's share of the pool.
cat >"$work/cold.lua" <<'EOF'
local thread_count = 0
local threads = {}

function setup(thread)
    thread:set("id", thread_count)
    table.insert(threads, thread)
    thread_count = thread_count + 1
end

function init(args)
    tokens = {}
    nexti = 1
    wraps = 0
    local nthreads = tonumber(args[2])
    local i = 0
    for line in io.lines(args[1]) do
        if i % nthreads == id then
            table.insert(tokens, line)
        end
        i = i + 1
    end
end

function request()
    if nexti > #tokens then
        nexti = 1
        wraps = wraps + 1
    end
    local token = tokens[nexti]
    nexti = nexti + 1
    return wrk.format("GET", "/api/cold", { ["Authorization"] = "Bearer " .. token })
end

function done(summary, latency, requests)
    local reused = 0
    for _, thread in ipairs(threads) do
        reused = reused + thread:get("wraps")
    end
    io.write(string.format("pool_wraps %d\n", reused))
end
EOF

cold_run() {
    local file=$1
    wrk_run -t"$threads" -c16 -d"${cold_seconds}s" --timeout 30s --latency -s "$work/cold.lua" \
        "$base/api/cold" -- "$file" "$threads"
}

section "Cold path: first-use verifications (-t$threads -c16 -d${cold_seconds}s)"
cold_out=$(cold_run "$work/cold.tokens")
printf '%s\n' "$cold_out"
cold_rps=$(rps_of <<<"$cold_out")
cold_wraps=$(awk '/^pool_wraps/ { print $2 }' <<<"$cold_out")
cold_note=""
if [[ ${cold_wraps:-0} != 0 ]]; then
    cold_note=" (pool exhausted: tokens were reused, so this overstates; raise COLD_POOL)"
fi
echo "first-use verifications: $cold_rps per second$cold_note"

# On some machines (seen on a loaded 2-CPU VM, even against a bare `return 204`) wrk's
# latency report contradicts its own throughput: by Little's law, 8 connections at
# R requests/s have a mean latency of 8/R, and a reported mean far above that is
# impossible. Such a report is flagged, and the summary also gives the mean from
# Little's law, which rests only on the request count.
latency_consistent() {
    awk -v c="$1" '
        $1 == "Latency" && !a { v = $2; a = v + 0; if (v ~ /us$/) a /= 1e6; else if (v ~ /ms$/) a /= 1e3 }
        / requests in / { n = $1; d = $4; sub(/s,?$/, "", d) }
        END { exit !(n > 0 && a * n <= 1.2 * c * d) }'
}
littles_mean() { awk -v r="$(rps_of)" 'BEGIN { if (r > 0) printf "%.2fms", 8 / r * 1000; else print "n/a" }'; }
latency_note=""

section "Cold path: cached latency alone (-t1 -c8 -d${cold_seconds}s)"
alone=$(wrk_run -t1 -c8 -d"${cold_seconds}s" --latency -H "Authorization: Bearer $hot_token" "$base/api/x")
printf '%s\n' "$alone"
latency_consistent 8 <<<"$alone" || latency_note=" [wrk percentiles contradict its throughput; trust the means]"

section "Cold path: cached latency during a first-use burst"
cold_run "$work/burst.tokens" >"$work/burst.out" &
burst_pid=$!
during=$(wrk_run -t1 -c8 -d"${cold_seconds}s" --latency -H "Authorization: Bearer $hot_token" "$base/api/x")
wait "$burst_pid"
printf '%s\n' "$during"
latency_consistent 8 <<<"$during" || latency_note=" [wrk percentiles contradict its throughput; trust the means]"
burst_rps=$(rps_of <"$work/burst.out")
echo "burst alongside: $burst_rps first uses per second"

section "Summary"
echo "machine: $cpus CPUs, $(uname -r); nginx 1 worker; wrk -t$threads -c$connections -d${duration}s x $rounds rounds"
printf '%-24s %12s %12s %8s\n' "hot path (median req/s)" "apitokend" "trivial" "ratio"
printf '%s\n' "${summary[@]}"
echo
echo "first-use verifications (default argon2id): $cold_rps per second$cold_note"
printf 'cached latency, alone:        p50 %s  p90 %s  p99 %s  mean %s  (%s req/s)\n' \
    "$(pct_of 50% <<<"$alone")" "$(pct_of 90% <<<"$alone")" "$(pct_of 99% <<<"$alone")" \
    "$(littles_mean <<<"$alone")" "$(rps_of <<<"$alone")"
printf 'cached latency, during burst: p50 %s  p90 %s  p99 %s  mean %s  (%s req/s; burst %s first uses/s)\n' \
    "$(pct_of 50% <<<"$during")" "$(pct_of 90% <<<"$during")" "$(pct_of 99% <<<"$during")" \
    "$(littles_mean <<<"$during")" "$(rps_of <<<"$during")" "$burst_rps"
if [[ -n $latency_note ]]; then
    echo "note:${latency_note}"
fi
