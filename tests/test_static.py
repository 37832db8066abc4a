"""Static directories (catzilla/staticfiles.py): files, index.html and the
redirect, HEAD, Range, ETag/304, precompressed siblings chosen by
Accept-Encoding, symlinks, dotfiles, definition-time errors, and a list of
path-traversal attempts -- sent as raw bytes over real sockets to a server in
its own process (tests/apps/static_app.py), which audits every file it opens.

What the server does before StaticFiles sees a path (checked here too): the
path is percent-decoded once (%2e%2e -> "..", %2f -> "/", %5c -> "\\",
%00 -> NUL), invalid UTF-8 becomes U+FFFD (so overlong %c0%ae is never "."),
nothing is normalised; a raw NUL, space or non-ASCII byte in the target is a
400 from the parser. The absolute form's path is used as it is."""
import gzip
import json
import os
import socket
import sys

import pytest

from catzilla import Catzilla, RouteError, StaticFiles
from catzilla.testing import TestClient
from procs import ROOT, launcher
from wire import parse_response

try:
    import brotli
except ImportError:          # the .br siblings are then opaque bytes: served byte-exact all the same
    brotli = None

APP = str(ROOT / "tests" / "apps" / "static_app.py")
SECRET = b"TOP-SECRET-7f3a9c1e-never-served"
OUTSIDE = b"outside the root, reachable through a symlink with follow_symlinks=True\n"
JS = b"".join(b"export const line%d = 'some javascript text, compressible';\n" % i for i in range(400))
CSS = b"body { color: #123456; }\n" * 200
PLAIN = b"0123456789abcdefghijklmnopqrstuvwxyz\n"
JS_TYPE = "text/javascript; charset=utf-8"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """site/secret.txt and site/outside.txt next to the served root site/public/."""
    site = tmp_path_factory.mktemp("site")
    (site / "secret.txt").write_bytes(SECRET)
    (site / "outside.txt").write_bytes(OUTSIDE)
    pub = site / "public"
    pub.mkdir()
    (pub / "index.html").write_bytes(b"<h1>home</h1>\n")
    (pub / "plain.txt").write_bytes(PLAIN)
    (pub / "app.js").write_bytes(JS)
    (pub / "app.js.gz").write_bytes(gzip.compress(JS, mtime=0))
    (pub / "app.js.br").write_bytes(brotli.compress(JS) if brotli else b"\xce\xb2r opaque " * 9)
    (pub / "style.css").write_bytes(CSS)
    (pub / "style.css.gz").write_bytes(gzip.compress(CSS, mtime=0))
    (pub / "archive.tar.gz").write_bytes(gzip.compress(b"a tar, say", mtime=0))
    (pub / "docs").mkdir()
    (pub / "docs" / "index.html").write_bytes(b"<h1>docs</h1>\n")
    (pub / "docs" / "index.html.gz").write_bytes(gzip.compress(b"<h1>docs</h1>\n", mtime=0))
    (pub / "empty-dir").mkdir()
    (pub / "a%b dir").mkdir()
    (pub / "a%b dir" / "index.html").write_bytes(b"percent dir\n")
    (pub / "50%.txt").write_bytes(b"fifty percent\n")
    (pub / "sp ace.txt").write_bytes(b"space\n")
    (pub / "ünï.txt").write_bytes(b"unicode\n")
    (pub / ".env").write_bytes(b"DOTFILE=1\n")
    os.symlink("plain.txt", pub / "link-in.txt")              # stays inside: served
    os.symlink("docs", pub / "linkdir-in")
    os.symlink("../secret.txt", pub / "link-secret.txt")      # leaves the root: 404, always asked of /assets
    os.symlink("../outside.txt", pub / "link-out.txt")        # leaves the root: served by /follow only
    os.symlink("..", pub / "linkdir-out")
    os.symlink("/etc/passwd", pub / "passwd")
    (pub / "leak.js").write_bytes(b"leak.js itself\n")
    os.symlink("../secret.txt", pub / "leak.js.gz")           # a sibling leaving the root: never used
    os.mkfifo(pub / "fifo")
    return site


