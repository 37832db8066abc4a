#!/usr/bin/env bash
# Build every compiled module with AddressSanitizer (+ UBSan) in a scratch copy
# of the tree and run the socket-level tests against it. CPython itself is not
# instrumented, so libasan is preloaded; leak detection is off because the
# interpreter's own arena allocations at exit are reported as leaks.
#
#   bash scripts/asan.sh [pytest args...]     (default: the protocol and streaming tests)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/catzilla-asan.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

git -C "$ROOT" ls-files -z --cached --others --exclude-standard | (cd "$ROOT" && xargs -0 cp --parents -t "$WORK")
cd "$WORK"
find catzilla -name '*.so' -delete -o -name '*.c' -delete
echo "asan: building in $WORK"
CATZILLA_SANITIZE=address,undefined "$PY" setup.py -q build_ext --inplace >build.log 2>&1 || { tail -40 build.log; exit 1; }

LIBASAN=$(gcc -print-file-name=libasan.so)
LIBUBSAN=$(gcc -print-file-name=libubsan.so)
[ -e "$LIBASAN" ] || { echo "asan: libasan not found (gcc's sanitizer runtime)"; exit 2; }

# (not the 10,000-stream test: it is about RSS, which ASan's shadow memory and quarantine inflate)
if [ $# -eq 0 ]; then
  set -- tests/test_parser.py tests/test_http.py tests/test_smuggling.py tests/test_limits.py \
         tests/test_streaming.py tests/test_files.py tests/test_app.py tests/test_request.py \
         tests/test_pipeline.py tests/test_datastructures.py tests/test_sse.py tests/test_testclient.py \
         tests/test_body_stream.py tests/test_websocket.py tests/test_broadcast.py tests/test_pmd.py \
         tests/test_middleware.py tests/test_compression.py tests/test_overload.py tests/test_blocking.py \
         tests/test_worker_pool.py tests/test_ws_dispatch.py tests/test_httpsyntax.py tests/test_body_info.py \
         tests/test_proxy.py tests/test_settings.py tests/test_errors.py tests/test_router.py tests/test_pattern.py \
         --deselect tests/test_overload.py::test_ten_thousand_paced_streams_complete_under_150_mib
fi
export LD_PRELOAD="$LIBASAN $LIBUBSAN"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:print_summary=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export PYTHONMALLOC=malloc          # let ASan see Python-object memory too
export PYTHONPATH="$WORK"
# Two processes (pytest-xdist), then the tests marked `serial` alone, as `make test`
# does (pytest exits 5 when the selection holds no serial test).
"$PY" -m pytest -q -p no:cacheprovider --timeout 300 -n "${TEST_JOBS:-2}" -m "not serial" "$@"
"$PY" -m pytest -q -p no:cacheprovider --timeout 300 -m serial "$@" || [ $? -eq 5 ]
