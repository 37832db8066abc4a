-- orders: POST /orders with the 10-item JSON order of orders.json, next to this script
-- (wrk -s benchmarks/lua/orders.lua URL). run.py sends the same file for its answer check.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local f = assert(io.open(dir .. "orders.json", "rb"))
local body = f:read("*a"):gsub("%s+$", "")
f:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
