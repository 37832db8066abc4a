-- plain16: GET <url's path> pipelined 16 deep (wrk -s benchmarks/lua/pipeline16.lua URL [-- DEPTH]).
-- Each write carries DEPTH (default 16) back-to-back requests; wrk counts the requests it finds in
-- the string request() returns, waits for that many responses before the next write, and counts
-- every response in Requests/sec. Its latency figures time a whole batch.
local batch

function init(args)
  local depth = tonumber(args[1]) or 16
  local one = wrk.format("GET", wrk.path)
  batch = string.rep(one, depth)
end

function request()
  return batch
end
