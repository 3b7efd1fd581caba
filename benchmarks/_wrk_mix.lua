-- wrk script of benchmarks/http_load.py: a manager asking for needs' matches, with a share of writes.
--
-- Run with as many threads as connections (-t N -c N): each thread then has one connection, whose request() and
-- response() calls alternate, so the time between them is that request's latency, kept per kind of request
-- (wrk's own latency figures mix the kinds). Configured by environment variables (set by http_load.py):
--   BENCH_TOKEN, BENCH_DEMAND_IDS, BENCH_ACHIEVEMENT_IDS, BENCH_WRITE_SHARE, BENCH_WORDS (as for _locustfile.py)
--   BENCH_WRK_OUT   each thread writes one line per response to BENCH_WRK_OUT.<thread number>,
--                   "<kind> <status> <latency ms>" (kind: get, patch or post); at the end wrk writes one line to
--                   BENCH_WRK_OUT itself, "summary <counter>=<value> ..." (its duration and socket errors).
-- Each thread writes its own file because copying large tables out of a thread with thread:get crashes wrk 4.1.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1e3 + tonumber(ts.tv_nsec) / 1e6
end

local function split(text, sep)
  local out = {}
  for item in string.gmatch(text or "", "[^" .. sep .. "]+") do out[#out + 1] = item end
  return out
end

local started = 0

function setup(thread)
  started = started + 1
  thread:set("thread_no", started)
end

function init(args)
  token = os.getenv("BENCH_TOKEN") or ""
  demands = split(os.getenv("BENCH_DEMAND_IDS"), ",")
  achievements = split(os.getenv("BENCH_ACHIEVEMENT_IDS"), ",")
  write_share = tonumber(os.getenv("BENCH_WRITE_SHARE") or "0.1")
  words = {}
  for line in io.lines(os.getenv("BENCH_WORDS")) do
    if #line > 0 then words[#words + 1] = line end
  end
  fields = { "新材料", "新能源", "生物医药", "高端装备", "信创", "集成电路" }
  regions = { "北京", "天津", "河北" }
  math.randomseed(thread_no * 7919 + os.time())
  out = assert(io.open(os.getenv("BENCH_WRK_OUT") .. "." .. thread_no, "w"))
  out:setvbuf("full")
  serial = 0
  kind, sent = nil, 0
end

local function pick(list) return list[math.random(#list)] end

local function sample_words(n)
  local out = {}
  for i = 1, n do out[i] = pick(words) end
  return out
end

function request()
  local headers = { ["Authorization"] = "Bearer " .. token }
  local method, path, body = "GET", nil, nil
  local r = math.random()
  if r < write_share / 2 then
    kind, method = "patch", "PATCH"
    path = "/api/v1/achievements/" .. pick(achievements)
    body = string.format('{"price_wan": %d, "trl": %d}', math.random(10, 500), math.random(3, 9))
  elseif r < write_share then
    kind, method = "post", "POST"
    serial = serial + 1
    local w = sample_words(40)
    path = "/api/v1/achievements"
    body = string.format(
      '{"title": "负载测试成果%d-%d：%s", "summary": "%s", "keywords": ["%s", "%s", "%s"], "field": "%s", '
        .. '"region": "%s", "trl": %d, "transfer_modes": ["许可"], "price_wan": %d}',
      thread_no, serial, table.concat(w, "", 1, 4), table.concat(w), w[1], w[2], w[3], pick(fields),
      pick(regions), math.random(4, 9), math.random(20, 300))
  else
    kind = "get"
    path = "/api/v1/demands/" .. pick(demands) .. "/matches"
  end
  if body then headers["Content-Type"] = "application/json" end
  sent = now_ms()
  return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
  out:write(kind, " ", status, " ", string.format("%.3f", now_ms() - sent), "\n")
end

-- The threads' files are flushed when wrk exits.
function done(summary, latency, requests)
  local f = assert(io.open(os.getenv("BENCH_WRK_OUT"), "w"))
  local e = summary.errors
  f:write(string.format("summary duration_us=%d requests=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.duration, summary.requests, e.connect, e.read, e.write, e.status, e.timeout))
  f:close()
end