@pytest.fixture(scope="module")
def server(site):
    with launcher(ROOT) as run:
        proc = run.start([sys.executable, APP], STATIC_SITE=str(site), PORT="0")
        yield proc


class Resp:
    def __init__(self, data: bytes, head_only: bool) -> None:
        self.raw = data
        r = parse_response(data, head_only)        # the whole answer is one response, exactly
        self.status, self.body = r.status, r.body
        self.headers = {}
        for name, value in r.header_list:
            self.headers.setdefault(name.lower(), []).append(value)

    def header(self, name):
        values = self.headers.get(name)
        if values is None:
            return None
        assert len(values) == 1, (name, values)
        return values[0]

    def __repr__(self):
        return f"<Resp {self.status} {self.raw[:200]!r}>"


def send(port: int, target: bytes, headers=None, method: bytes = b"GET") -> Resp:
    """One request whose target is sent exactly as given (no client-side
    normalisation), on its own connection; the whole answer, read until close."""
    extra = b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in (headers or {}).items())
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(method + b" " + target + b" HTTP/1.1\r\nHost: t\r\n" + extra + b"Connection: close\r\n\r\n")
        data = b""
        while len(data) < 1 << 22:
            part = s.recv(65536)
            if not part:
                break
            data += part
    assert data, f"no answer to {target!r}"
    return Resp(data, method == b"HEAD")


def opened(port):
    """The files the server opened since the previous call."""
    return json.loads(send(port, b"/_opened").body)


# -- plain files, HEAD, Range, validators -------------------------------------------

def test_file_is_served_byte_exact_with_validators(server, site):
    r = send(server.port, b"/assets/plain.txt")
    assert r.status == 200
    assert r.body == PLAIN
    assert r.header("content-type") == "text/plain; charset=utf-8"
    assert r.header("content-length") == str(len(PLAIN))
    st = os.stat(site / "public" / "plain.txt")
    assert r.header("etag") == f'"{st.st_size:x}-{st.st_mtime_ns:x}"'
    assert r.header("last-modified") is not None
    assert r.header("accept-ranges") == "bytes"
    assert r.header("vary") is None            # no sibling: one representation only
    assert r.header("content-encoding") is None


def test_head_has_the_headers_of_get_and_no_body(server):
    get = send(server.port, b"/assets/app.js", {"Accept-Encoding": "gzip"})
    head = send(server.port, b"/assets/app.js", {"Accept-Encoding": "gzip"}, method=b"HEAD")
    assert head.status == 200 and head.body == b""
    for name in ("content-type", "content-length", "content-encoding", "etag", "vary", "last-modified"):
        assert head.header(name) == get.header(name), name


def test_range_and_416(server):
    r = send(server.port, b"/assets/plain.txt", {"Range": "bytes=10-19"})
    assert r.status == 206
    assert r.body == PLAIN[10:20]
    assert r.header("content-range") == f"bytes 10-19/{len(PLAIN)}"
    r = send(server.port, b"/assets/plain.txt", {"Range": "bytes=-5"})
    assert r.status == 206 and r.body == PLAIN[-5:]
    r = send(server.port, b"/assets/plain.txt", {"Range": "bytes=1000-"})
    assert r.status == 416
    assert r.header("content-range") == f"bytes */{len(PLAIN)}"


def test_etag_and_if_modified_since_give_304(server):
    first = send(server.port, b"/assets/plain.txt")
    r = send(server.port, b"/assets/plain.txt", {"If-None-Match": first.header("etag")})
    assert r.status == 304 and r.body == b""
    assert r.header("etag") == first.header("etag")
    r = send(server.port, b"/assets/plain.txt", {"If-Modified-Since": first.header("last-modified")})
    assert r.status == 304
    r = send(server.port, b"/assets/plain.txt", {"If-None-Match": '"something-else"'})
    assert r.status == 200 and r.body == PLAIN


