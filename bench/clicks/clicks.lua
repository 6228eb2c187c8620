-- wrk script for the click benchmark.
-- Each request follows a random tracked URL from $BENCH_PATHS (one path a line) with a
-- browser User-Agent (so clicks count as human); answers are counted by status and
-- printed as one JSON line at the end.

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
  redirects = 0
  others = 0
end

wrk.headers["User-Agent"] =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/150.0 Safari/537.36"

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

function response(status, headers, body)
  if status == 302 then
    redirects = redirects + 1
  else
    others = others + 1
  end
end

function done(summary, latency, requests)
  local total_redirects, total_others = 0, 0
  for _, thread in ipairs(threads) do
    total_redirects = total_redirects + thread:get("redirects")
    total_others = total_others + thread:get("others")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"duration_us": %d, "requests": %d, "redirects": %d, "other_status": %d, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.duration, summary.requests, total_redirects, total_others,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
