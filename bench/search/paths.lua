-- wrk script: GET each path of a file (one a line), in a fixed cycle.
-- Usage: wrk -t1 -c32 -d20s -s bench/search/paths.lua http://127.0.0.1:8089 -- FILE
-- Each wrk thread starts at a different offset of the same list.

local threads = 0
function setup(thread)
  thread:set("offset", threads * 997)
  threads = threads + 1
end

-- Formatted once in init, so the load generator's share of the 2 cores is not spent on
-- building strings (as bench/search/points.lua).
local requests = {}
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then
      requests[#requests + 1] = wrk.format("GET", line)
    end
  end
  i = (offset or 0) % #requests
end

function request()
  i = i + 1
  if i > #requests then i = 1 end
  return requests[i]
end

-- wrk counts answers other than 2xx and 3xx; printed always, so a clean run says 0.
function done(summary, latency, requests)
  io.write(string.format("non-200 answers: %d\n", summary.errors.status))
end
