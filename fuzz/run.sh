#!/bin/sh
# Build the libFuzzer targets -- include/cz_http.c (fuzz_parser) and
# include/cz_ws.c (fuzz_ws: WebSocket frames, unmasking, UTF-8) -- and run
# them one after the other, splitting the time between them.
#
#   fuzz/run.sh [SECONDS]      (default 60 in all; run from anywhere)
#
# Needs clang with the libFuzzer/sanitizer runtime (Debian/Ubuntu: packages
# clang and libclang-rt-<version>-dev). The build and the growing corpus live
# in a temporary directory, seeded from fuzz/corpus/ and fuzz/corpus_ws/
# (which are not modified).
# Exits non-zero if the fuzzer finds a crash or a broken invariant; the
# temporary directory, with the crashing input, is then kept and printed.
set -eu

SECONDS_TO_RUN=${1:-60}
case $SECONDS_TO_RUN in
    ''|*[!0-9]*) echo "usage: fuzz/run.sh [SECONDS]" >&2; exit 2 ;;
esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "fuzz/run.sh: '$CC' not found. Install clang and its runtime, e.g." >&2
    echo "    apt-get install clang libclang-rt-dev   (or libclang-rt-14-dev for clang 14)" >&2
    exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/catzilla-fuzz.XXXXXX")
mkdir -p "$WORK/corpus" "$WORK/corpus_ws" "$WORK/artifacts"
HTTP_SECONDS=$(( (SECONDS_TO_RUN + 1) / 2 ))
WS_SECONDS=$(( SECONDS_TO_RUN / 2 ))

echo "fuzz/run.sh: building in $WORK"
if ! "$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$ROOT/include" \
        "$ROOT/fuzz/fuzz_parser.c" "$ROOT/fuzz/cz_http_scalar.c" "$ROOT/include/cz_http.c" \
        -o "$WORK/fuzz_parser" ||
   ! "$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$ROOT/include" "$ROOT/fuzz/fuzz_ws.c" "$ROOT/include/cz_ws.c" -o "$WORK/fuzz_ws"; then
    echo "fuzz/run.sh: build failed (is the libFuzzer runtime installed? e.g. libclang-rt-14-dev)" >&2
    rm -rf "$WORK"
    exit 2
fi

set +e
status=0
if [ "$HTTP_SECONDS" -gt 0 ]; then
    "$WORK/fuzz_parser" \
        -max_len=4096 \
        -max_total_time="$HTTP_SECONDS" \
        -timeout=10 \
        -dict="$ROOT/fuzz/http.dict" \
        -artifact_prefix="$WORK/artifacts/" \
        -print_final_stats=1 \
        "$WORK/corpus" "$ROOT/fuzz/corpus"
    status=$?
fi
if [ "$status" -eq 0 ] && [ "$WS_SECONDS" -gt 0 ]; then
    "$WORK/fuzz_ws" \
        -max_len=1024 \
        -max_total_time="$WS_SECONDS" \
        -timeout=10 \
        -artifact_prefix="$WORK/artifacts/" \
        -print_final_stats=1 \
        "$WORK/corpus_ws" "$ROOT/fuzz/corpus_ws"
    status=$?
fi
set -e

if [ "$status" -ne 0 ]; then
    echo "fuzz/run.sh: FAILED (exit $status); crashing input(s) in $WORK/artifacts/:" >&2
    ls -l "$WORK/artifacts/" >&2
    echo "reproduce with: $WORK/fuzz_parser <file>  (or $WORK/fuzz_ws <file>)" >&2
    exit 1
fi
rm -rf "$WORK"
echo "fuzz/run.sh: OK, no crash in ${SECONDS_TO_RUN}s"
