# Sourced by wheel-test.sh and typecheck.sh: sets WHEEL to an absolute path,
# building the wheel for $PY into $WORK/dist when no wheel was given.
#   resolve_wheel "${1:-}"
resolve_wheel() {
  WHEEL=$1
  if [ -z "$WHEEL" ]; then
    echo "== building the wheel for $("$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    bash "$ROOT/scripts/build-wheels.sh" -o "$WORK/dist" "$(command -v "$PY")" 2>&1 | sed '/^WARNING: Location/d'
    WHEEL=$(ls "$WORK"/dist/*.whl)
  fi
  [ -f "$WHEEL" ] || fail "no wheel at $WHEEL"
  WHEEL=$(cd "$(dirname "$WHEEL")" && pwd)/$(basename "$WHEEL")
  echo "== wheel: $(basename "$WHEEL")"
}
