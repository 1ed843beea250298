#!/usr/bin/env bash
# flood.sh: does a flood of bad credentials slow down valid users?
#
# Usage:
#   bash tests/flood.sh [-d SECONDS] [-r ROUNDS] [-R RATE] [-c CONNECTIONS] [-t THREADS]
#                       [-m MIN_RATIO] [-M MAX_RSS_MIB]
#
#   -d  length of each measurement (default 10)
#   -r  rounds; each round measures every flood against a fresh baseline (default 2)
#   -R  requests per second of each flood (default 200)
#   -c  wrk connections of the valid load (default 32)
#   -t  wrk threads of the valid load (default 2)
#   -m  lowest acceptable ratio of valid throughput under a flood to the baseline
#       (default 0.7); the script exits 1 when a flood pushes it lower
#   -M  most resident memory the daemon may reach, in MiB (default 200); exits 1 above
#   KEEP=1 in the environment keeps the work directory (configs, logs).
#
# What it does, with the daemon built in release mode, production argon2 parameters,
# syslog off and lockout off (`apitoken settings set lockout-threshold 0`, so the flood
# cannot simply lock the attacked user out and make the test trivial), behind real nginx
# with ONE worker:
#
#   baseline  wrk alone: cached valid requests (Bearer) through nginx auth_request.
#   flood a   the same, while a second load generator sends 200 requests/s of wrong
#             secrets (valid checksums) for ONE known token id;
#   flood b   ... of random tokens with valid checksums (ids that do not exist);
#   flood c   ... of garbage Authorization headers (random bytes, schemes, lengths).
#
# The floods are driven by a second wrk (wrk2 is not packaged in Debian) whose Lua script
# paces its 64 connections through wrk's delay() hook on one shared schedule of a request
# every 1000 / RATE ms, so the offered rate is RATE requests/s even while the daemon
# answers the flood slowly. The achieved rate is printed next to each result. Before each flood the baseline is
# measured again, so drift on a shared machine hits both sides alike.
#
# It prints valid throughput under each flood as a ratio of its baseline, the daemon's
# resident memory before and after each phase, and the argon2 work each flood caused
# (from /metrics). Needs nginx and wrk (bash tests/run.sh installs both).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/benches/rig.sh"
duration=10
rate=200
connections=32
threads=2
min_ratio=0.7
rounds=2
max_rss=200
options 'd=duration R=rate c=connections t=threads m=min_ratio r=rounds M=max_rss' 2,16 "$@"
source "$repo/benches/harness.sh" flood

section "apitokend"
daemon_config "$work/state" "$run" 'admin_group = "root"' >"$work/apitokend.toml"
"$bin/apitokend" --config "$work/apitokend.toml" >"$work/apitokend.log" 2>&1 &
pids+=($!)
daemon_pid=$!
wait_for "apitokend" apitoken status
apitoken settings set lockout-threshold 0 >/dev/null
valid_token=$(apitoken create --user flood-valid --name valid)
target_token=$(apitoken create --user flood-target --name target)
target_id=${target_token:4:8}
echo "daemon pid $daemon_pid; valid token ${valid_token:4:8}; attacked token id $target_id; lockout off"

section "nginx (1 worker)"
port=$(free_port)
nginx_front nginx "$port" api="$run/http.sock"
nginx_start nginx
wait_for "nginx" port_in_use "$port"
base=http://127.0.0.1:$port

code_of() {
    curl -s -o /dev/null -w '%{http_code}' "$@" "$base/api/x"
}
[[ $(code_of -H "Authorization: Bearer $valid_token") == 204 ]] || { echo "valid token not accepted" >&2; exit 1; }
[[ $(code_of) == 401 ]] || { echo "missing credentials not refused" >&2; exit 1; }
echo "nginx on $base; sanity checks passed"

# The flood generator: a wrk script paced with delay(). MODE is wrong, random or garbage.
cat >"$work/flood.lua" <<'EOF'
local bit = require("bit")
local band, bxor, rshift = bit.band, bit.bxor, bit.rshift
local B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
local crc_table = {}
for i = 0, 255 do
    local c = i
    for _ = 1, 8 do
        if band(c, 1) == 1 then c = bxor(rshift(c, 1), 0xEDB88320) else c = rshift(c, 1) end
    end
    crc_table[i] = c
