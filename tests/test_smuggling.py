"""Request smuggling and malformed framing (design.md §4, RFC 9112 §6 and §7).

Each shape is sent as raw bytes followed, in the SAME send, by a valid hidden
request for /secret. The server must answer the first request with the error
status (400, or 505 for an unsupported HTTP version), close the connection,
and never process the hidden request (the /secret handler counts calls).

Policy decisions, taken from include/cz_http.[ch]:
- Transfer-Encoding must be exactly one field whose value is "chunked"
  (case-insensitive, OWS around it): two TE fields, even both "chunked", are
  a 400 (RFC 9112 §6.1 would allow combining them; the parser refuses).
- Content-Length may appear once; a repeated field is a 400 even with the
  same value (RFC 9112 §6.3 allows accepting identical values).
- A well-formed HTTP-version other than 1.0/1.1 is a 505 (HTTP/2.0, HTTP/1.2,
  HTTP/0.9 written as "HTTP/0.9"); a malformed one is a 400.
"""
import pytest

from catzilla import Catzilla
from wire import RawClient, build_request, get, parse_responses

SECRET = b"GET /secret HTTP/1.1\r\nHost: t\r\n\r\n"


@pytest.fixture
def server(serve):
    app = Catzilla()
    hits = {"secret": 0, "post": 0}

    @app.get("/secret")
    def secret(request):
        hits["secret"] += 1
        return "SECRET"

    @app.route("/", methods=["GET", "POST"])
    def root(request):
        if request.method == "POST":
            hits["post"] += 1
        return "root"

    return serve(app), hits


def H(*lines, body=b""):
    """A request head from lines (the request line first), CRLF-joined."""
    return b"".join(line + b"\r\n" for line in lines) + b"\r\n" + body


POST = b"POST / HTTP/1.1"
HOST = b"Host: t"

