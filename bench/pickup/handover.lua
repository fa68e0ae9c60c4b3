-- wrk: POST /v1/partner/handovers, each waiting parcel's code once per thread slice.
local lines = {}
for line in io.lines(os.getenv("WORK") .. "/handovers.txt") do
  local tok, code = line:match("^(%S+) (%S+)$")
  if tok then lines[#lines + 1] = { tok, code } end
end
local counter, threads = 0, {}
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  errors = 0
  n = id
  step = tonumber(os.getenv("THREADS") or "2")
end
function request()
  local l = lines[(n % #lines) + 1]
  n = n + step
  return wrk.format("POST", "/v1/partner/handovers",
    { ["authorization"] = "Bearer " .. l[1], ["content-type"] = "application/json" },
    '{"code":"' .. l[2] .. '"}')
end
function response(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("errors") end
  io.write(string.format("non-200 answers: %d\n", bad))
end