def test_other_methods_are_405(server):
    r = send(server.port, b"/assets/plain.txt", method=b"POST", headers={"Content-Length": "0"})
    assert r.status == 405
    assert r.header("allow") == "GET, HEAD"


@pytest.mark.parametrize("target, body", [
    (b"/assets/50%25.txt", b"fifty percent\n"),
    (b"/assets/sp%20ace.txt", b"space\n"),
    (b"/assets/%C3%BCn%C3%AF.txt", b"unicode\n"),
    (b"/assets/link-in.txt", PLAIN),                        # a symlink inside the root
    (b"/assets/linkdir-in/index.html", b"<h1>docs</h1>\n"),  # through a directory symlink inside
    (b"http://t/assets/plain.txt", PLAIN),                  # absolute form
    (b"/assets/plain.txt?v=3", PLAIN),
    (b"/assets/%70lain.txt", PLAIN),
])
def test_names_that_need_decoding(server, target, body):
    r = send(server.port, target)
    assert r.status == 200, r
    assert r.body == body


# -- directories ---------------------------------------------------------------------------

def test_index_html_and_the_slash_redirect(server):
    r = send(server.port, b"/assets/")
    assert r.status == 200 and r.body == b"<h1>home</h1>\n"
    assert r.header("content-type") == "text/html; charset=utf-8"
    r = send(server.port, b"/assets")
    assert r.status == 301 and r.header("location") == "/assets/"
    r = send(server.port, b"/assets/docs?x=1&y=%20z")
    assert r.status == 301 and r.header("location") == "/assets/docs/?x=1&y=%20z"
    r = send(server.port, b"/assets/docs/")
    assert r.status == 200 and r.body == b"<h1>docs</h1>\n"
    r = send(server.port, b"/assets/docs/", method=b"HEAD")
    assert r.status == 200 and r.body == b"" and r.header("content-length") == "14"
    # the index has a .gz sibling: negotiated like any file
    r = send(server.port, b"/assets/docs/", {"Accept-Encoding": "gzip"})
    assert r.header("content-encoding") == "gzip" and gzip.decompress(r.body) == b"<h1>docs</h1>\n"
    assert r.header("content-type") == "text/html; charset=utf-8"


def test_redirect_location_is_quoted_and_leads_to_the_index(server):
    r = send(server.port, b"/assets/a%25b%20dir")
    assert r.status == 301
    assert r.header("location") == "/assets/a%25b%20dir/"
    r = send(server.port, r.header("location").encode())
    assert r.status == 200 and r.body == b"percent dir\n"


@pytest.mark.parametrize("target", [
    b"/assets/empty-dir", b"/assets/empty-dir/",       # no index, no listing
    b"/assets/plain.txt/",                              # a file is not a directory
    b"/assets/missing.txt", b"/assets/missing/",
    b"/assets/fifo",                                    # not a regular file
    b"/raw/", b"/raw", b"/raw/docs/",                   # index=None
])
def test_not_found(server, target):
    assert send(server.port, target).status == 404


# -- precompressed siblings ----------------------------------------------------------------

def read(site, name):
    return (site / "public" / name).read_bytes()


