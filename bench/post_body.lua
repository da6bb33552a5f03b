-- wrk script for bench/throughput.py: POST the body in the file named by the first script
-- argument to every request, and print the p50/p95/p99 latency and the error counts at the end.
function init(args)
   local file = assert(io.open(args[1], "rb"))
   wrk.method = "POST"
   wrk.body = file:read("*a")
   wrk.headers["Content-Type"] = "application/json"
   file:close()
end

function done(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format("bench requests %d\n", summary.requests))
   io.write(string.format("bench duration_us %d\n", summary.duration))
   io.write(string.format("bench p50_us %d\n", latency:percentile(50)))
   io.write(string.format("bench p95_us %d\n", latency:percentile(95)))
   io.write(string.format("bench p99_us %d\n", latency:percentile(99)))
   io.write(string.format("bench errors %d\n",
      errors.connect + errors.read + errors.write + errors.status + errors.timeout))
end
