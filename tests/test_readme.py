"""Every code block of README.md is run or checked here, taken from the README
itself, so the documentation and the code cannot drift apart.

Every block carries a language tag from LANGUAGES, and every block is claimed
by a test below: an untagged block, another language, a shell command that no
entry of COMMANDS matches or a text block no check claims fails
test_every_block_is_tagged_and_claimed, so a new block cannot slip in unchecked.

python  every sample is executed and each GET route it defines answers through
        the real compiled request path (TestClient). Besides, the first app is
        run as app.py the two ways the README shows (`catzilla run app:app`,
        `python app.py`) and its `curl` lines are run against it; the watchdog
        sample is served and what it logs is compared with the text block after it.
bash    each command line (backslash continuations joined, `# comments` cut) is
        claimed by one entry of COMMANDS, and
        run in full:
          - the first app's install from a wheel (the wheel step only, where
            scripts/wheel-test.sh exports CATZILLA_WHEEL): a fresh venv, the
            README's `pip install` lines with the placeholder path replaced by
            that wheel (extras included), then the app served by that venv's
            own `catzilla` and `python`;
          - the first app's run and curl lines (the port made a free one);
          - the Deployment commands, on the first app as `myapp.py` (--host made
            127.0.0.1, --port a free one; each server started, requested,
            SIGHUP'd where the README does, stopped: exit 0);
          - the Locust command, against the demo app, with its 30 s run time
            cut to a few seconds (test_locust.py does longer runs).
        checked, not run (each takes minutes):
          - `pip install /path/to/catzilla` (compiling the clone): the path
            must be a project pip can build (pyproject's build-system) and the
            extras named must exist; the wheel step's wheel is that same PEP 517
            build of these sources (scripts/build-wheels.sh);
          - `make -C /path/to/catzilla wheel`: `make -n` shows the target
            runs scripts/build-wheels.sh into dist/ (what the wheel step runs);
          - benchmarks/run.py and soak.py (minutes to hours, the whole
            machine): the script's own argument parser and name checks accept
            the README's arguments (every peer and scenario exists, a --before
            revision resolves).
text    output samples, compared with what the code prints (the watchdog's
        warnings: the same app run by `catzilla run`, the lines matched with only
        the time, pid and durations left open).

Nothing here reads an error body: HTTP errors are only told apart by status.
"""
from __future__ import annotations

import csv
import importlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

import pytest

import catzilla
from catzilla import Catzilla, StaticFiles
from catzilla.testing import TestClient
from procs import Proc, catzilla_env, get, launcher

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
INSTALLED = os.environ.get("CATZILLA_TEST_INSTALLED") == "1"
LANGUAGES = ("python", "bash", "text")


class Block(NamedTuple):
    line: int          # of the opening fence
    lang: str
    code: str
    section: str       # the "## " heading it is under


def parse_blocks(text: str) -> List[Block]:
    blocks: List[Block] = []
    section = ""
    opened: Optional[Tuple[int, str, List[str]]] = None
    for n, line in enumerate(text.split("\n"), 1):
        if opened is None and line.startswith("## "):
            section = line[3:].strip()
        if line.lstrip().startswith("```"):
            assert not line.startswith(" "), f"README.md:{n}: an indented fence"
            if opened is None:
                opened = (n, line[3:].strip(), [])
            else:
                assert line.strip() == "```", f"README.md:{n}: a closing fence with text: {line!r}"
                blocks.append(Block(opened[0], opened[1], "\n".join(opened[2]) + "\n", section))
                opened = None
        elif opened is not None:
            opened[2].append(line)
    assert opened is None, f"README.md:{opened[0]}: a block that is never closed"
    return blocks


BLOCKS = parse_blocks(README)
PYTHON = [b for b in BLOCKS if b.lang == "python"]
SAMPLE = {"int": "3", "signed_int": "-3", "float": "1.5", "signed_float": "-1.5", "path": "a/b.txt",
          "uuid": "12345678-1234-5678-1234-567812345678", "str": "cat"}


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(?::(\w+))?\}", lambda m: SAMPLE[m.group(2) or "str"], path)


