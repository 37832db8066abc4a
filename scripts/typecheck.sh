#!/usr/bin/env bash
# Static typing of the INSTALLED package, as a user sees it.
#
#   bash scripts/typecheck.sh            # build the wheel for $PYTHON (default python3), then check
#   bash scripts/typecheck.sh WHEEL      # check this wheel
#
# In a fresh venv holding only the wheel and mypy:
#  1. `mypy --strict examples/`, run from a temp dir holding a copy of
#     examples/, so the only catzilla mypy can find is site-packages (py.typed
#     + the .pyi stubs of the compiled modules);
#  2. `python -m mypy.stubtest` on every catzilla module: each .pyi must match
#     what the compiled module really exposes (names, signatures, properties).
#     The allowlist below covers only Cython-generated attributes and the
#     __init__ slots whose runtime signature is opaque.
# Exit status: 0 when both pass.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
MYPY_REQ=${MYPY_REQ:-mypy>=1.8}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/catzilla-typecheck.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1
fail() { echo "typecheck: FAIL: $*" >&2; exit 1; }

start=$SECONDS
source "$ROOT/scripts/wheel-lib.sh"
resolve_wheel "${1:-}"

VENV=$WORK/venv
"$PY" -m venv "$VENV"
VPY=$VENV/bin/python
"$VPY" -m pip install -q "$WHEEL" "$MYPY_REQ" > "$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log"; fail "pip install"; }
echo "$("$VPY" -m mypy --version)"

RUN=$WORK/run
mkdir -p "$RUN"
cp -R "$ROOT/examples" "$RUN/"
cd "$RUN"
unset PYTHONPATH MYPYPATH
SITE=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
file=$("$VPY" -c 'import catzilla; print(catzilla.__file__)')
echo "catzilla.__file__ = $file"
case "$file" in "$SITE"/catzilla/*) ;; *) fail "catzilla imported from $file, not $SITE" ;; esac
[ -f "$SITE/catzilla/py.typed" ] || fail "the installed package has no py.typed"

rc=0
echo "== mypy --strict examples/ (from $RUN)"
"$VPY" -m mypy --strict --no-incremental examples/ || rc=1

cat > "$WORK/stubtest-allowlist.txt" <<'EOF'
# Cython-generated names: pickling support, the doctest hook, C-API capsules.
catzilla\..*\.__reduce_cython__
catzilla\..*\.__setstate_cython__
catzilla\..*\.__test__
catzilla\..*\.__pyx_capi__
# Match() always raises TypeError (matches are made by Router.find).
catzilla\.router\.Match\.__init__
EOF
# Every compiled module of the wheel, so a new one without a stub shows up here.
modules=""
for so in "$SITE"/catzilla/*.so; do
  name=$(basename "$so"); name=${name%%.*}          # request.cpython-311-x86_64-linux-gnu.so -> request
  modules+=" catzilla.$name"
  [ -f "$SITE/catzilla/$name.pyi" ] || { echo "typecheck: no stub for compiled module catzilla.$name" >&2; rc=1; }
done
echo "== stubtest: $modules"
# --ignore-disjoint-bases: PEP 800 @disjoint_base needs a typing_extensions/mypy
# newer than pyproject's mypy>=1.8; cdef classes are disjoint bases anyway.
"$VPY" -m mypy.stubtest --ignore-disjoint-bases --allowlist "$WORK/stubtest-allowlist.txt" $modules || rc=1

echo "== typecheck: $([ $rc -eq 0 ] && echo PASS || echo FAIL), $((SECONDS - start))s"
exit $rc
