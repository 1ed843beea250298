# Measurements of benches/nginx-bench.sh (and of benches/store-bench.sh, which measures
# its hot path the same way), sourced before their option parsing: the hot path with
# /proc CPU accounting, the cold path after a restart, the skewed cache run. Its
# functions use base, bin, work, lua, daemon_pid, trivial_pid, hot_token, threads,
# connections, duration, rounds, tokens, zipf_requests, max_entries and start_daemon
# from the caller.
# shellcheck shell=bash

# The wrk runs of the hot path unless the options say otherwise: the same in both
# benchmarks, so that their figures compare.
duration=10
rounds=3
threads=2
connections=32

clk_tck=$(getconf CLK_TCK)

# utime + stime of a process (all its threads), in clock ticks. Field 2 (comm) of
# /proc/<pid>/stat has no spaces for apitokend and nginx, so fields 14 and 15 are exact.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

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
requests_of() { awk '/ requests in / { print $1 }'; }
# Median of the numbers on stdin: one disturbed round does not move it.
# `median 3`: with three decimals (two by default).
median() { sort -g | awk -v f="%.${1:-2}f" '{ v[n++] = $1 } END { if (!n) print 0; else if (n % 2) printf f, v[(n - 1) / 2]; else printf f, (v[n / 2 - 1] + v[n / 2]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
# Microseconds of CPU per request from a tick difference and a request count.
us_per() { awk -v t="$1" -v n="$2" -v hz="$clk_tck" 'BEGIN { if (n > 0) printf "%.2f", t / hz * 1e6 / n; else print 0 }'; }
metric() { curl -s --unix-socket "$run/http.sock" http://x/metrics | awk -v m="$1" '$1 == m { print $2 }'; }

# Runs a wrk script whose threads each stop after a fixed amount of work (benches/lua),
# then interrupts wrk, which otherwise waits for its whole -d; prints wrk's report.
# Usage: wrk_until_done MARKER wrk-arguments... (the script gets MARKER as its last argument)
wrk_until_done() {
    local marker=$1 pid deadline=$((SECONDS + 900))
    shift
    rm -f "$marker".*
    wrk -t"$threads" -d900s --timeout 60s "$@" "$marker" >"$marker.out" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null && (($(find "$work" -path "$marker.[0-9]*" | wc -l) < threads)); do
        ((SECONDS < deadline)) || break
        sleep 0.05
    done
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" || true
    cat "$marker.out" >>"$work/wrk.log"
    cat "$marker.out"
}

# One measured wrk run against PATH; prints "req/s  us-per-request-of-PID".
measured_run() {
    local path=$1 pid=$2 before after out
    before=$(cpu_ticks "$pid")
    out=$(wrk_run -t"$threads" -c"$connections" -d"${duration}s" \
        -H "Authorization: Bearer $hot_token" "$base$path")
    after=$(cpu_ticks "$pid")
    echo "$(rps_of <<<"$out") $(us_per $((after - before)) "$(requests_of <<<"$out")")"
}

hot_compare() {
    local label=$1 api_path=$2 plain_path=$3 round side r
    local api_rps=() plain_rps=() api_us=() plain_us=()
    section "Hot path: $label (-t$threads -c$connections -d${duration}s, $rounds rounds)"
    # Warm-up: fills apitokend's cache and nginx's keepalive pools.
    wrk_run -t"$threads" -c"$connections" -d1s -H "Authorization: Bearer $hot_token" "$base$api_path" >/dev/null
    wrk_run -t"$threads" -c"$connections" -d1s "$base$plain_path" >/dev/null
    for ((round = 1; round <= rounds; round++)); do
        # Alternate the order so slow drift (thermal, other load) hits both sides alike.
        local order=(api plain)
        ((round % 2 == 0)) && order=(plain api)
        for side in "${order[@]}"; do
            if [[ $side == api ]]; then
                read -r r us < <(measured_run "$api_path" "$daemon_pid")
                api_rps+=("$r") api_us+=("$us")
            else
                read -r r us < <(measured_run "$plain_path" "$trivial_pid")
                plain_rps+=("$r") plain_us+=("$us")
            fi
            printf '  round %d  %-9s %10s req/s %8s us CPU per request\n' "$round" "$side" "$r" "$us"
        done
    done
    local ar pr au pu
    ar=$(printf '%s\n' "${api_rps[@]}" | median)
    pr=$(printf '%s\n' "${plain_rps[@]}" | median)
    au=$(printf '%s\n' "${api_us[@]}" | median)
    pu=$(printf '%s\n' "${plain_us[@]}" | median)
    printf '  median    apitokend %s us, trivial %s us CPU per request: ratio %s; req/s ratio %s\n' \
        "$au" "$pu" "$(ratio "$au" "$pu")" "$(ratio "$ar" "$pr")"
    summary+=("$(printf '%-24s %9s %9s %7s   %10s %10s %7s' "$label" "$au" "$pu" \
        "$(ratio "$au" "$pu")" "$ar" "$pr" "$(ratio "$ar" "$pr")")")
}

cold_path() {
    section "Cold path: $tokens tokens, each used once after a restart (-t$threads -c$connections)"
    local t0 ms users=$((tokens < 50 ? tokens : 50))
    t0=$(date +%s%N)
    seq 1 "$tokens" | xargs -P "$(nproc)" -I{} sh -c \
        '"$1" --socket "$2" create --user "bench-$(($3 % $4))" --name "cold-$3"' _ \
        "$bin/apitoken" "$admin_sock" {} "$users" >"$work/cold.tokens"
    ms=$((($(date +%s%N) - t0) / 1000000))
    local got
    got=$(grep -c '^atk_' "$work/cold.tokens" || true)
    [[ $got == "$tokens" ]] || { echo "created $got of $tokens tokens" >&2; exit 1; }
    echo "created $tokens tokens for $users users in $ms ms"
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null || true
    start_daemon
    echo "daemon restarted (pid $daemon_pid): the cache is empty"
    local out answered ok e500 other secs
    out=$(wrk_until_done "$work/once" -c"$connections" -s "$lua/once.lua" \
        "$base/api/cold" -- "$work/cold.tokens" "$threads" /api/cold /done)
    read -r _ answered ok e500 other secs < <(grep '^once ' <<<"$out")
    local rate
    rate=$(awk -v n="$answered" -v s="$secs" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print 0 }')
    echo "  $answered first uses in $secs s: $rate per second; answered 2xx $ok, 500 $e500, other $other"
    cold_line=$(printf 'cold path: %s first-use verifications/s after a restart (%s tokens, %s concurrent): 200 %s, 500 %s, other %s' \
        "$rate" "$answered" "$connections" "$ok" "$e500" "$other")
}

skewed_path() {
    section "Skewed use: $zipf_requests requests over $tokens tokens, Zipf s=1, max_entries $max_entries"
    local hits0 misses0 hits misses out answered ok other
    hits0=$(metric apitokend_cache_hits_total)
    misses0=$(metric apitokend_cache_misses_total)
    out=$(wrk_until_done "$work/zipf" -c"$connections" -s "$lua/zipf.lua" \
        "$base/api/zipf" -- "$work/cold.tokens" "$threads" "$zipf_requests" 1 /api/zipf)
    read -r _ answered ok other _ < <(grep '^zipf ' <<<"$out")
    hits=$(($(metric apitokend_cache_hits_total) - hits0))
    misses=$(($(metric apitokend_cache_misses_total) - misses0))
    # The share of requests a perfect cache of max_entries entries would hit, once warm:
    # H(max_entries) / H(tokens), the harmonic numbers.
    local best rate
    best=$(awk -v m="$max_entries" -v n="$tokens" 'BEGIN { for (k = 1; k <= n; k++) { t += 1 / k; if (k <= m) h += 1 / k } printf "%.3f", h / t }')
    rate=$(ratio "$hits" "$((hits + misses))")
    echo "  $answered answered (2xx $ok, other $other); cache hits $hits, misses $misses: hit rate $rate"
    skewed_line=$(printf 'cache hit rate: %s (hits %s, misses %s) with max_entries %s, %s tokens, Zipf s=1; a perfect cache of that size: %s' \
        "$rate" "$hits" "$misses" "$max_entries" "$tokens" "$best")
}
