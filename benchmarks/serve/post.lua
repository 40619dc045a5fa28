-- wrk script: every request POSTs a form-encoded Webmention from a source never sent before.
--
-- Arguments (after wrk's `--`): path, source base URLs (comma-separated), target base URL,
-- number of target pages, run tag, POST cap per thread (0: none), stop sending after this
-- many seconds (0: never), pause in ms before each next request on a kept-alive connection
-- (0: none; a lower load), a path to GET once done (answered 200, stores nothing).
-- The source /s/<target id>/<unique> of the farm links to <target base>/post/<target id>/.
--
-- Exact counts: once a thread reaches its cap or its deadline it only GETs the idle path
-- (wrk cannot leave a connection idle: it sends again at once on a new connection when the
-- server closes one), and when every POST it sent has its answer it stops; wrk ends when all
-- its threads have (each leaves a file WRK_RESULTS.done<id>, on which load.py interrupts
-- wrk, which otherwise waits out its duration). A POST whose connection broke (the
-- server killed) is never answered: the thread then stops 2 s after its deadline. The
-- results go to the file named by WRK_RESULTS.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

-- Seconds since boot to the hundredth (os.time() counts whole seconds).
function uptime()
  local file = io.open("/proc/uptime")
  local seconds = file:read("*n")
  file:close()
  return seconds
end

function init(args)
  path = args[1]
  sources = {}
  for base in string.gmatch(args[2], "[^,]+") do
    table.insert(sources, base)
  end
  target_base = args[3]
  targets = tonumber(args[4])
  tag = args[5]
  cap = tonumber(args[6])
  stop_after = tonumber(args[7])
  pause = tonumber(args[8])
  idle = wrk.format("GET", args[9])
  started = uptime()
  done_at = nil
  -- wrk builds one request on the first thread to check the script before the run; that
  -- one is never sent.
  sent = id == 1 and -1 or 0
  answered = 0
  c201, c202, c400, c429, c5xx, cother = 0, 0, 0, 0, 0, 0
  headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
end

local function escape(text)
  return (string.gsub(text, "[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

local function finished()
  if done_at then
    return true
  end
  if (cap > 0 and sent >= cap) or (stop_after > 0 and uptime() - started >= stop_after) then
    done_at = uptime()
    return true
  end
  return false
end

function delay()
  return pause
end

function request()
  if finished() then
    return idle
  end
  sent = sent + 1
  local n = sent * 64 + id
  local target_id = n % targets
  local source = sources[(n % #sources) + 1] .. "/s/" .. target_id .. "/" .. tag .. "-" .. id
    .. "-" .. sent
  local target = target_base .. "/post/" .. target_id .. "/"
  local body = "source=" .. escape(source) .. "&target=" .. escape(target)
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status ~= 200 then  -- a POST: neither receiver answers one with 200
    answered = answered + 1
    if status == 201 then c201 = c201 + 1
    elseif status == 202 then c202 = c202 + 1
    elseif status == 400 then c400 = c400 + 1
    elseif status == 429 then c429 = c429 + 1
    elseif status >= 500 then c5xx = c5xx + 1
    else cother = cother + 1 end
  end
  if done_at and (answered >= sent or uptime() - done_at > 2) then
    local mark = io.open(os.getenv("WRK_RESULTS") .. ".done" .. id, "w")
    mark:close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local totals = {answered = 0, c201 = 0, c202 = 0, c400 = 0, c429 = 0, c5xx = 0,
                  cother = 0}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + thread:get(name)
    end
  end
  local out = io.open(os.getenv("WRK_RESULTS"), "w")
  for name, value in pairs(totals) do
    out:write(name, " ", value, "\n")
  end
  local errors = summary.errors
  out:write("duration_us ", summary.duration, "\n")
  out:write("requests ", summary.requests, "\n")
  out:write("socket_errors ", errors.connect + errors.read + errors.write + errors.timeout, "\n")
  out:write("timeouts ", errors.timeout, "\n")
  out:write("p50_us ", latency:percentile(50), "\n")
  out:write("p99_us ", latency:percentile(99), "\n")
  out:write("max_us ", latency.max, "\n")
  out:close()
end
