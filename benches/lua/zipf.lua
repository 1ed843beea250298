-- zipf.lua: tokens drawn with a Zipf-like popularity (the k-th line of the file is asked
-- for in proportion to 1/k^S), as `Authorization: Bearer`; each thread stops after its
-- share of COUNT requests is answered. Arguments: TOKEN_FILE THREADS COUNT S PATH MARKER
-- (see common.lua).
-- done() prints `zipf <answered> <2xx> <other> <top-half share of the weight>`.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

function init(args)
    marker = args[6]
    tokens = {}
    for line in io.lines(args[1]) do
        table.insert(tokens, line)
    end
    local nthreads = tonumber(args[2])
    quota = math.floor(tonumber(args[3]) / nthreads)
    if id < tonumber(args[3]) % nthreads then
        quota = quota + 1
    end
    local s = tonumber(args[4])
    path = args[5]
    cdf = {}
    local total = 0
    for k = 1, #tokens do
        total = total + 1 / k ^ s
        cdf[k] = total
    end
    local half = 0
    for k = 1, math.floor(#tokens / 2) do
        half = half + 1 / k ^ s
    end
    top_half = half / total
    for k = 1, #tokens do
        cdf[k] = cdf[k] / total
    end
    math.randomseed(os.time() * 1000 + id)
    answered, ok, other = 0, 0, 0
end

local function pick()
    local u = math.random()
    local lo, hi = 1, #cdf
    while lo < hi do
        local mid = math.floor((lo + hi) / 2)
        if cdf[mid] < u then lo = mid + 1 else hi = mid end
    end
    return tokens[lo]
end

function request()
    return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. pick() })
end

function response(status, headers, body)
    answered = answered + 1
    if status >= 200 and status < 300 then ok = ok + 1 else other = other + 1 end
    if answered >= quota then
        finish()
    end
end

function done(summary, latency, requests)
    io.write(string.format("zipf %d %d %d %.4f\n", total("answered"), total("ok"),
        total("other"), threads[1]:get("top_half")))
end
