-- wrk script: GET /v1/pickup-points for the bench's query points, in a fixed cycle.
-- Usage: wrk -t2 -c32 -d20s -s bench/search/points.lua http://127.0.0.1:8089 -- /tmp/bench/points.csv
-- Each wrk thread starts at a different offset of the same list.

local threads = 0
function setup(thread)
  thread:set("offset", threads * 5003)
  threads = threads + 1
end

-- Requests are formatted once in init: wrk.format per request would spend the load
-- generator's CPU (which shares the 2 cores with the server) on string building.
local requests = {}
local i = 0

function init(args)
  local file = args[1] or "/tmp/bench/points.csv"
  for line in io.lines(file) do
    local lat, lon = line:match("^([^,]+),([^,]+)$")
    if lat then
      requests[#requests + 1] =
        wrk.format("GET", "/v1/pickup-points?lat=" .. lat .. "&lon=" .. lon .. "&limit=10")
    end
  end
  i = (offset or 0) % #requests
end

function request()
  i = i + 1
  if i > #requests then i = 1 end
  return requests[i]
end
