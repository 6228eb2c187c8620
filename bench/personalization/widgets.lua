-- wrk script for the website widget benchmark: requests at a fixed rate.
--
-- Each of the $BENCH_THREADS wrk threads sends its share of $BENCH_RATE requests a
-- second on a schedule kept by the clock (request i is due at start + i / rate),
-- whatever the answers take, so a slow answer shows in the latencies, not in a lower
-- rate. wrk times a request from the moment it writes it; a request whose connection
-- was still busy at its due time is written late, and that lateness would be missing
-- from the latencies, so it is counted ("late", "max_late_ms") for the benchmark to
-- report beside them. Paths come from $BENCH_PATHS (one a line); an answer counts as
-- good when it is a 200 naming both widgets ("hero" and "offer").

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } tidings_timespec;
int clock_gettime(int clk_id, tidings_timespec *tp);
]]
local clock = ffi.new("tidings_timespec")
local CLOCK_MONOTONIC = 1

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
  paths[#paths + 1] = line
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
  interval_ms = 1000 * tonumber(os.getenv("BENCH_THREADS")) / tonumber(os.getenv("BENCH_RATE"))
  due = nil
  good = 0
  bad = 0
  late = 0
  max_late = 0
end

function delay()
  local now = now_ms()
  if due == nil then
    due = now
  end
  due = due + interval_ms
  local wait = due - now
  if wait < 0 then
    if -wait > 1 then
      late = late + 1
    end
    if -wait > max_late then
      max_late = -wait
    end
    return 0
  end
  return wait
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

function response(status, headers, body)
  if status == 200 and body:find('"hero"', 1, true) and body:find('"offer"', 1, true) then
    good = good + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_good, total_bad, total_late, worst_late = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    total_good = total_good + thread:get("good")
    total_bad = total_bad + thread:get("bad")
    total_late = total_late + thread:get("late")
    worst_late = math.max(worst_late, thread:get("max_late"))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"duration_us": %d, "requests": %d, "good": %d, "bad": %d, '
      .. '"late": %d, "max_late_ms": %.1f, "errors": %d, '
      .. '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.duration, summary.requests, total_good, total_bad, total_late, worst_late,
    e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
