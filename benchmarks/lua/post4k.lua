-- POST /echo with a 4 KiB body (wrk -s benchmarks/lua/post4k.lua ...)
wrk.method = "POST"
wrk.body = string.rep("a", 4096)
wrk.headers["Content-Type"] = "application/octet-stream"
