#!/bin/sh
# Build the libFuzzer targets (include/cz_http.c, include/cz_multipart.c) and
# run each for an equal share of the time.
#
#   fuzz/run.sh [SECONDS]      (default 60 in all; run from anywhere)
#
# Needs clang with the libFuzzer/sanitizer runtime (Debian/Ubuntu: packages
# clang and libclang-rt-<version>-dev). The build and the growing corpus live
# in a temporary directory, seeded from fuzz/corpus/ (which is not modified).
# Exits non-zero if the fuzzer finds a crash or a broken invariant; the
# temporary directory, with the crashing input, is then kept and printed.
set -eu

SECONDS_TO_RUN=${1:-60}
case $SECONDS_TO_RUN in
    ''|*[!0-9]*) echo "usage: fuzz/run.sh [SECONDS]" >&2; exit 2 ;;
esac

TARGETS=2
PER_TARGET=$(( SECONDS_TO_RUN / TARGETS ))
[ "$PER_TARGET" -ge 1 ] || PER_TARGET=1

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "fuzz/run.sh: '$CC' not found. Install clang and its runtime, e.g." >&2
    echo "    apt-get install clang libclang-rt-dev   (or libclang-rt-14-dev for clang 14)" >&2
    exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/catzilla-fuzz.XXXXXX")
mkdir -p "$WORK/corpus" "$WORK/artifacts"

echo "fuzz/run.sh: building in $WORK"
if ! "$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$ROOT/include" \
        "$ROOT/fuzz/fuzz_parser.c" "$ROOT/fuzz/cz_http_scalar.c" "$ROOT/include/cz_http.c" \
        -o "$WORK/fuzz_parser"; then
    echo "fuzz/run.sh: build failed (is the libFuzzer runtime installed? e.g. libclang-rt-14-dev)" >&2
    rm -rf "$WORK"
    exit 2
fi

set +e
"$WORK/fuzz_parser" \
    -max_len=4096 \
    -max_total_time="$PER_TARGET" \
    -timeout=10 \
    -dict="$ROOT/fuzz/http.dict" \
    -artifact_prefix="$WORK/artifacts/" \
    -print_final_stats=1 \
    "$WORK/corpus" "$ROOT/fuzz/corpus"
status=$?
set -e

if [ "$status" -ne 0 ]; then
    echo "fuzz/run.sh: FAILED (exit $status); crashing input(s) in $WORK/artifacts/:" >&2
    ls -l "$WORK/artifacts/" >&2
    echo "reproduce with: $WORK/fuzz_parser <file>" >&2
    exit 1
fi

# multipart/form-data parser: one feed vs. random splits vs. byte by byte
mkdir -p "$WORK/corpus_multipart"
if ! "$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$ROOT/include" \
        "$ROOT/fuzz/fuzz_multipart.c" "$ROOT/include/cz_multipart.c" \
        -o "$WORK/fuzz_multipart"; then
    echo "fuzz/run.sh: build of fuzz_multipart failed" >&2
    rm -rf "$WORK"
    exit 2
fi
set +e
"$WORK/fuzz_multipart" \
    -max_len=4096 \
    -max_total_time="$PER_TARGET" \
    -timeout=10 \
    -dict="$ROOT/fuzz/multipart.dict" \
    -artifact_prefix="$WORK/artifacts/" \
    -print_final_stats=1 \
    "$WORK/corpus_multipart" "$ROOT/fuzz/corpus_multipart"
status=$?
set -e
if [ "$status" -ne 0 ]; then
    echo "fuzz/run.sh: fuzz_multipart FAILED (exit $status); crashing input(s) in $WORK/artifacts/:" >&2
    ls -l "$WORK/artifacts/" >&2
    echo "reproduce with: $WORK/fuzz_multipart <file>" >&2
    exit 1
fi
rm -rf "$WORK"
echo "fuzz/run.sh: OK, no crash in ${SECONDS_TO_RUN}s"
