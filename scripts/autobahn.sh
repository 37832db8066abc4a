#!/usr/bin/env bash
# Autobahn|Testsuite against a WebSocket echo endpoint: the external bar for
# Catzilla's WebSockets (design.md section 8: all cases OK).
#
#   scripts/autobahn.sh --install                   # only install the suite (idempotent)
#   scripts/autobahn.sh --serve                     # start the demo app, test ws://.../ws/echo
#   scripts/autobahn.sh --url ws://127.0.0.1:9001/  # any running echo server
#   scripts/autobahn.sh --serve --full              # cases 1-7, 9, 10, 12, 13
#   scripts/autobahn.sh --url URL '5.*' 6.4.1       # the cases given
#
# Options: --path P (with --serve; default /ws/echo), --app MODULE:APP (with
# --serve; default examples.app:app), --report-dir DIR (keep the reports there;
# default a temporary directory, removed afterwards), --findings FILE.md (also
# write the summary and the failing cases there).
#
# The suite runs only on Python 2.7: it is installed from PyPI, at the versions
# in scripts/autobahn-requirements.txt, into a Python 2.7 virtualenv in
# .autobahn-venv/ (AUTOBAHN_VENV), created here; Python 2.7 is AUTOBAHN_PYTHON,
# else python2.7 on PATH, else pyenv's 2.7.18. Cases default to the CI subset
# 1-7 and 10 (everything but the slow 9.*, 12.* and 13.*).
#
# Exit status: 0 when every case is OK or INFORMATIONAL with a clean close,
# 1 when any is FAILED, NON-STRICT or UNIMPLEMENTED or closed badly, 2 on a
# harness error (no Python 2.7, install failed, server did not start, no report).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${AUTOBAHN_VENV:-$ROOT/.autobahn-venv}
REQS=$ROOT/scripts/autobahn-requirements.txt
CI_CASES=("1.*" "2.*" "3.*" "4.*" "5.*" "6.*" "7.*" "10.*")
FULL_CASES=("1.*" "2.*" "3.*" "4.*" "5.*" "6.*" "7.*" "9.*" "10.*" "12.*" "13.*")

die() { echo "autobahn: $*" >&2; exit 2; }

find_python27() {
  local p
  for p in "${AUTOBAHN_PYTHON:-}" "$(command -v python2.7 || true)" \
           "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")/versions/2.7.18/bin/python2.7"; do
    if [ -n "$p" ] && [ -x "$p" ] && "$p" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  return 1
}

# Quiet pip, minus the warnings this machine's pip configuration and py2.7 add.
pip_quiet() { "$@" 2>&1 | grep -v -e "is ignored: it is neither" -e "DEPRECATION: Python 2.7" || true; }

install() {
  local stamp=$VENV/.installed want
  want=$(sha256sum "$REQS" | cut -d' ' -f1)
  if [ -x "$VENV/bin/wstest" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  local py
  py=$(find_python27) || die "Python 2.7 not found (Autobahn|Testsuite needs it): set AUTOBAHN_PYTHON, put python2.7 on PATH, or 'pyenv install 2.7.18'"
  echo "autobahn: installing Autobahn|Testsuite into $VENV (python $py)" >&2
  rm -rf "$VENV"
  # virtualenv (the last line that still runs on 2.7) into a private user base
  # inside the venv directory, so nothing lands in the user's own site-packages.
  local boot=$VENV.bootstrap
  rm -rf "$boot"
  if ! "$py" -m virtualenv --version >/dev/null 2>&1; then
    PYTHONUSERBASE=$boot pip_quiet "$py" -m pip install -q --user --no-warn-script-location "virtualenv==20.15.1"
  fi
  PYTHONUSERBASE=$boot "$py" -m virtualenv -q --no-periodic-update "$VENV" || die "virtualenv failed"
  rm -rf "$boot"
  pip_quiet "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQS"
  [ -x "$VENV/bin/wstest" ] || die "install failed: no $VENV/bin/wstest"
  "$VENV/bin/python" -c 'import autobahntestsuite, twisted, wsaccel' || die "install failed: imports"
  echo "$want" > "$stamp"
}

url="" serve=0 app="examples.app:app" path="/ws/echo" report_dir="" findings="" only_install=0
cases=()
while [ $# -gt 0 ]; do
  case $1 in
    --install) only_install=1 ;;
    --full) cases=("${FULL_CASES[@]}") ;;
    --url) url=$2; shift ;;
    --serve) serve=1 ;;
    --app) app=$2; shift ;;
    --path) path=$2; shift ;;
    --report-dir) report_dir=$2; shift ;;
    --findings) findings=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) cases+=("$1") ;;
  esac
  shift
done
[ ${#cases[@]} -gt 0 ] || cases=("${CI_CASES[@]}")

install
[ $only_install -eq 1 ] && exit 0
[ -n "$url" ] || [ $serve -eq 1 ] || die "give --url URL or --serve"

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ $serve -eq 1 ]; then
  py=${PYTHON:-}
  [ -n "$py" ] || { [ -x "$ROOT/.venv/bin/python" ] && py=$ROOT/.venv/bin/python; } || py=python3
  # Port 0: the server picks a free loopback port and prints it in its banner.
  (cd "$ROOT" && PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 \
     exec "$py" -m catzilla run "$app" --host 127.0.0.1 --port 0) >"$work/server.log" 2>&1 &
  server_pid=$!
  port=""
  for _ in $(seq 300); do
    port=$(sed -n 's|.*serving on http://[^ ]*:\([0-9][0-9]*\).*|\1|p' "$work/server.log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$work/server.log" >&2; die "the server did not start"; }
  url="ws://127.0.0.1:$port$path"
  echo "autobahn: serving $app on port $port (pid $server_pid)" >&2
fi

out=${report_dir:-$work/reports}
mkdir -p "$out"
cases_json=$(printf '"%s",' "${cases[@]}")
cat > "$work/spec.json" <<EOF
{
  "outdir": "$out",
  "servers": [{"agent": "testee", "url": "$url"}],
  "cases": [${cases_json%,}],
  "exclude-cases": [],
  "exclude-agent-cases": {}
}
EOF

echo "autobahn: cases ${cases[*]} against $url" >&2
start=$(date +%s)
# The suite bounds each case itself; the overall bound catches a stuck run.
set +e
(cd "$work" && timeout "${AUTOBAHN_TIMEOUT:-1800}" "$VENV/bin/wstest" -m fuzzingclient -s "$work/spec.json") \
  >"$work/wstest.log" 2>&1
rc=$?
set -e
echo "autobahn: wstest exited $rc after $(( $(date +%s) - start )) s" >&2
if [ $rc -ne 0 ]; then
  tail -30 "$work/wstest.log" >&2
fi
if [ $serve -eq 1 ] && ! kill -0 "$server_pid" 2>/dev/null; then
  echo "autobahn: the server exited during the run; its output:" >&2
  cat "$work/server.log" >&2
fi
set +e
python3 "$ROOT/scripts/autobahn_report.py" "$out" ${findings:+--findings "$findings"}
status=$?
set -e
if [ $status -eq 0 ] && [ $rc -ne 0 ]; then
  status=2
fi
[ -z "$report_dir" ] || echo "autobahn: reports in $report_dir" >&2
exit $status
