-- wrk script: POST a pool of webhook bodies, one per line of BENCH_BODIES,
-- each thread starting at its own place in the pool, with the sender's
-- Authorization from BENCH_AUTHORIZATION. BENCH_DELAY_MS, when set, makes every
-- connection pause between requests, so that the offered rate stays below the
-- server's maximum. BENCH_OFFSET moves the start along the pool, so that runs
-- on one archive post bodies it has not stored yet. done() prints one JSON
-- line that bench/load.py reads.

local threads = 0

function setup(thread)
  thread:set("position", threads)
  threads = threads + 1
end

function init(args)
  bodies = {}
  for line in io.lines(os.getenv("BENCH_BODIES")) do
    bodies[#bodies + 1] = line
  end
  position = (tonumber(os.getenv("BENCH_OFFSET") or "0") + position * 7919) % #bodies
  pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = os.getenv("BENCH_AUTHORIZATION")
end

function request()
  position = position % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[position])
end

function delay()
  return pause
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"socket_errors": %d, "bad_status": %d}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    errors.connect + errors.read + errors.write + errors.timeout, errors.status))
end
