"""The `catzilla` command (also `python -m catzilla`).

    catzilla run module:app [--host H] [--port P] [--workers N] [--reload] ...

Exit status: 0 after a normal (graceful) stop, 1 when the server cannot run
(address in use) or fails while serving, 2 for usage errors and an app that
cannot be loaded, 3 when the app failed to start (a startup hook raised; with
--workers N, no worker could start), 4 when workers kept crashing (a crash
loop). Nothing says "serving" before the startup hooks have completed."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from types import ModuleType
from typing import Any, List, Optional, Sequence, Tuple

from catzilla import runner
from catzilla.runner import AppLoadError   # raised by load_app; the supervisor shows its message alone

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_BOOT = 3
EXIT_CRASH_LOOP = 4

LOG_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
ACCESS_FORMAT = "%(asctime)s [%(process)d] %(message)s"

DESCRIPTION = "Catzilla: a Cython-compiled Python web micro-framework with real HTTP streaming."

RUN_DESCRIPTION = """\
Import an application and serve it over HTTP/1.1.

APP is 'module:attribute', where module is an importable module name (the
current directory is on the import path) and attribute names a Catzilla
instance in it:
  module:app           the object `app` in module.py (':app' may be left out)
  package.sub:api      a dotted module, the object `api`
  module:create_app()  call the factory `create_app()` and serve what it returns
                       (quote it in a shell: 'module:create_app()')