@pytest.mark.parametrize("accept, coding", [
    (None, None),
    ("", None),
    ("gzip", "gzip"),
    ("br", "br"),
    ("gzip, br", "br"),                      # tie: the server prefers br
    ("br;q=0.5, gzip", "gzip"),
    ("br;q=0.5, gzip;q=0.4", "br"),
    ("BR;Q=0.1, GZIP;q=0.9", "gzip"),
    ("br;q=0, gzip;q=0", None),
    ("br;q=0, gzip;q=0.001", "gzip"),
    ("identity, gzip;q=0.5", None),
    ("identity;q=0, gzip", "gzip"),
    ("*", "br"),
    ("*;q=0", None),
    ("*, br;q=0", "gzip"),
    ("x-gzip", "gzip"),
    ("deflate, zstd", None),
    ("gzip;q=7, br;q=abc", None),            # malformed weights: elements ignored
])
def test_precompressed_sibling_chosen_by_accept_encoding(server, site, accept, coding):
    r = send(server.port, b"/assets/app.js", {"Accept-Encoding": accept} if accept is not None else None)
    assert r.status == 200
    assert r.header("content-type") == JS_TYPE                  # the original's media type
    assert r.header("vary") == "Accept-Encoding"
    assert r.header("content-encoding") == coding
    expected = read(site, {"gzip": "app.js.gz", "br": "app.js.br", None: "app.js"}[coding])
    assert r.body == expected and r.header("content-length") == str(len(expected))
    if coding == "gzip":
        assert gzip.decompress(r.body) == JS
    if coding == "br" and brotli is not None:
        assert brotli.decompress(r.body) == JS


def test_only_existing_siblings_are_offered(server, site):
    r = send(server.port, b"/assets/style.css", {"Accept-Encoding": "br"})     # no style.css.br
    assert r.header("content-encoding") is None and r.body == CSS
    assert r.header("vary") == "Accept-Encoding"
    r = send(server.port, b"/assets/style.css", {"Accept-Encoding": "br, gzip;q=0.2"})
    assert r.header("content-encoding") == "gzip" and gzip.decompress(r.body) == CSS
    assert r.header("content-type") == "text/css; charset=utf-8"


def test_each_representation_has_its_own_etag_and_304(server):
    etags = {}
    for accept in ("identity", "gzip", "br"):
        etags[accept] = send(server.port, b"/assets/app.js", {"Accept-Encoding": accept}).header("etag")
    assert len(set(etags.values())) == 3, etags
    r = send(server.port, b"/assets/app.js", {"Accept-Encoding": "gzip", "If-None-Match": etags["gzip"]})
    assert r.status == 304 and r.body == b""
    assert r.header("vary") == "Accept-Encoding" and r.header("etag") == etags["gzip"]
    # the identity validator does not validate the gzip bytes
    r = send(server.port, b"/assets/app.js", {"Accept-Encoding": "gzip", "If-None-Match": etags["identity"]})
    assert r.status == 200 and r.header("content-encoding") == "gzip"


def test_range_applies_to_the_compressed_bytes(server, site):
    gz = read(site, "app.js.gz")
    r = send(server.port, b"/assets/app.js", {"Accept-Encoding": "gzip", "Range": "bytes=0-99"})
    assert r.status == 206
    assert r.header("content-encoding") == "gzip"
    assert r.header("content-range") == f"bytes 0-99/{len(gz)}"
    assert r.body == gz[:100]


def test_a_compressed_file_asked_for_itself_is_sent_as_is(server, site):
    for accept in (None, "gzip"):
        r = send(server.port, b"/assets/app.js.gz", {"Accept-Encoding": accept} if accept else None)
        assert r.status == 200
        assert r.header("content-type") == "application/gzip"
        assert r.header("content-encoding") is None
        assert r.body == read(site, "app.js.gz")
    r = send(server.port, b"/assets/archive.tar.gz", {"Accept-Encoding": "gzip"})
    assert r.header("content-type") == "application/gzip" and r.header("content-encoding") is None


def test_precompressed_off(server):
    r = send(server.port, b"/raw/app.js", {"Accept-Encoding": "gzip, br"})
    assert r.status == 200 and r.body == JS
    assert r.header("content-encoding") is None and r.header("vary") is None


def test_a_sibling_leaving_the_root_is_ignored(server):
    r = send(server.port, b"/assets/leak.js", {"Accept-Encoding": "gzip"})
    assert r.status == 200 and r.body == b"leak.js itself\n"
    assert r.header("content-encoding") is None and r.header("vary") is None
    assert SECRET not in r.raw


# -- symlinks and dotfiles ------------------------------------------------------------------