# -- shell commands ----------------------------------------------------------------------

# kind -> what a whole command must be; every command of a bash block matches exactly one
COMMANDS: Dict[str, str] = {
    "venv": r"python3 -m venv \.venv",
    "pip-clone": r"\.venv/bin/pip install '?/path/to/catzilla(\[[\w,]+\])?'?",
    "pip-wheel": r"\.venv/bin/pip install '?/path/to/catzilla/dist/catzilla-[^\s\[']+\.whl(\[[\w,]+\])?'?",
    "make-wheel": r"make -C /path/to/catzilla wheel",
    "first-run": r"\.venv/bin/catzilla run app:app|\.venv/bin/python app\.py",
    "curl": r"curl http://127\.0\.0\.1:8000/\S*",
    "serve": r"catzilla run myapp:app( --[\w-]+( [\w.]+)?)*",
    "hup": r"kill -HUP <supervisor pid>",
    "locust": r"\.venv/bin/locust( \S+)*",
    "bench": r"\.venv/bin/python benchmarks/run\.py( \S+)*",
    "soak": r"\.venv/bin/python benchmarks/soak\.py( \S+)*",
}


class Command(NamedTuple):
    kind: str
    text: str          # one line, single spaces, no comment
    comment: str       # what followed '#', stripped
    block: Block


def split_commands(block: Block) -> List[Tuple[str, str]]:
    """(command, comment) of each command line of a shell block."""
    out = []
    for raw in block.code.replace("\\\n", " ").split("\n"):
        command, _, comment = raw.partition(" #") if not raw.lstrip().startswith("#") else ("", "", raw)
        command = " ".join(command.split())
        if command:
            out.append((command, comment.strip()))
    return out


def kinds_of(command: str) -> List[str]:
    return [kind for kind, pattern in COMMANDS.items() if re.fullmatch(pattern, command)]


def commands(*kinds: str) -> List[Command]:
    """Every README command of these kinds, in README order."""
    out = []
    for b in BLOCKS:
        if b.lang == "bash":
            for text, comment in split_commands(b):
                found = kinds_of(text)
                if found and found[0] in kinds:
                    out.append(Command(found[0], text, comment, b))
    return out


# -- text blocks: what claims each ---------------------------------------------------------

def is_watchdog_output(block: Block) -> bool:
    return "WARNING catzilla: the event loop was blocked for" in block.code


TEXT_CHECKS = {"watchdog warnings (test_the_watchdog_logs_what_the_readme_shows)": is_watchdog_output}


def test_every_block_is_tagged_and_claimed():
    assert len(BLOCKS) >= 20 and len(PYTHON) >= 15
    problems = []
    for b in BLOCKS:
        where = f"README.md:{b.line}"
        if b.lang not in LANGUAGES:
            problems.append(f"{where}: language {b.lang!r}: tag every block with one of {LANGUAGES}")
        elif b.lang == "bash":
            for text, _ in split_commands(b):
                found = kinds_of(text)
                if len(found) != 1:
                    problems.append(f"{where}: {text!r} is matched by {found or 'no entry'} of COMMANDS: "
                                    "add an entry and a test that runs (or checks) it")
        elif b.lang == "text":
            checks = [name for name, claims in TEXT_CHECKS.items() if claims(b)]
            if len(checks) != 1:
                problems.append(f"{where}: a text block claimed by {checks or 'no check'} of TEXT_CHECKS")
    assert not problems, "\n".join(problems)


# -- python samples ------------------------------------------------------------------------