Stopping: Ctrl-C or SIGTERM stops accepting, lets in-flight requests and
streams finish for up to --shutdown-timeout seconds, closes what is left (so
generators' finally: blocks run), and exits with status 0. With the app's
drain_delay setting, it first serves on for that long while its health_path
answers 503 (for a load balancer to notice).

With --workers N (N >= 2) a supervisor process forks N workers that share the
port; each worker imports the app itself. Signals to the supervisor:
  SIGHUP   reload without downtime: N new workers import the code as it is
           now; once all of them serve, the old ones stop accepting and finish
           their requests and streams (up to --shutdown-timeout). If the new
           code fails to load or start, "reload failed" is logged and the old
           workers keep serving. A SIGHUP during a reload is queued: one more
           reload follows it.
  SIGTERM  (or Ctrl-C) drain every worker as above (after drain_delay), then
           exit 0. The old workers of a reload skip drain_delay: the new
           ones accept on the same socket.
A worker that dies (SIGKILL, the OOM killer, a crash) is replaced at once,
then after 0.5, 1, 2, 4 s while the same slot keeps dying; more than 5 deaths
of one slot within 60 s is a crash loop: the server stops with status 4.
A single process (--workers 1) ignores SIGHUP."""

RUN_EPILOG = """\
examples:
  catzilla run hello:app
  catzilla run hello:app --host 0.0.0.0 --port 8080 --workers 4
  kill -HUP <supervisor pid>                     # deploy: reload the workers, no downtime
  catzilla run 'myproject.web:create_app()' --access-log --log-level debug
  catzilla run hello:app --reload                # development: restart on code changes
  python -m catzilla run hello:app --workers 2   # the same command without the script

behind nginx (many machines, TLS, static files): see examples/deploy/README.md
"""


# -- loading the application ---------------------------------------------------


def _user_traceback(exc: BaseException) -> str:
    """The traceback of an exception raised by the user's code, without the
    frames of this module and of the import machinery in front of it."""
    tb = exc.__traceback__
    here = os.path.abspath(__file__)
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if (os.path.abspath(name) == here or name.startswith("<frozen importlib")
                or os.path.basename(os.path.dirname(name)) == "importlib"):
            tb = tb.tb_next
            continue
        break
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _catzilla_class() -> type:
    from catzilla.app import Catzilla
    return Catzilla


def _apps_in(module: ModuleType) -> List[str]:
    cls = _catzilla_class()
    return sorted(name for name, value in vars(module).items()
                  if isinstance(value, cls) and not name.startswith("_"))


def _describe(obj: Any) -> str:
    if obj is None:
        return "None"
    if isinstance(obj, ModuleType):
        return f"module {obj.__name__!r}"
    if isinstance(obj, type):
        return f"the class {obj.__module__}.{obj.__qualname__}"
    if callable(obj) and hasattr(obj, "__qualname__"):
        return f"the function {obj.__qualname__}()"
    cls = type(obj)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name} object"


def parse_target(target: str) -> Tuple[str, str, bool]:
    """'pkg.mod:obj.attr()' -> ('pkg.mod', 'obj.attr', True)."""
    module_name, sep, attr = target.strip().partition(":")
    module_name, attr = module_name.strip(), attr.strip() if sep else "app"
    call = attr.endswith("()")
    if call:
        attr = attr[:-2].strip()
    if not module_name or not attr:
        raise AppLoadError(f"expected APP as 'module:app' or 'module:factory()', got {target!r}")
    if not all(part.isidentifier() for part in module_name.split(".")):
        hint = ""
        base = module_name[:-3] if module_name.endswith(".py") else module_name
        base = base.strip("./").replace("/", ".").replace(os.sep, ".")
        if base and all(part.isidentifier() for part in base.split(".")):
            hint = f"; did you mean '{base}:{attr}{'()' if call else ''}' (a module name, not a file path)?"
        raise AppLoadError(f"{module_name!r} is not a module name{hint}")
    if not all(part.isidentifier() for part in attr.split(".")):
        raise AppLoadError(f"{attr!r} is not an attribute name (expected 'module:app' or 'module:factory()')")
    return module_name, attr, call


def load_app(target: str) -> Any:
    """Import `module`, take `attribute` (calling it for 'module:factory()')
    and check that it is a Catzilla application. Raises AppLoadError with a
    message meant for a human."""
    module_name, attr, call = parse_target(target)
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            hint = ""
            if module_name.endswith(".py"):
                hint = f"; did you mean '{module_name[:-3]}:{attr}{'()' if call else ''}' (a module name, not a file)?"
            raise AppLoadError(f"cannot import {module_name!r}: there is no module named {missing!r} "
                               f"(looked in {cwd} and on sys.path){hint}") from None
        raise AppLoadError(f"importing {module_name!r} failed:\n{_user_traceback(exc)}") from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise AppLoadError(f"importing {module_name!r} failed:\n{_user_traceback(exc)}") from None

    obj: Any = module
    for i, part in enumerate(attr.split(".")):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            where = f"module {module_name!r}" if i == 0 else repr(".".join(attr.split(".")[:i]))
            msg = f"{where} has no attribute {part!r}"
            apps = _apps_in(module)
            if apps:
                msg += "; Catzilla apps in it: " + ", ".join(f"'{module_name}:{a}'" for a in apps)
            raise AppLoadError(msg) from None

    cls = _catzilla_class()
    if call:
        if not callable(obj):
            raise AppLoadError(f"'{module_name}:{attr}()' asks to call {_describe(obj)}, which is not callable")
        try:
            obj = obj()
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise AppLoadError(f"the factory '{module_name}:{attr}()' raised:\n{_user_traceback(exc)}") from None
        if not isinstance(obj, cls):
            raise AppLoadError(f"the factory '{module_name}:{attr}()' returned {_describe(obj)}, "
                               f"not a Catzilla application")
        return obj
    if not isinstance(obj, cls):
        msg = f"'{module_name}:{attr}' is {_describe(obj)}, not a Catzilla application"
        if callable(obj) and not isinstance(obj, type):
            msg += f"; if it is a factory that returns the app, write '{module_name}:{attr}()'"
        raise AppLoadError(msg)
    return obj


# -- logging -----------------------------------------------------------------------


def configure_logging(level: str, access_log: bool) -> None:
    """Server messages (and the app's own, through the root logger) on stderr
    at `level`; with `access_log`, one line per response from "catzilla.access"."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("catzilla").setLevel(level.upper())
    access = logging.getLogger("catzilla.access")
    if access_log:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(ACCESS_FORMAT))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False


# -- arguments ---------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _workers(text: str) -> int:
    if text == "auto":
        return os.cpu_count() or 1
    return _positive_int(text)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be between 0 and 65535")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0:       # also rejects nan
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    from catzilla import __version__

    parser = argparse.ArgumentParser(
        prog="catzilla", description=DESCRIPTION,
        epilog="Run 'catzilla run --help' for the server options.")
    parser.add_argument("--version", action="version", version=f"catzilla {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    run = commands.add_parser(
        "run", help="serve an application", description=RUN_DESCRIPTION, epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("app", metavar="APP", help="the application: 'module:app' or 'module:factory()'")
    net = run.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default: %(default)s; 0.0.0.0 or :: for every interface)")
    net.add_argument("--port", type=_port, default=8000,
                     help="TCP port (default: %(default)s; 0 picks a free one, shown at start)")
    net.add_argument("--backlog", type=_positive_int, default=2048,
                     help="listen queue length (default: %(default)s)")
    proc = run.add_argument_group("processes")
    proc.add_argument("--workers", type=_workers, default=1, metavar="N",
                      help="worker processes sharing the port; 'auto' = one per CPU (default: 1). "
                           "With 2 or more: SIGHUP to the supervisor reloads the code without "
                           "downtime, a worker that dies is replaced (see above).")
    proc.add_argument("--shutdown-timeout", type=_seconds, default=10.0, metavar="S",
                      help="on Ctrl-C/SIGTERM (and for the old workers of a SIGHUP reload), how long "
                           "in-flight requests and streams may run before they are cut (default: %(default)s)")
    proc.add_argument("--boot-timeout", type=_seconds, default=60.0, metavar="S",
                      help="with 2 or more workers: a worker not serving S seconds after it was "
                           "started (hung in an import or a startup hook) is killed and counts as "
                           "failed to start; a reload then fails (default: %(default)s)")
    proc.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto",
                      help="event loop; auto = uvloop when installed (default: %(default)s)")
    dev = run.add_argument_group("development")
    dev.add_argument("--reload", action="store_true",
                     help="restart the server when a .py/.pyx/.pxd file changes (not for production); "
                          "watchfiles (inotify) when installed (the reload extra, or pip install watchfiles), else "
                          "polling (also with CATZILLA_RELOAD_POLL=1)")
    dev.add_argument("--reload-dir", action="append", default=[], metavar="DIR",
                     help="directory to watch with --reload (repeatable; default: the current directory)")
    logs = run.add_argument_group("logging")
    logs.add_argument("--access-log", action="store_true",
                      help="log every response (method, path, status, bytes, duration) on stderr")
    logs.add_argument("--log-level", default="info",
                      choices=("critical", "error", "warning", "info", "debug"),
                      help="server log level (default: %(default)s)")
    # Internal: serve on an inherited, already listening socket (used by --reload).
    run.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)
    return parser


