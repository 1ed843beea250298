-- once.lua: every token of a file is sent exactly once, as `Authorization: Bearer`, on
-- wrk's connections; each thread takes every nth line and stops as soon as its last token
-- is answered. Arguments: TOKEN_FILE THREADS PATH DONE_PATH MARKER (see common.lua).
-- Requests sent after a thread's share ran out go to DONE_PATH (answered 202 by nginx
-- itself, not counted). done() prints `once <answered> <2xx> <500> <other> <seconds>`.
local ffi = require("ffi")
ffi.cdef[[
struct once_timespec { long tv_sec; long tv_nsec; };
int clock_gettime(int clk_id, struct once_timespec *tp);
]]
local ts = ffi.new("struct once_timespec")
local function now_s()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

function init(args)
    marker = args[5]
    tokens = {}
    nexti = 1
    answered, ok, e500, other = 0, 0, 0, 0
    path, done_path = args[3], args[4]
    local nthreads = tonumber(args[2])
    local i = 0
    for line in io.lines(args[1]) do
        if i % nthreads == id then
            table.insert(tokens, line)
        end
        i = i + 1
    end
    t_first = now_s()
    t_last = t_first
    -- wrk calls the first thread's request() once before starting, only to check it, and
    -- never sends that request: it must not use up a token.
    checked = id ~= 0
end

function request()
    if not checked then
        checked = true
        return wrk.format("GET", done_path)
    end
    if nexti > #tokens then
        return wrk.format("GET", done_path)
    end
    local token = tokens[nexti]
    nexti = nexti + 1
    return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end

function response(status, headers, body)
    if status == 202 then
        return
    end
    answered = answered + 1
    if status >= 200 and status < 300 then
        ok = ok + 1
    elseif status == 500 then
        e500 = e500 + 1
    else
        other = other + 1
    end
    t_last = now_s()
    if answered >= #tokens then
        finish()
    end
end

function done(summary, latency, requests)
    local first, last = math.huge, 0
    for _, t in ipairs(threads) do
        first = math.min(first, t:get("t_first"))
        last = math.max(last, t:get("t_last"))
    end
    io.write(string.format("once %d %d %d %d %.3f\n", total("answered"), total("ok"),
        total("e500"), total("other"), last - first))
end
