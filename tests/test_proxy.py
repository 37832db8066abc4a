"""ProxyHeadersMiddleware over real sockets: forwarding headers are believed
only from a trusted peer; Forwarded (RFC 7239: quoting, IPv6, ports,
obfuscated and unknown nodes) before X-Forwarded-*; the chain walked from the
right; malformed values ignored; request.client, .scheme, .host and .url."""
from __future__ import annotations

import contextlib
import socket

import pytest

from catzilla import Catzilla, ProxyHeadersMiddleware, Request
from catzilla.runner import bind_socket
from conftest import _ServerThread
from wire import RawClient


def info_app(trusted=("127.0.0.1", "::1"), outer=None):
    app = Catzilla()
    if outer is not None:
        app.add_middleware(outer)
    app.add_middleware(ProxyHeadersMiddleware, trusted=trusted)

    @app.get("/info")
    def info(request):
        client = request.client
        return {"client": None if client is None else list(client[:2]), "scheme": request.scheme,
                "host": request.host, "url": request.url}

    return app


def ask(addr, lines=(), path="/info?x=1", host="backend:8000"):
    """GET with raw header lines (repeats allowed, exact bytes); the JSON answer."""
    head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n" + "".join(f"{line}\r\n" for line in lines) + "\r\n"
    with RawClient(addr) as c:
        c.send(head.encode("latin-1"))
        r = c.read_response()
    assert r.status == 200, r
    return r.json()


def client_of(addr, *lines):
    return ask(addr, lines)["client"]


def test_untrusted_peer_headers_are_ignored(serve):
    addr = serve(info_app(trusted=["10.0.0.0/8", "192.168.1.1"]))     # we connect from 127.0.0.1
    got = ask(addr, ["X-Forwarded-For: 203.0.113.7", "X-Forwarded-Proto: https",
                     "X-Forwarded-Host: evil.example", "Forwarded: for=198.51.100.1;proto=https;host=evil.example"])
    assert got["client"][0] == "127.0.0.1" and got["client"][1] > 0      # the real peer
    assert got == {"client": got["client"], "scheme": "http", "host": "backend:8000",
                   "url": "http://backend:8000/info?x=1"}


def test_no_forwarding_headers_leave_the_request_alone(serve):
    addr = serve(info_app())
    got = ask(addr)
    assert got["client"][0] == "127.0.0.1" and got["client"][1] > 0
    assert (got["scheme"], got["host"], got["url"]) == ("http", "backend:8000", "http://backend:8000/info?x=1")


def test_x_forwarded_headers_from_a_trusted_peer(serve):
    addr = serve(info_app())
    got = ask(addr, ["X-Forwarded-For: 203.0.113.7", "X-Forwarded-Proto: https",
                     "X-Forwarded-Host: api.example.com:8443"])
    assert got == {"client": ["203.0.113.7", 0], "scheme": "https", "host": "api.example.com:8443",
                   "url": "https://api.example.com:8443/info?x=1"}
    # wss/ws are the WebSocket names of https/http; case does not matter
    assert ask(addr, ["X-Forwarded-Proto: WSS"])["scheme"] == "https"
    assert ask(addr, ["X-Forwarded-Proto: ws"])["scheme"] == "http"


