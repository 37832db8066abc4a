#!/usr/bin/env bash
# Debian packages the test suite and benchmarks use: nginx (reverse-proxy
# test), clang + its sanitizer runtime (parser fuzzing), wrk (benchmarks),
# curl, gcc (the benchmarks' WebSocket/upload load generator), chromium + its
# WebDriver (browser WebSocket test), redis-server (Broadcast's Redis backend
# tests). Installs only what is missing; needs root or sudo. Autobahn|Testsuite
# (Python 2.7, from PyPI) is installed by scripts/autobahn.sh --install.
set -euo pipefail
need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v clang >/dev/null || need+=(clang)
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 \
  || ls /usr/lib/llvm-*/lib/clang/*/lib/*/libclang_rt.fuzzer*.a >/dev/null 2>&1 \
  || need+=(libclang-rt-14-dev)
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v gcc >/dev/null || need+=(gcc)
[ -f /usr/include/zlib.h ] || need+=(zlib1g-dev)   # permessage-deflate (include/cz_pmd.c)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v redis-server >/dev/null || need+=(redis-server)
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "system-deps: please install: ${need[*]}" >&2
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "system-deps: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
