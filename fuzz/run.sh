#!/bin/sh
# Build the libFuzzer targets for include/cz_http.c and include/cz_pmd.c and
# run them, splitting the time between them.
#
#   fuzz/run.sh [SECONDS]      (default 60; run from anywhere)
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

PMD_SECONDS=$((SECONDS_TO_RUN / 2))
PARSER_SECONDS=$((SECONDS_TO_RUN - PMD_SECONDS))

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "fuzz/run.sh: '$CC' not found. Install clang and its runtime, e.g." >&2
    echo "    apt-get install clang libclang-rt-dev   (or libclang-rt-14-dev for clang 14)" >&2
    exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/catzilla-fuzz.XXXXXX")
mkdir -p "$WORK/corpus" "$WORK/corpus_pmd" "$WORK/artifacts"

echo "fuzz/run.sh: building in $WORK"
if ! "$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$ROOT/include" \
        "$ROOT/fuzz/fuzz_parser.c" "$ROOT/fuzz/cz_http_scalar.c" "$ROOT/include/cz_http.c" \
        -o "$WORK/fuzz_parser" \
   || ! "$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$ROOT/include" "$ROOT/fuzz/fuzz_pmd.c" "$ROOT/include/cz_pmd.c" -lz \
        -o "$WORK/fuzz_pmd"; then
    echo "fuzz/run.sh: build failed (is the libFuzzer runtime installed? e.g. libclang-rt-14-dev)" >&2
    rm -rf "$WORK"
    exit 2
fi

set +e
"$WORK/fuzz_parser" \
    -max_len=4096 \
    -max_total_time="$PARSER_SECONDS" \
    -timeout=10 \
    -dict="$ROOT/fuzz/http.dict" \
    -artifact_prefix="$WORK/artifacts/" \
    -print_final_stats=1 \
    "$WORK/corpus" "$ROOT/fuzz/corpus"
status=$?
if [ "$status" -eq 0 ] && [ "$PMD_SECONDS" -gt 0 ]; then
    "$WORK/fuzz_pmd" \
        -max_len=4096 \
        -max_total_time="$PMD_SECONDS" \
        -timeout=10 \
        -artifact_prefix="$WORK/artifacts/" \
        -print_final_stats=1 \
        "$WORK/corpus_pmd"
    status=$?
fi
set -e

if [ "$status" -ne 0 ]; then
    echo "fuzz/run.sh: FAILED (exit $status); crashing input(s) in $WORK/artifacts/:" >&2
    ls -l "$WORK/artifacts/" >&2
    echo "reproduce with: $WORK/fuzz_parser <file> (or fuzz_pmd)" >&2
    exit 1
fi
rm -rf "$WORK"
echo "fuzz/run.sh: OK, no crash in ${SECONDS_TO_RUN}s"