def test_the_chain_is_walked_from_the_right_past_trusted_proxies(serve):
    addr = serve(info_app(trusted=["127.0.0.1", "10.0.0.0/8", "fd00::/8"]))
    # the client can put anything left of its own address: never read
    assert client_of(addr, "X-Forwarded-For: 198.51.100.1, 203.0.113.7, 10.1.2.3") == ["203.0.113.7", 0]
    assert client_of(addr, "X-Forwarded-For: 6.6.6.6, 203.0.113.7, fd00::5, 10.0.0.2") == ["203.0.113.7", 0]
    assert client_of(addr, "X-Forwarded-For: not an address, 203.0.113.7") == ["203.0.113.7", 0]
    # every hop trusted: the leftmost
    assert client_of(addr, "X-Forwarded-For: 10.0.0.5, 10.0.0.6") == ["10.0.0.5", 0]
    # several fields are one list, in order; empty entries are nothing
    assert client_of(addr, "X-Forwarded-For: 198.51.100.9", "X-Forwarded-For: ,10.0.0.3,") == ["198.51.100.9", 0]
    # ports and IPv6 in every spelling found in the wild
    assert client_of(addr, "X-Forwarded-For: 203.0.113.7:5555") == ["203.0.113.7", 5555]
    assert client_of(addr, "X-Forwarded-For: [2001:db8::1]:80") == ["2001:db8::1", 80]
    assert client_of(addr, "X-Forwarded-For: 2001:DB8:0::1") == ["2001:db8::1", 0]
    # IPv4-mapped IPv6 (a dual-stack proxy): trusted as, and reported as, the IPv4 address
    assert client_of(addr, "X-Forwarded-For: ::ffff:203.0.113.7, ::ffff:10.0.0.1") == ["203.0.113.7", 0]


def test_proto_and_host_are_read_at_the_clients_hop(serve):
    addr = serve(info_app(trusted=["127.0.0.1", "10.0.0.0/8"]))
    # proxies that append: the entry at the client's hop (second from the right here)
    got = ask(addr, ["X-Forwarded-For: 203.0.113.7, 10.0.0.2", "X-Forwarded-Proto: https, http",
                     "X-Forwarded-Host: www.example.com, internal:8080"])
    assert (got["client"], got["scheme"], got["host"]) == (["203.0.113.7", 0], "https", "www.example.com")
    # a proxy that sets a single value: that value
    got = ask(addr, ["X-Forwarded-For: 203.0.113.7, 10.0.0.2", "X-Forwarded-Proto: https"])
    assert got["scheme"] == "https"


def test_malformed_values_are_ignored(serve):
    addr = serve(info_app())
    for value in ("ftp", "https://", "h ttps", ""):
        assert ask(addr, [f"X-Forwarded-Proto: {value}"])["scheme"] == "http", value
    for value in ("evil.example/path", "a b", "user@evil.example", "[zz::1]", "host:99999", "host:", "x" * 300,
                  "evil.example\\x", "<script>", "a.example,, b c"):
        got = ask(addr, [f"X-Forwarded-Host: {value}"])
        assert got["host"] == "backend:8000" and got["url"].startswith("http://backend:8000/"), value
    assert ask(addr, ["X-Forwarded-Host: [2001:db8::1]:8080"])["host"] == "[2001:db8::1]:8080"
    # a client "address" that is not one: the request keeps its peer
    for value in ("garbage", "1.2.3", "203.0.113.7:http", "[203.0.113.7]", "203.0.113.7:70000", "[::1"):
        client = client_of(addr, f"X-Forwarded-For: {value}")
        assert client[0] == "127.0.0.1" and client[1] > 0, value


