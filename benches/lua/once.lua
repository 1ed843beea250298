-- once.lua: every token of a file is sent exactly once, as `Authorization: Bearer`, on
-- wrk's connections; each thread takes every nth line and stops as soon as its last token
-- is answered. Arguments: TOKEN_FILE THREADS PATH DONE_PATH MARKER (see finish()).
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

local thread_count = 0
local threads = {}

function setup(thread)
    thread:set("id", thread_count)
    table.insert(threads, thread)
    thread_count = thread_count + 1
end


-- A thread that is through writes MARKER.<id>: wrk itself only stops after its -d, so the
-- caller waits for every thread's marker and then interrupts wrk (SIGINT), which still
-- prints the report and runs done().
local finished = false
function finish()
    if finished then return end
    finished = true
    local f = io.open(marker .. "." .. id, "w")
    if f then f:close() end
    wrk.thread:stop()
end

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
    local a, o, e, x = 0, 0, 0, 0
    local first, last = math.huge, 0
    for _, t in ipairs(threads) do
        a = a + t:get("answered")
        o = o + t:get("ok")
        e = e + t:get("e500")
        x = x + t:get("other")
        first = math.min(first, t:get("t_first"))
        last = math.max(last, t:get("t_last"))
    end
    io.write(string.format("once %d %d %d %d %.3f\n", a, o, e, x, last - first))
end