end
local function crc32(s)
    local c = 0xFFFFFFFF
    for i = 1, #s do
        c = bxor(rshift(c, 8), crc_table[band(bxor(c, s:byte(i)), 0xFF)])
    end
    c = bxor(c, 0xFFFFFFFF)
    if c < 0 then c = c + 4294967296 end
    return c
end
local function base62(n)
    local out = {}
    for i = 6, 1, -1 do
        local d = n % 62
        out[i] = B62:sub(d + 1, d + 1)
        n = math.floor(n / 62)
    end
    return table.concat(out)
end
local function random_b62(n)
    local out = {}
    for i = 1, n do
        local d = math.random(0, 61)
        out[i] = B62:sub(d + 1, d + 1)
    end
    return table.concat(out)
end
local function token(id)
    local body = "atk_" .. id .. "_" .. random_b62(32)
    return body .. base62(crc32(body))
end
local function garbage()
    local kind = math.random(1, 5)
    local len = math.random(1, 2048)
    local chars = {}
    for i = 1, len do chars[i] = string.char(math.random(33, 126)) end
    local junk = table.concat(chars)
    if kind == 1 then return "Bearer " .. junk
    elseif kind == 2 then return "Basic " .. junk
    elseif kind == 3 then return junk
    elseif kind == 4 then return "Bearer atk_" .. random_b62(8) .. "_" .. random_b62(38)
    else return "Digest username=\"" .. junk .. "\"" end
end

-- Pacing: one schedule for the whole thread, one request every 1000 / RATE ms. Each
-- connection asks delay() how long to wait before its next request and gets the next
-- free slot, so the offered rate stays at RATE however slowly the daemon answers (as
-- long as some of the connections are idle), and a late generator never bursts.
local ffi = require("ffi")
ffi.cdef[[
struct flood_timespec { long tv_sec; long tv_nsec; };
int clock_gettime(int clk_id, struct flood_timespec *tp);
]]
local ts = ffi.new("struct flood_timespec")
local function now_ms()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local mode, target, period, conns
local next_free = 0
local sent = 0

function init(args)
    mode, target = args[1], args[2]
    period = 1000 / tonumber(args[3])
    conns = tonumber(args[4])
    math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function delay()
    local now = now_ms()
    local slot = math.max(next_free, now)
    next_free = slot + period
    return slot - now
end

function request()
    -- wrk sends each connection's first request at connect time, unpaced: keep those
    -- cheap (no credentials) so the flood proper never exceeds RATE.
    sent = sent + 1
    if sent <= conns then
        return wrk.format("GET", "/api/flood")
    end
    local auth
    if mode == "wrong" then auth = "Bearer " .. token(target)
    elseif mode == "random" then auth = "Bearer " .. token(random_b62(8))
    else auth = garbage() end
    return wrk.format("GET", "/api/flood", { ["Authorization"] = auth })
end
EOF
flood_conns=64

