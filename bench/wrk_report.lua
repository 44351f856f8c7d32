-- bench/wrk_report.lua: wrk's summary as one JSON line for bench/bench.py
-- (wrk -s bench/wrk_report.lua).  Latencies in microseconds.
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
        '"p50_us":%d,"p99_us":%d,"max_us":%d,"connect_errors":%d,' ..
        '"read_errors":%d,"write_errors":%d,"status_errors":%d,' ..
        '"timeouts":%d}\n',
        summary.requests, summary.duration, summary.bytes,
        latency:percentile(50), latency:percentile(99), latency.max,
        e.connect, e.read, e.write, e.status, e.timeout))
end