def test_symlinks_leaving_the_root(server):
    for target in (b"/assets/link-out.txt", b"/assets/linkdir-out/outside.txt", b"/assets/passwd"):
        assert send(server.port, target).status == 404, target
    r = send(server.port, b"/follow/link-out.txt")
    assert r.status == 200 and r.body == OUTSIDE
    r = send(server.port, b"/follow/linkdir-out/outside.txt")
    assert r.status == 200 and r.body == OUTSIDE
    # following symlinks does not relax the rules on the path itself
    for target in (b"/follow/../outside.txt", b"/follow/%2e%2e/outside.txt", b"/follow//etc/passwd"):
        assert send(server.port, target).status == 404, target


def test_dotfiles(server):
    assert send(server.port, b"/assets/.env").status == 404
    assert send(server.port, b"/assets/%2eenv").status == 404
    r = send(server.port, b"/dots/.env")
    assert r.status == 200 and r.body == b"DOTFILE=1\n"
    assert send(server.port, b"/dots/..").status == 404
    assert send(server.port, b"/dots/../secret.txt").status == 404


# -- traversal --------------------------------------------------------------------------------

TRAVERSAL = [
    b"/assets/../secret.txt",
    b"/assets/%2e%2e/secret.txt",
    b"/assets/%2E%2E%2Fsecret.txt",
    b"/assets/..%2fsecret.txt",
    b"/assets/.%2e/secret.txt",
    b"/assets/%2e./secret.txt",
    b"/assets/..%5csecret.txt",
    b"/assets/..\\secret.txt",
    b"/assets/\\..\\secret.txt",
    b"/assets/%5c..%5csecret.txt",
    b"/assets/%00",
    b"/assets/a%00.txt",
    b"/assets/plain.txt%00.html",
    b"/assets/../secret.txt%00.txt",
    b"/assets//etc/passwd",
    b"/assets/%2fetc%2fpasswd",
    b"/assets/%2F..%2F..%2Fsecret.txt",
    b"/assets/" + b"../" * 20 + b"etc/passwd",
    b"/assets/" + b"%2e%2e%2f" * 20 + b"etc%2fpasswd",
    b"/assets/docs/../../secret.txt",
    b"/assets/docs/%2e%2e/%2e%2e/secret.txt",
    b"/assets/./../secret.txt",
    b"/assets/./plain.txt",
    b"/assets/docs/..",
    b"/assets/docs/.",
    b"/assets/....//secret.txt",
    b"/assets/....//....//secret.txt",
    b"/assets/..../secret.txt",
    b"/assets/..;/secret.txt",
    b"/assets/%c0%ae%c0%ae/secret.txt",                  # overlong UTF-8 "."
    b"/assets/%c0%ae%c0%ae%c0%afsecret.txt",             # ... and "/"
    b"/assets/%e0%80%ae%e0%80%ae/secret.txt",
    b"/assets/%25%32%65%25%32%65/secret.txt",            # double-encoded: decoded once only
    b"/assets/%252e%252e%252fsecret.txt",
    b"/assets/%u002e%u002e/secret.txt",                  # IIS-style: not an escape here
    b"/assets/C:/secret.txt",
    b"/assets/C:%5csecret.txt",
    b"/assets/c:secret.txt",
    b"/assets/link-secret.txt",                          # symlink leaving the root
    b"/assets/linkdir-out/secret.txt",
    b"/assets/linkdir-out/public/../secret.txt",
    b"/assets/passwd",
    b"/assets/.env",
    b"/assets/%2e%2e",
    b"/assets/..",
    b"/assets/../",
    b"/assets/%2e%2e/",
    b"http://t/assets/../secret.txt",                     # absolute form
    b"http://t/assets/%2e%2e/secret.txt",
    b"http://t/assets/..%2f..%2fsecret.txt",
    b"http://t/assets//etc/passwd",
    b"/assets/a\x00b",                                    # raw bytes the parser refuses (400)
    b"/assets/..\xc0\xae/secret.txt",
    b"/assets/.. /secret.txt",
]


