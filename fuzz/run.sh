#!/bin/sh
# Build the libFuzzer targets for the plain C in include/ and run each for an
# equal share of the time:
#   fuzz_parser     cz_http.c       HTTP/1.1 request parser, chunked decoder (and encoder round trips)
#   fuzz_ws         cz_ws.c         WebSocket frame headers, unmasking, UTF-8, close payloads
#   fuzz_pmd        cz_pmd.c        permessage-deflate (bounded inflate, round trips)
#   fuzz_multipart  cz_multipart.c  multipart/form-data, one feed vs. splits
#   fuzz_pattern    cz_pattern.c    str pattern constraints: widths agree, bit-parallel run = Pike VM
#
#   fuzz/run.sh [SECONDS]      (default 60 in all; run from anywhere)
#
# Needs clang with the libFuzzer/sanitizer runtime (Debian/Ubuntu: packages
# clang and libclang-rt-<version>-dev). Builds and growing corpora live in a
# temporary directory, seeded from fuzz/corpus*/ (which are not modified).
# Exits non-zero if a fuzzer finds a crash or a broken invariant; the
# temporary directory, with the crashing input, is then kept and printed.
set -eu

SECONDS_TO_RUN=${1:-60}
case $SECONDS_TO_RUN in
    ''|*[!0-9]*) echo "usage: fuzz/run.sh [SECONDS]" >&2; exit 2 ;;
esac
PER_TARGET=$(( SECONDS_TO_RUN / 5 ))
[ "$PER_TARGET" -ge 1 ] || PER_TARGET=1

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "fuzz/run.sh: '$CC' not found. Install clang and its runtime, e.g." >&2
    echo "    apt-get install clang libclang-rt-dev   (or libclang-rt-14-dev for clang 14)" >&2
    exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/catzilla-fuzz.XXXXXX")
mkdir -p "$WORK/artifacts"
echo "fuzz/run.sh: building in $WORK"

# fuzz NAME MAX_LEN DICT SEEDS SOURCES...: build fuzz/NAME.c with SOURCES, run it
fuzz() {
    name=$1 max_len=$2 dict=$3 seeds=$4
    shift 4
    if ! "$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
            -I"$ROOT/include" "$ROOT/fuzz/$name.c" "$@" -o "$WORK/$name"; then
        echo "fuzz/run.sh: build of $name failed (is the libFuzzer runtime installed? e.g. libclang-rt-14-dev)" >&2
        rm -rf "$WORK"
        exit 2
    fi
    mkdir -p "$WORK/corpus_$name"
    set +e
    # shellcheck disable=SC2086  # dict and seeds are one word or none
    "$WORK/$name" -max_len="$max_len" -max_total_time="$PER_TARGET" -timeout=10 \
        ${dict:+-dict="$ROOT/fuzz/$dict"} -artifact_prefix="$WORK/artifacts/" -print_final_stats=1 \
        "$WORK/corpus_$name" ${seeds:+"$ROOT/fuzz/$seeds"}
    status=$?
    set -e
    if [ "$status" -ne 0 ]; then
        echo "fuzz/run.sh: $name FAILED (exit $status); crashing input(s) in $WORK/artifacts/:" >&2
        ls -l "$WORK/artifacts/" >&2
        echo "reproduce with: $WORK/$name <file>" >&2
        exit 1
    fi
}

fuzz fuzz_parser 4096 http.dict corpus "$ROOT/fuzz/cz_http_scalar.c" "$ROOT/include/cz_http.c"
fuzz fuzz_ws 1024 "" corpus_ws "$ROOT/include/cz_ws.c"
fuzz fuzz_pmd 4096 "" "" "$ROOT/include/cz_pmd.c" "$ROOT/include/cz_deflate.c" -lz
fuzz fuzz_multipart 4096 multipart.dict corpus_multipart "$ROOT/include/cz_multipart.c"
fuzz fuzz_pattern 512 pattern.dict corpus_pattern   # includes cz_pattern.c itself (its internals)
rm -rf "$WORK"
echo "fuzz/run.sh: OK, no crash in ${SECONDS_TO_RUN}s"