def test_forwarded_header(serve):
    addr = serve(info_app(trusted=["127.0.0.1", "10.0.0.0/8"]))
    got = ask(addr, ["Forwarded: for=192.0.2.60;proto=https;host=api.example.com;by=10.0.0.1"])
    assert got == {"client": ["192.0.2.60", 0], "scheme": "https", "host": "api.example.com",
                   "url": "https://api.example.com/info?x=1"}
    # quoted IPv6 with a port, quoted host with a port, case-insensitive names, OWS around list commas
    got = ask(addr, ['Forwarded: For="[2001:db8:cafe::17]:4711";PROTO=HTTPS;Host="api.example.com:8443" ,'
                     ' for=10.0.0.1;proto=http'])
    assert got["client"] == ["2001:db8:cafe::17", 4711]
    assert (got["scheme"], got["host"]) == ("https", "api.example.com:8443")
    # quoted-pair escapes are undone
    assert client_of(addr, r'Forwarded: for="\1\9\2.0.2.1"') == ["192.0.2.1", 0]
    # obfuscated nodes and ports are kept as names; "unknown" is an unknown client
    assert client_of(addr, "Forwarded: for=_hidden") == ["_hidden", 0]
    assert client_of(addr, 'Forwarded: for="_hidden:_port"') == ["_hidden", 0]
    assert client_of(addr, 'Forwarded: for="_x.y-z:8080"') == ["_x.y-z", 8080]
    assert client_of(addr, "Forwarded: for=unknown") is None
    assert client_of(addr, 'Forwarded: for=unknown, for=10.0.0.1') is None
    # several fields and elements form one list; the walk is the same as for X-Forwarded-For
    got = ask(addr, ["Forwarded: for=6.6.6.6;proto=http, for=198.51.100.17;proto=https",
                     "Forwarded: for=10.0.0.1;proto=http"])
    assert (got["client"], got["scheme"]) == (["198.51.100.17", 0], "https")
    # an element without for= gives proto/host, and the nearest known hop as the client
    got = ask(addr, ["Forwarded: proto=https;host=app.example"])
    assert got["client"][0] == "127.0.0.1" and (got["scheme"], got["host"]) == ("https", "app.example")
    got = ask(addr, ["Forwarded: proto=https, for=10.0.0.7"])
    assert got["client"] == ["10.0.0.7", 0] and got["scheme"] == "https"
    # Forwarded wins over X-Forwarded-*
    got = ask(addr, ["Forwarded: for=192.0.2.60", "X-Forwarded-For: 203.0.113.7", "X-Forwarded-Proto: https"])
    assert (got["client"], got["scheme"]) == (["192.0.2.60", 0], "http")


def test_malformed_forwarded_falls_back_to_x_forwarded(serve):
    addr = serve(info_app())
    for value in ("for=[2001:db8::1]",            # IPv6 must be quoted
                  'for="192.0.2.1',                # unterminated
                  "for=192.0.2.1;for=192.0.2.2",   # a repeated parameter
                  "for 192.0.2.1", "for=192.0.2.1 x", "=x", "for="):
        got = ask(addr, [f"Forwarded: {value}", "X-Forwarded-For: 203.0.113.7"])
        assert got["client"] == ["203.0.113.7", 0], value
    # well-formed syntax, but a for= value that is no node: not a client; proto still read
    got = ask(addr, ['Forwarded: for="1.2.3.4.5";proto=https'])
    assert got["client"][0] == "127.0.0.1" and got["scheme"] == "https"


def test_trust_everyone_takes_the_leftmost(serve):
    addr = serve(info_app(trusted="*"))
    assert client_of(addr, "X-Forwarded-For: 198.51.100.1, 203.0.113.7") == ["198.51.100.1", 0]


def test_url_read_before_the_middleware_is_recomputed(serve):
    class ReadsUrl:
        def on_request(self, request):
            request.state.early_url = request.url

    app = info_app(outer=ReadsUrl)

    @app.get("/both")
    def both(request):
        return {"early": request.state.early_url, "url": request.url}

    addr = serve(app)
    got = ask(addr, ["X-Forwarded-Proto: https", "X-Forwarded-Host: example.com"], path="/both")
    assert got == {"early": "http://backend:8000/both", "url": "https://example.com/both"}


@contextlib.contextmanager
def ipv6_server(app):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        sock = bind_socket("::1", 0)
    except OSError as exc:
        pytest.skip(f"cannot listen on ::1: {exc}")
    handle = _ServerThread(app, 1.0, "asyncio")
    handle.sock.close()
    handle.sock = sock
    handle.host, handle.port = sock.getsockname()[:2]
    handle.start()
    try:
        yield (handle.host, handle.port)
    finally:
        handle.stop(10)