def test_traversal_attempts_read_nothing_outside_the_root(server, site):
    root = os.path.realpath(site / "public")
    opened(server.port)                                     # start afresh
    answers = {}
    for target in TRAVERSAL:
        r = send(server.port, target)
        answers[target] = r.status
        assert SECRET not in r.raw, target
        assert b"root:" not in r.body, target             # /etc/passwd
        assert OUTSIDE not in r.raw, target
    bad = {t: s for t, s in answers.items() if s not in (400, 404)}
    assert not bad, bad
    assert 400 in answers.values() and 404 in answers.values()
    outside = [p for p in opened(server.port) if not p.startswith(root + os.sep)]
    assert outside == [], outside


def test_only_the_requested_file_is_opened(server, site):
    root = os.path.realpath(site / "public")
    opened(server.port)
    send(server.port, b"/assets/app.js", {"Accept-Encoding": "gzip"})
    send(server.port, b"/assets/link-in.txt")
    send(server.port, b"/assets/docs/")
    assert opened(server.port) == [os.path.join(root, "app.js.gz"), os.path.join(root, "plain.txt"),
                                   os.path.join(root, "docs", "index.html")]


def test_the_server_survives(server):
    assert send(server.port, b"/assets/plain.txt").body == PLAIN
    assert "Traceback" not in server.stderr, server.stderr


# -- definitions and the TestClient ---------------------------------------------------------

def test_missing_or_bad_directory_fails_at_definition(tmp_path):
    app = Catzilla()
    with pytest.raises(FileNotFoundError, match="nope"):
        app.static("/assets", tmp_path / "nope")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="file"):
        app.static("/assets", str(tmp_path / "file"))
    assert app.router.routes == []
    with pytest.raises(RouteError):
        app.static("assets", tmp_path)
    with pytest.raises(RouteError):
        app.static("/u/{id}", tmp_path)
    with pytest.raises(TypeError):
        app.static("/assets", tmp_path, no_such_option=True)
    with pytest.raises(ValueError):
        StaticFiles(tmp_path, index="../index.html")
    assert app.router.routes == []


def test_a_conflicting_mount_adds_no_route(tmp_path):
    app = Catzilla()

    @app.get("/assets")
    def assets(request):
        return "mine"
    with pytest.raises(RouteError):
        app.static("/assets", tmp_path)
    assert [r.path for r in app.router.routes] == ["/assets"]


def test_url_path_for(site):
    app = Catzilla()
    app.static("/assets", site / "public", name="assets")
    app.static("/other/", site / "public")
    assert app.url_path_for("assets", path="css/a b.css") == "/assets/css/a%20b.css"
    assert app.url_path_for("assets") == "/assets/"
    assert app.url_path_for("static:/other", path="x.js") == "/other/x.js"


def test_mounted_at_the_root(site):
    app = Catzilla()

    @app.get("/api")
    def api(request):
        return {"ok": True}
    app.static("/", site / "public")
    with TestClient(app) as client:
        assert client.get("/").content == b"<h1>home</h1>\n"
        assert client.get("/plain.txt").content == PLAIN
        assert client.get("/api").json() == {"ok": True}    # routes win over the mount
        r = client.get("/docs")
        assert r.status_code == 301 and r.headers["location"] == "/docs/"
        assert client.get("/docs/").content == b"<h1>docs</h1>\n"
        assert client.get("/../secret.txt").status_code == 404
        assert client.get("//etc/passwd").status_code == 404


def test_relative_directory_is_taken_from_the_current_directory(site, monkeypatch):
    monkeypatch.chdir(site)
    app = Catzilla()
    files = app.static("/s", "public")
    assert files.directory == str(site / "public")
    monkeypatch.chdir("/")
    with TestClient(app) as client:
        assert client.get("/s/plain.txt").content == PLAIN
