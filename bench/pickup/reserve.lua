-- wrk: POST /v1/reservations with a fresh order_ref each time, spread over the shops.
local f = io.open(os.getenv("WORK") .. "/merchant.txt")
local merchant = f:read("*l")
f:close()
local shops = tonumber(os.getenv("SHOPS") or "200")
local counter, threads = 0, {}
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  errors = 0
  n = 0
  prefix = os.getenv("RUN") .. "-" .. id .. "-"
end
function request()
  n = n + 1
  local body = '{"pickup_point_id":' .. ((n * 7919 + id) % shops + 1) .. ',"order_ref":"' .. prefix .. n .. '"}'
  return wrk.format("POST", "/v1/reservations",
    { ["authorization"] = "Bearer " .. merchant, ["content-type"] = "application/json" }, body)
end
function response(status, headers, body)
  if status ~= 201 then errors = errors + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("errors") end
  io.write(string.format("non-201 answers: %d\n", bad))
end
