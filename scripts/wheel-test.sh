#!/usr/bin/env bash
# Proves an installed wheel, never the source tree: the tests marked `wheel`
# (tests/test_installed.py: every compiled module loads, `python -m catzilla
# run` serves a request, a stream, events and a WebSocket over sockets, the
# package carries py.typed and its stubs; tests/test_readme.py: the README
# samples), not the whole suite, which `make test` runs against the tree.
#
#   bash scripts/wheel-test.sh            # build the wheel for $PYTHON (default python3), then test it
#   bash scripts/wheel-test.sh WHEEL      # test this wheel (must match $PYTHON's version)
#
# In a fresh venv without Cython and with CC/CXX=/bin/false: the wheel plus
# its [test,fast] extras (read from the wheel's metadata, i.e. pyproject's
# [project.optional-dependencies]). The installed package must hold only
# compiled modules, .py, .pyi, .pxd (and py.typed): no .pyx, no .c. tests/,
# examples/, README.md and pyproject.toml (pytest settings) are copied to a
# temp dir and pytest runs there with CATZILLA_TEST_INSTALLED=1, so `catzilla`
# can only come from the venv's site-packages; CATZILLA_WHEEL names the wheel
# (tests/test_readme.py installs it into a venv of its own as the README says).
# Extra arguments after WHEEL go
# to pytest instead of `-m wheel` (e.g. `tests` for the whole suite).
# Exit status: pytest's, or 1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/catzilla-wheel-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1
fail() { echo "wheel-test: FAIL: $*" >&2; exit 1; }

start=$SECONDS
source "$ROOT/scripts/wheel-lib.sh"
resolve_wheel "${1:-}"
[ $# -gt 0 ] && shift

# -- a fresh venv: the wheel and its test extras, no Cython, no compiler ----------
VENV=$WORK/venv
"$PY" -m venv "$VENV"
VPY=$VENV/bin/python
export CC=/bin/false CXX=/bin/false      # anything that tries to compile fails loudly
"$VPY" -m pip install -q "$WHEEL[test,fast]" > "$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log"; fail "pip install"; }
"$VPY" -c 'import catzilla' || fail "catzilla did not install"
if "$VPY" -c 'import Cython' 2>/dev/null; then
  fail "Cython is importable in the test venv"
fi
echo "ok: no Cython in the venv; CC=$CC CXX=$CXX"

SITE=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
PKG=$SITE/catzilla
[ -d "$PKG" ] || fail "no $PKG"
others=$(cd "$PKG" && find . -type f ! -path '*/__pycache__/*' ! -name '*.so' ! -name '*.py' ! -name '*.pyi' \
           ! -name '*.pxd' ! -name py.typed | sort)
[ -z "$others" ] || fail "unexpected files in the installed package: $others"
nso=$(find "$PKG" -name '*.so' | wc -l)
npyx=$(find "$ROOT/catzilla" -name '*.pyx' | wc -l)
[ "$nso" -eq "$npyx" ] || fail "$nso compiled modules installed, $npyx .pyx in the tree"
echo "ok: $PKG holds $nso compiled modules and only .so/.py/.pyi/.pxd/py.typed"

# -- the wheel's tests, from a copy, against site-packages ---------------------------
RUN=$WORK/run
mkdir -p "$RUN"
cp -R "$ROOT/tests" "$ROOT/examples" "$ROOT/README.md" "$ROOT/pyproject.toml" "$RUN/"
find "$RUN" -name __pycache__ -prune -exec rm -rf {} +
cd "$RUN"
export CATZILLA_TEST_INSTALLED=1 CATZILLA_WHEEL="$WHEEL" PATH="$VENV/bin:$PATH"
unset PYTHONPATH
file=$("$VPY" -c 'import catzilla; print(catzilla.__file__)')
echo "catzilla.__file__ = $file"
case "$file" in "$PKG"/*) ;; *) fail "catzilla imported from $file, not $PKG" ;; esac

[ $# -gt 0 ] || set -- -m wheel tests
echo "== pytest $* ($(basename "$WHEEL"), in $RUN)"
set +e
"$VPY" -m pytest -p no:cacheprovider "$@"
rc=$?
set -e
echo "== wheel-test: pytest exit $rc, $((SECONDS - start))s in all"
exit $rc