@pytest.mark.wheel      # the samples a user of the installed package runs
@pytest.mark.parametrize("index", range(len(PYTHON)))
def test_readme_sample_runs(index, tmp_path, monkeypatch):
    code = PYTHON[index].code
    monkeypatch.chdir(tmp_path)
    (tmp_path / "public").mkdir()                 # for app.static("/assets", "public/")
    (tmp_path / "public" / "index.html").write_bytes(b"<h1>index</h1>")
    namespace = {"__name__": f"readme_sample_{index}", "__file__": str(ROOT / "README.md")}
    exec(compile(code, f"README.md:{PYTHON[index].line}", "exec"), namespace)
    app = namespace.get("app")
    if not isinstance(app, Catzilla):
        return
    with TestClient(app) as client:
        for route in app.router.routes:
            if "GET" not in route.methods:
                continue
            path = concrete(route.path)
            if "EventSource" in code and "events" in path:
                with client.stream("GET", path) as r:
                    assert r.status_code == 200
                    assert next(r.iter_bytes()).startswith(b"event: tick")
                continue
            if "hub.sse(" in code and path.startswith("/feed"):
                with client.stream("GET", path) as r:      # a live feed: it never ends by itself
                    assert r.status_code == 200
                    assert next(r.iter_bytes()).startswith(b"retry: ")
                continue
            r = client.get(path)
            # the route exists and takes GET: neither a server error nor a routing miss
            # (a static mount's 404 is for the sample file not being in public/)
            missing = (405,) if isinstance(route.endpoint, StaticFiles) else (404, 405)
            assert r.status_code < 500 and r.status_code not in missing, (path, r.status_code, r.content[:200])


# -- the first app ----------------------------------------------------------------------------

def first_app() -> str:
    [block] = [b for b in PYTHON if b.section == "Your first app"]
    assert re.search(r'^if __name__ == "__main__":\n    app\.listen\(', block.code, re.M), \
        "the first app runs as written: app.listen() under __main__, not commented out"
    return block.code


def on_free_port(source: str) -> str:
    """The first app as app.py for a test: its app.listen(8000) on a free port (0)."""
    assert source.count("app.listen(8000)") == 1, "the first app listens on 8000, as its curl lines say"
    return source.replace("app.listen(8000)", "app.listen(0)")


def run_first_app(cwd: Path, bin_command, env: dict) -> None:
    """Serve app.py (in cwd) with each server command of the README's first-app run
    block in turn, run every curl line of the block against it, stop it (exit 0).
    bin_command(name) is the argv that `.venv/bin/NAME` stands for."""
    servers = commands("first-run")
    curls = commands("curl")
    assert len(servers) == 2 and curls and all(c.block == servers[0].block for c in servers + curls)
    for server in servers:
        words = server.text.split()
        argv = bin_command(words[0][len(".venv/bin/"):]) + words[1:]
        if "run" in words:
            argv += ["--port", "0"]          # the default 8000 might be taken on a test machine
        p = Proc(argv, cwd, env)
        try:
            port = p.wait_banner()
            for curl in curls:
                url = curl.text.split()[1].replace(":8000/", f":{port}/")
                if shutil.which("curl"):
                    r = subprocess.run(["curl", "--silent", "--show-error", "--max-time", "5", url],
                                       capture_output=True, timeout=10)
                    assert r.returncode == 0, r.stderr
                    body = r.stdout
                else:                                  # the same request without curl
                    status, _, body = get(port, url.split(f":{port}", 1)[1])
                    assert status == 200
                assert body.decode() == curl.comment, (server.text, curl.text, body)
            assert p.stop() == 0, p.stderr
        finally:
            p.close()


def test_first_app_runs_both_ways_and_answers_its_curl_lines(tmp_path):
    (tmp_path / "app.py").write_text(on_free_port(first_app()))
    if INSTALLED:     # the package a wheel installed; catzilla is then a script on PATH
        script = shutil.which("catzilla")
        assert script and Path(script).parent == Path(sys.executable).parent, script
        bins = {"catzilla": [script], "python": [sys.executable]}
    else:             # this tree: `python -m catzilla` is what .venv/bin/catzilla runs
        bins = {"catzilla": [sys.executable, "-m", "catzilla"], "python": [sys.executable]}
    run_first_app(tmp_path, bins.__getitem__, catzilla_env())


def needs_tree(*paths: str) -> None:
    """Skip in a copy of tests/ run against an installed wheel (cibuildwheel's
    test-command copies tests, examples, loadtests and the README, not these)."""
    missing = [p for p in paths if not (ROOT / p).exists()]
    if missing and INSTALLED:
        pytest.skip(f"checked in the source tree: {', '.join(missing)} not beside this copy of tests/")


