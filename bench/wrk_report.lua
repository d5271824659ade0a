-- wrk script for bench/http.py: prints one "WRK_JSON {...}" line when the run is done.
--
-- With WRK_PATHS_FILE set, requests go round-robin over the paths in that file (one per
-- line), so a paper page is measured over many papers rather than one cached row.
-- Counts non-2xx responses itself (wrk's own "status" errors only count 4xx and 5xx).
-- Latencies are in microseconds in wrk; the JSON gives milliseconds.

-- A line is a path (GET), or "METHOD PATH [TOKEN]" for writes; TOKEN is sent as
-- "Authorization: Bearer TOKEN" (the mixed load's authenticated upvotes).
-- With WRK_ACCEPT_ENCODING set (bench/http.py --accept-encoding), every request sends it.
local accept_encoding = os.getenv("WRK_ACCEPT_ENCODING") or ""
if accept_encoding ~= "" then wrk.headers["Accept-Encoding"] = accept_encoding end

local paths = {}
local paths_file = os.getenv("WRK_PATHS_FILE")
if paths_file and paths_file ~= "" then
  for line in io.lines(paths_file) do
    if #line > 0 then
      local method, path, token = line:match("^(%u+) (%S+) ?(%S*)$")
      if method then
        local headers = {}
        if token ~= "" then headers["Authorization"] = "Bearer " .. token end
        if accept_encoding ~= "" then headers["Accept-Encoding"] = accept_encoding end
        paths[#paths + 1] = {method = method, path = path, headers = headers}
      else
        local headers = {}
        if accept_encoding ~= "" then headers["Accept-Encoding"] = accept_encoding end
        paths[#paths + 1] = {method = "GET", path = line, headers = headers}
      end
    end
  end
end

local threads = {}

function setup(thread)
  thread:set("offset", #threads * 7919)
  threads[#threads + 1] = thread
end

function init(args)
  counter = offset or 0
  non2xx = 0
end

function request()
  if #paths == 0 then
    return wrk.format()
  end
  counter = counter + 1
  local item = paths[(counter % #paths) + 1]
  return wrk.format(item.method, item.path, item.headers)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

local function ms(us)
  return us / 1000.0
end

function done(summary, latency, requests)
  local non = 0
  for _, thread in ipairs(threads) do
    non = non + (thread:get("non2xx") or 0)
  end
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_s":%.3f,"bytes":%d,"requests_per_s":%.1f,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"non_2xx":%d,"latency_ms":{"mean":%.3f,"stdev":%.3f,"max":%.3f,'
      .. '"p50":%.3f,"p75":%.3f,"p90":%.3f,"p99":%.3f,"p999":%.3f},"paths":%d}\n',
    summary.requests, seconds, summary.bytes, summary.requests / seconds,
    e.connect, e.read, e.write, e.status, e.timeout,
    non, ms(latency.mean), ms(latency.stdev), ms(latency.max),
    ms(latency:percentile(50)), ms(latency:percentile(75)), ms(latency:percentile(90)),
    ms(latency:percentile(99)), ms(latency:percentile(99.9)), math.max(#paths, 1)
  ))
end
