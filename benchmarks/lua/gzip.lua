-- gzip10k: GET <url's path> asking for a gzip-encoded answer (wrk -s benchmarks/lua/gzip.lua URL).
-- wrk does not decode it: run.py checks one decoded answer before each measurement.
wrk.headers["Accept-Encoding"] = "gzip"