# -- commands ----------------------------------------------------------------------


def _error(message: str) -> None:
    print(f"catzilla: error: {message}", file=sys.stderr, flush=True)


def _child_argv(args: argparse.Namespace, fd: int) -> List[str]:
    """The command line of the server process that --reload supervises."""
    argv = [sys.executable, "-m", "catzilla", "run", args.app,
            "--fd", str(fd), "--workers", str(args.workers),
            "--shutdown-timeout", repr(args.shutdown_timeout), "--boot-timeout", repr(args.boot_timeout),
            "--loop", args.loop,
            "--log-level", args.log_level]
    if args.access_log:
        argv.append("--access-log")
    return argv


def _check_loop(kind: str) -> Optional[str]:
    if kind == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            return "--loop uvloop: uvloop is not installed (pip install uvloop)"
    return None


def _listen(args: argparse.Namespace) -> Any:
    from catzilla.runner import bind_socket
    import socket

    if args.fd is not None:
        sock = socket.socket(fileno=args.fd)
        sock.setblocking(False)
        return sock
    return bind_socket(args.host, args.port, args.backlog)


def cmd_run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.access_log)
    problem = _check_loop(args.loop)
    if problem:
        _error(problem)
        return EXIT_USAGE
    if not args.boot_timeout > 0:
        _error("--boot-timeout: must be > 0")
        return EXIT_USAGE
    if args.reload_dir and not args.reload:
        _error("--reload-dir needs --reload")
        return EXIT_USAGE
    if args.reload:
        for d in args.reload_dir:
            if not os.path.isdir(d):
                _error(f"--reload-dir {d!r} is not a directory")
                return EXIT_USAGE
        try:
            sock = _listen(args)
        except OSError as exc:
            _error(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
            return EXIT_FAILURE
        from catzilla.reload import Reloader
        dirs = [os.path.abspath(d) for d in (args.reload_dir or [os.getcwd()])]
        try:
            return Reloader(lambda: _child_argv(args, sock.fileno()), dirs, sock,
                            shutdown_timeout=args.shutdown_timeout).run()
        finally:
            sock.close()

    def load() -> Any:
        app = load_app(args.app)
        if args.access_log:
            app.settings = app.settings.replace(access_log=True)
        if args.fd is not None and app.settings.drain_delay:
            # Under --reload: the reloader keeps the socket open across restarts (nobody is
            # refused meanwhile), so a drain delay would only slow every restart down.
            app.settings = app.settings.replace(drain_delay=0.0)
        return app

    # One process: the app is loaded here, before listening. Several: each
    # worker loads it after the fork (so a SIGHUP reload runs new code), and
    # the supervisor shows the first worker's load error.
    app = None
    if args.workers == 1:
        try:
            app = load()
        except AppLoadError as exc:
            _error(str(exc).rstrip())
            return EXIT_USAGE
    try:
        sock = _listen(args)
    except OSError as exc:
        _error(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        return EXIT_FAILURE
    try:
        runner.run(app, workers=args.workers, shutdown_timeout=args.shutdown_timeout, loop=args.loop, sock=sock,
                   load=None if app is not None else load, boot_timeout=args.boot_timeout)
    except runner.WorkerLoadError as exc:
        _error(str(exc).rstrip())
        return EXIT_USAGE
    except runner.WorkerBootError as exc:
        _error(str(exc))
        return EXIT_BOOT
    except runner.CrashLoopError as exc:
        _error(str(exc))
        return EXIT_CRASH_LOOP
    except Exception:
        logging.getLogger("catzilla").exception("the server failed")
        return EXIT_FAILURE
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = cmd_run(args)
    except KeyboardInterrupt:          # Ctrl-C while importing the app, before the server runs
        code = 130
    return code


if __name__ == "__main__":
    sys.exit(main())
