-- wrk script for bench/web/run.py: one endpoint per run, configured by the environment.
--
--   BENCH_PATHS    a file of request paths, one a line; each connection thread takes every
--                  N-th one (N = wrk threads), so no two threads send the same path
--   BENCH_ONCE     "1": each path is sent once (a decision link decides once); a thread
--                  that runs out sends nothing more and the run reports the pool as too small
--   BENCH_METHOD   GET or POST
--   BENCH_HEADERS  header lines ("Name: value"), separated by newlines
--   BENCH_BODY     the body of each request (POST)
--
-- done() prints one JSON line that run.py reads: counts, errors and latency percentiles.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local paths, position, once, method, body, headers
-- A global, so that done() can read it from each thread (thread:get).
exhausted = 0

function init(args)
  local total = tonumber(os.getenv("BENCH_THREADS"))
  local mine = {}
  local index = 0
  for line in io.lines(os.getenv("BENCH_PATHS")) do
    if line ~= "" then
      if index % total == thread_index then table.insert(mine, line) end
      index = index + 1
    end
  end
  paths = mine
  position = 0
  once = os.getenv("BENCH_ONCE") == "1"
  method = os.getenv("BENCH_METHOD") or "GET"
  body = os.getenv("BENCH_BODY")
  if body == "" then body = nil end
  headers = {}
  for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
    local name, value = string.match(line, "^([^:]+):%s*(.*)$")
    headers[name] = value
  end
end

function request()
  position = position + 1
  if position > #paths then
    if once then
      exhausted = 1
      wrk.thread:stop()
      -- Something must be sent while the thread stops: a path that was already used.
      position = #paths
    else
      position = 1
    end
  end
  return wrk.format(method, paths[position], headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local stopped = 0
  for _, thread in ipairs(threads) do
    stopped = stopped + (tonumber(thread:get("exhausted")) or 0)
  end
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, '
      .. '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "pool_exhausted_threads": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, stopped))
end