rss_of() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$daemon_pid/status"; }
hwm_of() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$daemon_pid/status"; }
metric() { curl -s --unix-socket "$run/http.sock" http://x/metrics | awk -v m="$1" '$1 == m { print $2 }'; }
rps_of() { awk '/^Requests\/sec:/ { print $2 }'; }
non2xx_of() { awk '/Non-2xx or 3xx responses:/ { print $5 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "0" }'; }

# Cached valid requests for $duration seconds; fails when any is refused.
valid_load() {
    local out
    out=$(wrk -t"$threads" -c"$connections" -d"${duration}s" -H "Authorization: Bearer $valid_token" "$base/api/valid")
    printf '%s\n' "$out" >>"$work/wrk.log"
    if grep -q 'Non-2xx or 3xx responses' <<<"$out"; then
        printf '%s\n' "$out" >&2
        echo "valid requests were refused under load" >&2
        exit 1
    fi
    rps_of <<<"$out"
}

# One flood run: starts the paced flood, measures the valid load while it runs, prints
# what the flood did; sets $under and appends to the flood's figures.
flood_run() {
    local flood=$1 argon_before skipped_before misses_before flood_pid
    argon_before=$(metric apitokend_argon2_verifications_total)
    skipped_before=$(metric apitokend_argon2_skipped_total)
    misses_before=$(metric apitokend_cache_misses_total)
    wrk -t1 -c"$flood_conns" -d"$((duration + 2))s" -s "$work/flood.lua" "$base/api/flood" \
        -- "$flood" "$target_id" "$rate" "$flood_conns" >"$work/flood-$flood.out" 2>&1 &
    flood_pid=$!
    sleep 1
    under=$(valid_load)
    wait "$flood_pid"
    local flood_rps flood_refused flood_total argon skipped misses
    flood_rps=$(rps_of <"$work/flood-$flood.out")
    flood_refused=$(non2xx_of <"$work/flood-$flood.out")
    flood_total=$(awk '/requests in/ { print $1 }' "$work/flood-$flood.out")
    argon=$(($(metric apitokend_argon2_verifications_total) - argon_before))
    skipped=$(($(metric apitokend_argon2_skipped_total) - skipped_before))
    misses=$(($(metric apitokend_cache_misses_total) - misses_before))
    echo "  flood '$flood': $flood_rps req/s achieved, $flood_total sent, ${flood_refused:-0} refused;" \
        "argon2 verifications $argon, skipped $skipped, cache misses $misses"
    if [[ ${flood_refused:-0} != "$flood_total" ]]; then
        echo "some flood requests were allowed: ${flood_refused:-0} of $flood_total refused" >&2
        failed=1
    fi
    flood_rates[$flood]+="$flood_rps "
    flood_argon[$flood]+="$argon "
}

declare -A base_sum under_sum flood_rates flood_argon rss_in rss_out
failed=0
rss_start=$(rss_of)
wrk -t1 -c8 -d2s -H "Authorization: Bearer $valid_token" "$base/api/valid" >/dev/null

for ((round = 1; round <= rounds; round++)); do
    for flood in wrong random garbage; do
        section "Round $round/$rounds, flood '$flood' at $rate req/s"
        [[ -n ${rss_in[$flood]:-} ]] || rss_in[$flood]=$(rss_of)
        # Alternate the order so slow drift on a shared machine hits both sides alike.
        if ((round % 2 == 1)); then
            alone=$(valid_load)
            flood_run "$flood"
        else
            flood_run "$flood"
            alone=$(valid_load)
        fi
        rss_out[$flood]=$(rss_of)
        echo "  valid alone $alone req/s, under the flood $under req/s: ratio $(ratio "$under" "$alone");" \
            "daemon RSS $(rss_of) MiB (peak $(hwm_of) MiB)"
        base_sum[$flood]=$(awk -v a="${base_sum[$flood]:-0}" -v b="$alone" 'BEGIN { print a + b }')
        under_sum[$flood]=$(awk -v a="${under_sum[$flood]:-0}" -v b="$under" 'BEGIN { print a + b }')
    done
done

section "Summary"
echo "machine: $(nproc) CPUs, $(uname -r); nginx 1 worker; valid load wrk -t$threads -c$connections -d${duration}s;"
echo "floods: wrk -t1 -c$flood_conns paced by delay() to $rate req/s; $rounds rounds; lockout off; production argon2"
printf '%-8s %10s %10s %7s %18s %14s %9s %9s\n' flood "alone/s" "under/s" ratio "flood/s" "argon2/run" "RSS0 MiB" "RSS1 MiB"
for flood in wrong random garbage; do
    mean_alone=$(awk -v s="${base_sum[$flood]}" -v n="$rounds" 'BEGIN { printf "%.0f", s / n }')
    mean_under=$(awk -v s="${under_sum[$flood]}" -v n="$rounds" 'BEGIN { printf "%.0f", s / n }')
    r=$(ratio "$mean_under" "$mean_alone")
    printf '%-8s %10s %10s %7s %18s %14s %9s %9s\n' "$flood" "$mean_alone" "$mean_under" "$r" \
        "${flood_rates[$flood]% }" "${flood_argon[$flood]% }" "${rss_in[$flood]}" "${rss_out[$flood]}"
    if awk -v r="$r" -v m="$min_ratio" 'BEGIN { exit !(r < m) }'; then
        echo "flood '$flood': valid throughput ratio $r is below $min_ratio" >&2
        failed=1
    fi
done
peak=$(hwm_of)
echo "daemon RSS: $rss_start MiB at start, $(rss_of) MiB at the end, peak $peak MiB"
if awk -v p="$peak" -v m="$max_rss" 'BEGIN { exit !(p > m) }'; then
    echo "the daemon's resident memory peaked at $peak MiB, above $max_rss MiB" >&2
    failed=1
fi
if ((failed)); then
    echo "FAILED: see above" >&2
    exit 1
fi
echo "every flood kept valid throughput at or above $min_ratio of its baseline and memory under $max_rss MiB"