def read_pyproject() -> dict:
    try:
        import tomllib
    except ImportError:          # Python 3.10
        from pip._vendor import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def named_extras(command: str) -> List[str]:
    m = re.search(r"\[([\w,]+)\]'?$", command)
    return m.group(1).split(",") if m else []


def test_the_clone_install_and_make_wheel_commands_point_at_what_builds(tmp_path):
    """Checked, not run: compiling the clone or a wheel takes minutes (the wheel step
    builds the wheel with scripts/build-wheels.sh, and installs it as the README says)."""
    needs_tree("Makefile", "scripts/build-wheels.sh")
    project = read_pyproject()
    assert project["project"]["name"] == "catzilla"
    assert project["build-system"]["build-backend"] and "Cython>=3.0.10" in project["build-system"]["requires"]
    extras = set(project["project"]["optional-dependencies"])
    clone = commands("pip-clone")
    assert len(clone) >= 2 and any(named_extras(c.text) for c in clone)
    for c in commands("pip-clone", "pip-wheel"):
        assert set(named_extras(c.text)) <= extras, (c.text, extras)

    [make] = commands("make-wheel")
    r = subprocess.run(["make", "-n", "-C", str(ROOT), "wheel", "PYTHON=" + sys.executable],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert f'bash scripts/build-wheels.sh -o dist "$(command -v {sys.executable})"' in r.stdout, r.stdout
    assert (ROOT / "scripts" / "build-wheels.sh").is_file()

    # the wheel's name as build-wheels.sh makes it, with the version this tree has
    for c in commands("pip-wheel"):
        name = re.search(r"dist/(catzilla-[^\s\[']+\.whl)", c.text).group(1)
        assert re.fullmatch(rf"catzilla-{re.escape(catzilla.__version__)}-(cp3\d+)-\1-manylinux_\S+\.whl", name), \
            (name, catzilla.__version__)


def test_the_extras_table_lists_what_pyproject_has():
    section = README[README.index("## Your first app"):README.index("## Set up")]
    rows = re.findall(r"^\| (`[^|]+`) \| ([^|]+) \|", section, re.M)
    extras = read_pyproject()["project"]["optional-dependencies"]
    listed = {}
    for names, installs in rows:
        for name in re.findall(r"`(\w+)`", names):
            listed[name] = installs.strip()
    assert set(listed) == set(extras), (sorted(listed), sorted(extras))
    for name, installs in listed.items():
        if "..." in installs:        # test, dev: a long list, summed up
            continue
        wanted = {re.split(r"[<>=\[ ]", req)[0].lower() for req in extras[name]}
        assert {p.strip().lower() for p in installs.split(",")} == wanted, (name, installs, extras[name])


@pytest.mark.wheel
@pytest.mark.slow
def test_first_app_installed_from_the_wheel_as_the_readme_says(tmp_path):
    wheel = os.environ.get("CATZILLA_WHEEL")
    if not wheel:
        pytest.skip("the wheel step's test: scripts/wheel-test.sh exports CATZILLA_WHEEL")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONUNBUFFERED"] = "1"
    ran = []
    for block in sorted({c.block for c in commands("pip-wheel")}, key=lambda b: b.line):   # README order
        for text, _ in split_commands(block):
            kind = kinds_of(text)[0]
            if kind == "venv":
                argv = [sys.executable] + text.split()[1:]
            elif kind == "pip-wheel":
                text = re.sub(r"/path/to/catzilla/dist/catzilla-[^\s\[']+\.whl", wheel, text)
                argv = shlex.split(text)
            else:             # make-wheel, pip-clone: checked by the test above
                continue
            r = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, f"{text}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
            ran.append(text)
    assert any("venv" in t for t in ran) and any(named_extras(t) for t in ran), ran
    venv_python = tmp_path / ".venv" / "bin" / "python"
    probe = "import catzilla, uvloop, watchfiles; print(catzilla.__file__)"
    r = subprocess.run([str(venv_python), "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(str(tmp_path / ".venv")), r.stdout
    (tmp_path / "app.py").write_text(on_free_port(first_app()))
    run_first_app(tmp_path, lambda name: [str(tmp_path / ".venv" / "bin" / name)], env)


# -- Deployment ----------------------------------------------------------------------------

def cli() -> List[str]:
    if INSTALLED:
        script = shutil.which("catzilla")
        assert script and Path(script).parent == Path(sys.executable).parent, script
        return [script]
    return [sys.executable, "-m", "catzilla"]


def option(words: List[str], name: str) -> Optional[str]:
    return words[words.index(name) + 1] if name in words else None


@pytest.mark.wheel
@pytest.mark.slow
def test_the_deployment_commands_serve_reload_and_stop(tmp_path):
    cmds = commands("serve", "hup")
    assert [c.kind for c in cmds][:2] == ["serve", "hup"], cmds
    (tmp_path / "myapp.py").write_text(first_app())     # never run as __main__: no listen
    server: Optional[Proc] = None
    args: List[str] = []          # the running server's options
    started = []
    try:
        for c in cmds:
            words = c.text.split()
            if c.kind == "hup":
                workers = int(option(args, "--workers") or 1)
                assert server is not None and workers >= 2, f"{c.text}: a supervisor reloads, --workers 2 or more"
                reloads = server.stderr.count("reload done")
                subprocess.run(["bash", "-c", c.text.replace("<supervisor pid>", str(server.proc.pid))],
                               check=True, timeout=10)
                server.wait_output(rf"reload done: {workers} new worker\(s\) serving", count=reloads + 1,
                                   timeout=30)
                status, _, body = get(server.port, "/")
                assert (status, body) == (200, b"Hello, World!")
                continue
            if server is not None:                   # the one before: Ctrl-C, as a user would
                assert server.stop() == 0, server.stderr
            args = words[1:]
            if "--host" in args:                     # not every interface, in a test
                args[args.index("--host") + 1] = "127.0.0.1"
            if "--port" in args:
                args[args.index("--port") + 1] = "0"
            else:
                args += ["--port", "0"]
            server = Proc(cli() + args, tmp_path, catzilla_env())
            started.append(server)
            workers = int(option(args, "--workers") or 1)
            server.wait_ready(workers, timeout=30)
            status, _, body = get(server.port, "/")
            assert (status, body) == (200, b"Hello, World!"), (c.text, status, body)
            if "--access-log" in args:
                server.wait_output(r'"GET / HTTP/1\.1" 200 ')
        assert server is not None and server.stop() == 0, server.stderr
    finally:
        for p in started:
            p.close()


# -- Load testing, Benchmarks ----------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.timeout(90)
def test_the_locust_command_runs_against_the_demo(tmp_path):
    needs_tree("loadtests/locustfile.py", "examples/app.py")
    [c] = commands("locust")
    words = c.text.split()
    assert option(words, "-t") == "30s" and option(words, "--host") == "http://127.0.0.1:8000", words
    words[words.index("-t") + 1] = "3s"                 # the same run, shorter
    with launcher(tmp_path) as run:
        demo = run.start([sys.executable, str(ROOT / "examples" / "app.py")], PORT="0")
        words[words.index("--host") + 1] = f"http://127.0.0.1:{demo.port}"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("LOCUST_", "STREAM_", "UPLOAD_", "WS_", "SSE_", "CATZILLA_HOST"))}
        argv = [sys.executable, "-m", "locust"] + words[1:] + [
            "--only-summary", "--loglevel", "WARNING", "--csv", str(tmp_path / "run")]
        r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    output = (r.stdout + r.stderr)[-3000:]
    assert r.returncode == 0, output
    with open(tmp_path / "run_stats.csv", newline="") as f:
        stats = {(row["Type"], row["Name"]): row for row in csv.DictReader(f)}
    total = stats[("", "Aggregated")]
    assert int(total["Request Count"]) > 0 and int(total["Failure Count"]) == 0, output


def benchmark_script(name: str):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_the_benchmark_commands_parse_with_the_scripts_own_parsers():
    """benchmarks/run.py and soak.py run for minutes to hours on the whole machine:
    their own parsers and name checks (every peer, scenario and --before revision)
    take the README's arguments."""
    needs_tree("benchmarks/run.py", "benchmarks/soak.py")
    run, soak = benchmark_script("run"), benchmark_script("soak")
    bench, soaks = commands("bench"), commands("soak")
    assert len(bench) >= 5 and soaks
    for c in bench + soaks:
        script = run if c.kind == "bench" else soak
        ap = script.build_parser()
        try:
            args = ap.parse_args(c.text.split()[2:])
            if script is run:
                peers, scenarios, before = run.resolve_args(ap, args)
                assert peers and scenarios
            else:
                assert soak.scenario_names(ap, args)
        except SystemExit:
            pytest.fail(f"README.md:{c.block.line}: {c.text!r} is refused (its error is above)")


# -- text: the watchdog's warnings -------------------------------------------------------------

TIMESTAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


def expected_line(readme_line: str, tail: str) -> "re.Pattern":
    """A README log line as a pattern: its time, pid and duration left open; a
    tail of '; ...' stands for the first line's tail."""
    m = re.fullmatch(rf"({TIMESTAMP}) \[(\d+)\] (WARNING catzilla: the event loop was blocked for )"
                     rf"(\d+\.\d{{3}})( s in .*?)(; .*)", readme_line)
    assert m, readme_line
    assert float(m.group(4)) > 0.1, "a warning is for a stall longer than block_warning"
    end = tail if m.group(6) == "; ..." else m.group(6)
    return re.compile(rf"{TIMESTAMP} \[\d+\] {re.escape(m.group(3))}(\d+\.\d{{3}}){re.escape(m.group(5) + end)}")


@pytest.mark.wheel
@pytest.mark.slow
def test_the_watchdog_logs_what_the_readme_shows(tmp_path):
    [i] = [i for i, b in enumerate(BLOCKS) if b.lang == "text" and is_watchdog_output(b)]
    sample, output = BLOCKS[i - 1], BLOCKS[i]
    assert sample.lang == "python", "the watchdog's output follows the app that logs it"
    lines = output.code.strip().split("\n")
    tail = re.search(r"(; every connection.*)$", lines[0]).group(1)
    patterns = [expected_line(line, tail) for line in lines]
    (tmp_path / "app.py").write_text(sample.code)
    with launcher(tmp_path) as run:
        server = run("app:app")
        for line in lines:                  # the requests the lines name, on their route patterns
            path = concrete(re.search(r" s in GET (\S+)", line).group(1))
            assert get(server.port, path)[0] == 200, path
        server.wait_output("the event loop was blocked", count=len(lines))
        logged = [line.rstrip("\n") for line in server.err if "the event loop was blocked" in line]
        assert server.stop() == 0
    assert len(logged) == len(lines), logged
    for pattern, line in zip(patterns, logged):
        m = pattern.fullmatch(line)
        assert m, f"README: {pattern.pattern}\nlogged: {line}"
        assert float(m.group(1)) > 0.1, line


# -- the converters' table (Routing) -----------------------------------------------------------

def test_the_converter_table_says_what_the_router_accepts():
    """Every converter is in the table, and each row's examples are matched (to
    a value of the type it names) and its counter-examples refused."""
    import uuid

    from catzilla import router
    section = README[README.index("## Routing"):README.index("## Blocking code")]
    rows = re.findall(r"^\| `(\w+)`(?: \(default\))? \|[^|]+\|([^|]*)\|([^|]*)\| `([\w.]+)` \|$", section, re.M)
    assert {name for name, *_ in rows} == set(router._CONVERTERS), rows
    types = {"str": str, "int": int, "float": float, "uuid.UUID": uuid.UUID}
    for name, accepted, refused, value_type in rows:
        r = router.Router()
        route = r.add(f"/x/{{v:{name}}}", lambda request, v: v)
        examples = re.findall(r"`([^`]+)`", accepted)
        assert examples, name
        for text in examples:
            m = r.find("GET", "/x/" + text)
            assert m.route is route, (name, text)
            assert type(m.params["v"]) is types[value_type], (name, text, m.params)
        for text in re.findall(r"`([^`]+)`", refused):
            assert r.find("GET", "/x/" + text).route is None, (name, text)
