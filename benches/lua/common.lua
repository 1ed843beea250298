-- common.lua: what once.lua and zipf.lua share, loaded by them from their own directory.
-- Every thread gets a number (`id`) and is listed in `threads` for done(); total() sums a
-- counter over the threads; finish() ends a thread whose work is done.
thread_count = 0
threads = {}

function setup(thread)
    thread:set("id", thread_count)
    table.insert(threads, thread)
    thread_count = thread_count + 1
end

function total(name)
    local sum = 0
    for _, t in ipairs(threads) do
        sum = sum + t:get(name)
    end
    return sum
end

-- A thread that is through writes MARKER.<id> (`marker` is set by the script's init()):
-- wrk itself only stops after its -d, so the caller waits for every thread's marker and
-- then interrupts wrk (SIGINT), which still prints the report and runs done().
local finished = false
function finish()
    if finished then return end
    finished = true
    local f = io.open(marker .. "." .. id, "w")
    if f then f:close() end
    wrk.thread:stop()
end