CASES = [
    # --- Content-Length / Transfer-Encoding conflicts
    ("cl-and-te", 400, H(POST, HOST, b"Content-Length: 5", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n")),
    ("te-and-cl", 400, H(POST, HOST, b"Transfer-Encoding: chunked", b"Content-Length: 5", body=b"0\r\n\r\n")),
    ("cl-and-te-identity", 400, H(POST, HOST, b"Content-Length: 5", b"Transfer-Encoding: identity",
                                  body=b"hello")),
    ("two-different-cl", 400, H(POST, HOST, b"Content-Length: 5", b"Content-Length: 40", body=b"hello")),
    ("two-same-cl", 400, H(POST, HOST, b"Content-Length: 5", b"Content-Length: 5", body=b"hello")),
    ("cl-plus-sign", 400, H(POST, HOST, b"Content-Length: +5", body=b"hello")),
    ("cl-minus-sign", 400, H(POST, HOST, b"Content-Length: -5", body=b"hello")),
    ("cl-inner-space", 400, H(POST, HOST, b"Content-Length: 1 5", body=b"hello")),
    ("cl-comma-list", 400, H(POST, HOST, b"Content-Length: 5, 5", body=b"hello")),
    ("cl-comma-list-different", 400, H(POST, HOST, b"Content-Length: 5,40", body=b"hello")),
    ("cl-overflow", 400, H(POST, HOST, b"Content-Length: 18446744073709551621", body=b"hello")),
    ("cl-int64-overflow", 400, H(POST, HOST, b"Content-Length: 9223372036854775808", body=b"hello")),
    ("cl-hex", 400, H(POST, HOST, b"Content-Length: 0x5", body=b"hello")),
    ("cl-empty", 400, H(POST, HOST, b"Content-Length: ", body=b"hello")),
    ("cl-decimal-point", 400, H(POST, HOST, b"Content-Length: 5.0", body=b"hello")),
    ("cl-non-ascii-digit", 400, H(POST, HOST, "Content-Length: \u0665".encode("utf-8"), body=b"hello")),
    # --- Transfer-Encoding values
    ("te-gzip", 400, H(POST, HOST, b"Transfer-Encoding: gzip", body=b"0\r\n\r\n")),
    ("te-chunked-gzip", 400, H(POST, HOST, b"Transfer-Encoding: chunked, gzip", body=b"0\r\n\r\n")),
    ("te-gzip-chunked", 400, H(POST, HOST, b"Transfer-Encoding: gzip, chunked", body=b"0\r\n\r\n")),
    ("te-chunked-chunked-list", 400, H(POST, HOST, b"Transfer-Encoding: chunked, chunked", body=b"0\r\n\r\n")),
    ("te-twice", 400, H(POST, HOST, b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked",
                        body=b"0\r\n\r\n")),
    ("te-identity", 400, H(POST, HOST, b"Transfer-Encoding: identity", body=b"0\r\n\r\n")),
    ("te-xchunked", 400, H(POST, HOST, b"Transfer-Encoding: xchunked", body=b"0\r\n\r\n")),
    ("te-chunked-params", 400, H(POST, HOST, b"Transfer-Encoding: chunked;q=1", body=b"0\r\n\r\n")),
    ("te-quoted", 400, H(POST, HOST, b'Transfer-Encoding: "chunked"', body=b"0\r\n\r\n")),
    ("te-empty", 400, H(POST, HOST, b"Transfer-Encoding: ", body=b"0\r\n\r\n")),
    ("te-vertical-tab", 400, H(POST, HOST, b"Transfer-Encoding: \x0bchunked", body=b"0\r\n\r\n")),
    ("te-on-http10", 400, H(b"POST / HTTP/1.0", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n")),
    # --- header syntax
    ("space-before-colon-te", 400, H(POST, HOST, b"Transfer-Encoding : chunked", body=b"0\r\n\r\n")),
    ("space-before-colon-cl", 400, H(POST, HOST, b"Content-Length : 5", body=b"hello")),
    ("tab-before-colon", 400, H(POST, HOST, b"Content-Length\t: 5", body=b"hello")),
    ("obs-fold", 400, H(POST, HOST, b"X-A: a", b" folded", body=b"")),
    ("obs-fold-te", 400, H(POST, HOST, b"Transfer-Encoding:", b" chunked", body=b"0\r\n\r\n")),
    ("whitespace-before-first-header", 400, H(POST, b" Host: t")),
    ("bare-lf-request-line", 400, b"GET / HTTP/1.1\nHost: t\r\n\r\n"),
    ("bare-lf-header", 400, b"GET / HTTP/1.1\r\nHost: t\nX-A: 1\r\n\r\n"),
    ("bare-lf-end", 400, b"GET / HTTP/1.1\r\nHost: t\r\n\n"),
    ("all-bare-lf", 400, b"GET / HTTP/1.1\nHost: t\n\n"),
    ("bare-cr", 400, b"GET / HTTP/1.1\r\nHost: t\rX-A: 1\r\n\r\n"),
    ("nul-in-value", 400, H(b"GET / HTTP/1.1", HOST, b"X-A: a\x00b")),
    ("cr-in-value", 400, H(b"GET / HTTP/1.1", HOST, b"X-A: a\rb")),
    ("ctl-in-value", 400, H(b"GET / HTTP/1.1", HOST, b"X-A: a\x01b")),
    ("del-in-value", 400, H(b"GET / HTTP/1.1", HOST, b"X-A: a\x7fb")),
    ("nul-in-name", 400, H(b"GET / HTTP/1.1", HOST, b"X\x00A: 1")),
    ("bad-char-in-name", 400, H(b"GET / HTTP/1.1", HOST, b"X(A): 1")),
    ("empty-name", 400, H(b"GET / HTTP/1.1", HOST, b": 1")),
    ("no-colon", 400, H(b"GET / HTTP/1.1", HOST, b"X-A 1")),
    # --- Host
    ("missing-host", 400, H(b"GET / HTTP/1.1", b"X-A: 1")),
    ("two-hosts", 400, H(b"GET / HTTP/1.1", b"Host: a", b"Host: b")),
    ("two-same-hosts", 400, H(b"GET / HTTP/1.1", b"Host: a", b"Host: a")),
    ("bad-host-value", 400, H(b"GET / HTTP/1.1", b"Host: a b")),
    # --- chunked framing
    ("chunk-size-non-hex", 400, H(POST, HOST, b"Transfer-Encoding: chunked", body=b"zz\r\nhello\r\n0\r\n\r\n")),
    ("chunk-size-17-hex-digits", 400, H(POST, HOST, b"Transfer-Encoding: chunked",
                                        body=b"00000000000000005\r\nhello\r\n0\r\n\r\n")),
    ("chunk-size-overflow", 400, H(POST, HOST, b"Transfer-Encoding: chunked",
                                   body=b"10000000000000005\r\nhello\r\n0\r\n\r\n")),
    ("chunk-size-negative", 400, H(POST, HOST, b"Transfer-Encoding: chunked", body=b"-5\r\nhello\r\n0\r\n\r\n")),
    ("chunk-size-0x-prefix", 400, H(POST, HOST, b"Transfer-Encoding: chunked", body=b"0x5\r\nhello\r\n0\r\n\r\n")),
    ("chunk-size-leading-space", 400, H(POST, HOST, b"Transfer-Encoding: chunked",
                                        body=b" 5\r\nhello\r\n0\r\n\r\n")),
    ("chunk-size-empty", 400, H(POST, HOST, b"Transfer-Encoding: chunked", body=b"\r\nhello\r\n0\r\n\r\n")),
    ("chunk-size-bare-lf", 400, H(POST, HOST, b"Transfer-Encoding: chunked", body=b"5\nhello\r\n0\r\n\r\n")),
    ("chunk-data-no-crlf", 400, H(POST, HOST, b"Transfer-Encoding: chunked", body=b"5\r\nhelloXX0\r\n\r\n")),
    ("chunk-data-too-long", 400, H(POST, HOST, b"Transfer-Encoding: chunked", body=b"3\r\nhello\r\n0\r\n\r\n")),
    ("chunk-data-bare-lf", 400, H(POST, HOST, b"Transfer-Encoding: chunked", body=b"5\r\nhello\n0\r\n\r\n")),
    ("chunk-ext-bad-char", 400, H(POST, HOST, b"Transfer-Encoding: chunked",
                                  body=b"5;a@b\r\nhello\r\n0\r\n\r\n")),
    ("chunk-ext-ctl", 400, H(POST, HOST, b"Transfer-Encoding: chunked", body=b"5;a=\x01\r\nhello\r\n0\r\n\r\n")),
    ("chunk-ext-bare-cr", 400, H(POST, HOST, b"Transfer-Encoding: chunked",
                                 body=b"5;a=b\rX\r\nhello\r\n0\r\n\r\n")),
    ("chunk-ext-unterminated-quote", 400, H(POST, HOST, b"Transfer-Encoding: chunked",
                                            body=b'5;a="b\r\nhello\r\n0\r\n\r\n')),
    ("last-chunk-bad-trailer", 400, H(POST, HOST, b"Transfer-Encoding: chunked",
                                      body=b"5\r\nhello\r\n0\r\nBad Trailer\r\n\r\n")),
    ("last-chunk-trailer-obs-fold", 400, H(POST, HOST, b"Transfer-Encoding: chunked",
                                           body=b"5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n")),
    ("last-chunk-bare-lf-end", 400, H(POST, HOST, b"Transfer-Encoding: chunked", body=b"5\r\nhello\r\n0\r\n\n")),
    # --- request line
    ("method-bad-char", 400, b"GE(T / HTTP/1.1\r\nHost: t\r\n\r\n"),
    ("method-nul", 400, b"G\x00T / HTTP/1.1\r\nHost: t\r\n\r\n"),
    ("method-non-ascii", 400, "GÉT / HTTP/1.1\r\nHost: t\r\n\r\n".encode()),
    ("method-empty", 400, b" / HTTP/1.1\r\nHost: t\r\n\r\n"),
    ("two-spaces-after-method", 400, b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n"),
    ("two-spaces-before-version", 400, b"GET /  HTTP/1.1\r\nHost: t\r\n\r\n"),
    ("tab-separator", 400, b"GET\t/ HTTP/1.1\r\nHost: t\r\n\r\n"),
    ("trailing-space-after-version", 400, b"GET / HTTP/1.1 \r\nHost: t\r\n\r\n"),
    ("space-in-target", 400, b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n"),
    ("nul-in-target", 400, b"GET /a\x00b HTTP/1.1\r\nHost: t\r\n\r\n"),
    ("non-ascii-in-target", 400, "GET /café HTTP/1.1\r\nHost: t\r\n\r\n".encode()),
    ("http09", 400, b"GET /\r\n\r\n"),
    ("lowercase-version", 400, b"GET / http/1.1\r\nHost: t\r\n\r\n"),
    ("version-no-minor", 400, b"GET / HTTP/1\r\nHost: t\r\n\r\n"),
    ("version-two-digit-minor", 400, b"GET / HTTP/1.10\r\nHost: t\r\n\r\n"),
    ("version-two-digit-major", 400, b"GET / HTTP/11.1\r\nHost: t\r\n\r\n"),
    ("http2", 505, b"GET / HTTP/2.0\r\nHost: t\r\n\r\n"),
    ("http12", 505, b"GET / HTTP/1.2\r\nHost: t\r\n\r\n"),
    ("http19", 505, b"GET / HTTP/1.9\r\nHost: t\r\n\r\n"),
    ("http30", 505, b"GET / HTTP/3.0\r\nHost: t\r\n\r\n"),
    ("http09-explicit", 505, b"GET / HTTP/0.9\r\nHost: t\r\n\r\n"),
    ("h2-preface", 505, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
]


@pytest.mark.parametrize("status,raw", [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_smuggling_shape_rejected_and_hidden_request_never_answered(server, status, raw):
    addr, hits = server
    with RawClient(addr, timeout=3) as c:
        c.send(raw + SECRET)
        data = c.wait_closed(3)     # the server closes by itself
    responses = parse_responses(data)
    assert [r.status for r in responses] == [status], f"got {data!r}"
    r = responses[0]
    assert r.header("connection", "").lower() == "close"
    assert r.header("content-length") == str(len(r.body))
    assert b"SECRET" not in data
    assert hits == {"secret": 0, "post": 0}
    # the server is fine: the hidden request works when sent on its own
    assert get(addr, "/secret").body == b"SECRET"


def test_valid_request_then_malformed_one_in_same_send(server):
    # The good request is answered, the bad one gets its 400, nothing after it runs.
    addr, hits = server
    raw = build_request("GET", "/") + H(POST, HOST, b"Content-Length: 5", b"Content-Length: 6",
                                         body=b"hello") + SECRET
    with RawClient(addr, timeout=3) as c:
        c.send(raw)
        data = c.wait_closed(3)
    responses = parse_responses(data)
    assert [(r.status, r.body) for r in responses][:1] == [(200, b"root")]
    assert [r.status for r in responses] == [200, 400]
    assert hits["secret"] == 0


@pytest.mark.parametrize("split", [1, 7, 30, 60])
def test_smuggling_rejected_when_split_across_reads(server, split):
    # The verdict does not depend on how the bytes arrive.
    addr, hits = server
    raw = H(POST, HOST, b"Content-Length: 5", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n") + SECRET
    with RawClient(addr, timeout=3) as c:
        c.send(raw[:split])
        try:
            c.send(raw[split:])
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = c.wait_closed(3)
    assert [r.status for r in parse_responses(data)] == [400]
    assert hits["secret"] == 0


def test_chunked_body_with_smuggled_request_in_chunk_data_is_just_data(server):
    # A request inside chunk data is payload, not a request.
    addr, hits = server
    inner = SECRET
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(inner), inner)
    with RawClient(addr, timeout=3) as c:
        c.send(H(POST, HOST, b"Transfer-Encoding: chunked", body=body) + build_request("GET", "/"))
        assert c.read_response().body == b"root"
        assert c.read_response().body == b"root"
    assert hits == {"secret": 0, "post": 1}


def test_content_length_body_containing_a_request_is_just_data(server):
    addr, hits = server
    with RawClient(addr, timeout=3) as c:
        c.send(H(POST, HOST, b"Content-Length: %d" % len(SECRET), body=SECRET))
        assert c.read_response().body == b"root"
        assert c.is_open()
    assert hits == {"secret": 0, "post": 1}


@pytest.mark.parametrize("raw", [
    H(POST, HOST, b"Transfer-Encoding: CHUNKED", body=b"0\r\n\r\n"),
    H(POST, HOST, b"Transfer-Encoding:chunked", body=b"0\r\n\r\n"),
    H(POST, HOST, b"Transfer-Encoding: \tchunked \t", body=b"0\r\n\r\n"),
    H(POST, HOST, b"Content-Length: 005", body=b"hello"),
    H(POST, HOST, b"Content-Length:  5  ", body=b"hello"),
    H(POST, HOST, b"content-length: 5", body=b"hello"),
    H(POST, b"HOST: t", b"Content-Length: 0"),
    H(b"GET / HTTP/1.0"),                          # no Host needed on 1.0
    b"\r\n" + H(b"GET / HTTP/1.1", HOST),          # one leading empty line is allowed (RFC 9112 §2.2)
], ids=["te-upper", "te-no-ows", "te-ows-tabs", "cl-leading-zeros", "cl-ows", "cl-lower-name", "host-upper",
        "http10-no-host", "leading-crlf"])
def test_valid_edge_forms_are_accepted(server, raw):
    # The strict policy must not reject legitimate variants.
    addr, hits = server
    with RawClient(addr, timeout=3) as c:
        c.send(raw)
        r = c.read_response()
        assert (r.status, r.body) == (200, b"root")