def test_ipv6_peer():
    with ipv6_server(info_app(trusted=["::1"])) as addr:
        assert client_of(addr, "X-Forwarded-For: 203.0.113.7") == ["203.0.113.7", 0]
    with ipv6_server(info_app(trusted=["127.0.0.1"])) as addr:
        assert client_of(addr, "X-Forwarded-For: 203.0.113.7")[0] == "::1"


def test_bad_trusted_entries_fail_at_once():
    for bad in ("not-an-ip", "10.0.0.0/33", "1.2.3.4.5", ""):
        with pytest.raises(ValueError):
            ProxyHeadersMiddleware(trusted=[bad])
    with pytest.raises(TypeError):
        ProxyHeadersMiddleware(trusted=[42])
    with pytest.raises(TypeError):
        ProxyHeadersMiddleware(trusted=None)
    assert ProxyHeadersMiddleware(trusted="10.0.0.1/8").trusted == ("10.0.0.1/8",)


def test_request_overrides_are_not_settable_from_python():
    r = Request("GET", "/", client=("10.0.0.1", 1))
    for name in ("_client", "_scheme", "_host", "client_forwarded"):
        with pytest.raises(AttributeError):
            setattr(r, name, "x")
    for name in ("client", "scheme", "host", "url"):
        with pytest.raises(AttributeError):
            setattr(r, name, "x")


def forwarded_from(middleware, peer):
    """Whether `middleware` believes X-Forwarded-For from `peer` (a Request made in-process)."""
    r = Request("GET", "/", {"x-forwarded-for": "198.51.100.200"}, client=(peer, 1234))
    middleware.on_request(r)
    return r.client == ("198.51.100.200", 0)


def test_trusted_networks_agree_with_ipaddress():
    """The compiled address matching against the ipaddress module, on edge
    prefixes and on random addresses and networks (fixed seed)."""
    import ipaddress
    import random
    rng = random.Random(11)
    fixed = [("10.0.0.0/8", "10.255.255.255", True), ("10.0.0.0/8", "11.0.0.0", False),
             ("0.0.0.0/0", "203.0.113.1", True), ("0.0.0.0/0", "2001:db8::1", False),
             ("::/0", "2001:db8::1", True), ("::/0", "203.0.113.1", False),
             ("2001:db8::/32", "2001:db8:ffff:ffff::1", True), ("2001:db8::/32", "2001:db9::", False),
             ("2001:db8::1/128", "2001:db8::1", True), ("2001:db8::1/128", "2001:db8::2", False),
             ("2001:db8:0:0:8000::/65", "2001:db8::8000:0:0:1", True),
             ("2001:db8:0:0:8000::/65", "2001:db8::7fff:0:0:1", False),
             ("::ffff:192.168.0.0/112", "192.168.5.5", True), ("192.168.0.0/16", "::ffff:192.168.5.5", True),
             ("fe80::/10", "fe80::1%eth0", True), ("127.0.0.1", "127.0.0.2", False)]
    for net, peer, expected in fixed:
        assert forwarded_from(ProxyHeadersMiddleware(trusted=[net]), peer) is expected, (net, peer)
    for _ in range(300):
        v6 = rng.random() < 0.5
        bits = 128 if v6 else 32
        prefix = rng.randrange(bits + 1)
        base = rng.getrandbits(bits)
        net = (ipaddress.IPv6Network if v6 else ipaddress.IPv4Network)((base, prefix), strict=False)
        # an address near the network (same prefix, random host part) or anywhere
        host = rng.getrandbits(bits)
        if rng.random() < 0.5:
            mask = ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)
            host = (int(net.network_address) & mask) | (host & ~mask & ((1 << bits) - 1))
        addr = (ipaddress.IPv6Address if v6 else ipaddress.IPv4Address)(host)
        if v6 and addr.ipv4_mapped is not None:
            continue                     # reported as IPv4: covered by the fixed cases
        assert forwarded_from(ProxyHeadersMiddleware(trusted=[str(net)]), str(addr)) is (addr in net), (net, addr)
