-- Load for `python -m bench`: POST a random valid token per request, then print the summary
-- as one JSON line for bench/load.py to read.
--   wrk -s bench/wrk.lua URL -- TOKEN_FILE [AUTHORIZATION]

local tokens = {}
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
  if args[2] and args[2] ~= "" then
    headers["Authorization"] = args[2]
  end
  -- Each thread its own sequence of tokens.
  math.randomseed(os.time() * 1000 + thread_id)
end

function request()
  return wrk.format("POST", nil, headers, "token=" .. tokens[math.random(#tokens)])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout
  ))
end
