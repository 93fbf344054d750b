-- POSTs a real-shaped Telegram text update with a unique update_id per request.
-- wrk.path and the secret header come from the command line; the first script argument is the id base.
local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  base = tonumber(args[1] or "0") + thread_index * 100000000
  counter = 0
  template = '{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,'
    .. '"first_name":"Bench","username":"bench_user","language_code":"en"},"chat":{"id":%d,'
    .. '"first_name":"Bench","username":"bench_user","type":"private"},"date":1763700000,'
    .. '"text":"Hello, how are you today? I would like to talk about my plans for the week."}}'
end

function request()
  counter = counter + 1
  local id = base + counter
  local user = 1000000 + (id % 5000)
  return wrk.format("POST", nil, nil, string.format(template, id, id, user, user))
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  local failed = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format('RESULT {"requests":%d,"seconds":%.3f,"p50_us":%d,"p99_us":%d,"non2xx":%d,"errors":%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99), non2xx, failed))
end
