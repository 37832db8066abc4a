"""Autobahn|Testsuite against the demo app's WebSocket echo (/ws/echo) over a
real port: the CI subset (cases 1-7 and 10) through scripts/autobahn.sh,
which installs the suite (Python 2.7, pinned in
scripts/autobahn-requirements.txt) on first use. Every case must be OK or
INFORMATIONAL with a clean close. No skip when Python 2.7 is missing: the
install step fails and says what to install."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from procs import ROOT, launcher

SCRIPT = ROOT / "scripts" / "autobahn.sh"
VENV = Path(os.environ.get("AUTOBAHN_VENV", ROOT / ".autobahn-venv"))

pytestmark = [
    # cibuildwheel's containers have neither Python 2.7 nor the scripts; .ci/run covers this.
    pytest.mark.skipif(os.environ.get("CIBUILDWHEEL") == "1", reason="not in cibuildwheel's test containers"),
    pytest.mark.slow,
]


def run_script(*args: str, timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, AUTOBAHN_VENV=str(VENV))
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def autobahn_installed() -> None:
    """The suite in its virtualenv (a no-op when already installed)."""
    done = run_script("--install", timeout=900)
    assert done.returncode == 0, f"autobahn install failed:\n{done.stdout}\n{done.stderr}"


@pytest.mark.timeout(1200)
def test_autobahn_ci_subset_passes(autobahn_installed, tmp_path):
    with launcher(tmp_path, grace=10) as run:
        server = run("examples.app:app")
        done = run_script("--url", f"ws://127.0.0.1:{server.port}/ws/echo", "--report-dir", str(tmp_path / "reports"),
                          timeout=900)
        alive = server.proc.poll() is None
        report = f"{done.stdout}\n{done.stderr}\nserver output:\n{server.text()}"
        assert alive, f"the server exited during the run\n{report}"
        assert done.returncode == 0, report

    # The summary table: every case group of the subset, no bad behaviour.
    rows = {int(m.group(1)): [int(n) for n in m.group(2).split()]
            for m in re.finditer(r"^ *(\d+)((?: +\d+)+)$", done.stdout, re.M)}
    assert set(rows) == {1, 2, 3, 4, 5, 6, 7, 10}, done.stdout
    header = re.search(r"^group (.*)$", done.stdout, re.M).group(1).split()
    for group, counts in rows.items():
        by = dict(zip(header, counts))
        assert by["FAILED"] == by["NON-STRICT"] == by["UNIMPLEMENTED"] == by["BAD-CLOSE"] == 0, (group, done.stdout)
        assert by["OK"] + by["INFORMATIONAL"] == by["total"] > 0, (group, done.stdout)
    assert "all cases passed" in done.stdout, done.stdout
