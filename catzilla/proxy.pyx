"""ProxyHeadersMiddleware: the client, scheme and host that a trusted proxy
forwarded, as request.client, request.scheme, request.host and request.url.

Compiled because it sets what the Request reports through Request.forwarded()
(request.pxd), which Python code cannot reach: nothing but a trusted proxy's
headers changes them.

The headers are read only when the TCP peer is trusted. `Forwarded` (RFC 7239)
is used when present and well-formed; otherwise X-Forwarded-For, -Proto and
-Host. Either way the chain of addresses is walked from the right (the hop
nearest to us): trusted proxies are skipped and the first untrusted address is
the client -- everything to its left was written by the client and is never
read. When every hop is trusted, the leftmost is the client."""
import ipaddress
import re

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport uint64_t

from catzilla._core.httpsyntax cimport parse_params, split_list, unquote
from catzilla.datastructures cimport Headers
from catzilla.includes.system cimport AF_INET, AF_INET6, inet_ntop, inet_pton
from catzilla.request cimport Request


# An IP address as two 64-bit halves (IPv4: in `lo`), and a network: every
# hop of every request is parsed and checked here, in C (the ipaddress module
# takes microseconds per address).
cdef struct Addr:
    int version
    uint64_t hi, lo

cdef struct Net:
    int version
    uint64_t hi, lo, mask_hi, mask_lo


cdef inline bint _in(const Net *n, const Addr *a) noexcept nogil:
    return n.version == a.version and (a.hi & n.mask_hi) == n.hi and (a.lo & n.mask_lo) == n.lo


_ZONE = re.compile(r"%[A-Za-z0-9._-]{1,32}\Z")


cdef str _parse_ip(str text, Addr *out):
    """`text` as an IP address into `out`; its canonical text, or None when it
    is not one. IPv4 is a strict dotted quad; an IPv6 zone ("%eth0") is kept in
    the text, not compared. An IPv4-mapped IPv6 address (::ffff:a.b.c.d, from a
    dual-stack socket) is that IPv4 address."""
    cdef unsigned char b[16]
    cdef char txt[64]
    cdef bytes raw
    cdef str zone = ""
    cdef Py_ssize_t i
    cdef uint64_t hi = 0, lo = 0
    if len(text) > 80 or not text.isascii():
        return None
    i = text.find("%")
    if i >= 0:
        zone = text[i:]
        text = text[:i]
        if not _ZONE.match(zone):
            return None
    raw = text.encode("ascii")
    if ":" not in text:
        if zone or inet_pton(AF_INET, raw, b) != 1:
            return None
        out.version = 4
        out.hi = 0
        out.lo = (<uint64_t>b[0] << 24) | (<uint64_t>b[1] << 16) | (<uint64_t>b[2] << 8) | b[3]
        return text
    if inet_pton(AF_INET6, raw, b) != 1:
        return None
    for i in range(8):
        hi = (hi << 8) | b[i]
        lo = (lo << 8) | b[i + 8]
    if hi == 0 and (lo >> 32) == 0xffff and not zone:
        out.version = 4
        out.hi = 0
        out.lo = lo & 0xffffffff
        return f"{b[12]}.{b[13]}.{b[14]}.{b[15]}"
    if inet_ntop(AF_INET6, b, txt, sizeof(txt)) == NULL:
        return None
    out.version = 6
    out.hi = hi
    out.lo = lo
    return txt.decode("ascii") + zone

# RFC 7239 §6.3 obfuscated node names and ports: "_" 1*(ALPHA / DIGIT / "." / "_" / "-")
_OBFUSCATED = re.compile(r"_[A-Za-z0-9._-]+\Z")
# A Host value: a reg-name (unreserved characters only: what DNS names and
# punycode need, nothing that could change how a URL built from it reads),
# IPv4, or [IPv6], with an optional port.
_HOST = re.compile(r"(?:\[([0-9A-Fa-f:.]+)\]|[A-Za-z0-9._~-]+)(?::([0-9]{1,5}))?\Z")
cdef dict _SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}

# What a hop's address is (see _node)
cdef enum Kind:
    IP          # an IP address: trusted or not
    OPAQUE      # "unknown" or an obfuscated name: never trusted, a valid client
    ABSENT      # a Forwarded element without for=
    BAD         # malformed


cdef class _Node:
    cdef Kind kind
    cdef Addr addr         # when kind == IP
    cdef object client     # what request.client becomes: (host, port), or None for "unknown"


cdef _Node _new_node(Kind kind, object client):
    cdef _Node n = _Node.__new__(_Node)
    n.kind = kind
    n.client = client
    return n


cdef _Node _BAD_NODE = _new_node(BAD, None)
cdef _Node _ABSENT_NODE = _new_node(ABSENT, None)


cdef int _port(str text) except -2:
    """A node's port: 0..65535; 0 for an obfuscated port; -1 when malformed."""
    if _OBFUSCATED.match(text):
        return 0
    if not (0 < len(text) <= 5 and text.isdigit() and text.isascii()):
        return -1
    port = int(text)
    return port if port <= 65535 else -1


cdef _Node _node(str text, bint bare_ipv6):
    """A hop address: RFC 7239 §6 node (IPv4, "[IPv6]", "unknown" or an
    obfuscated name, each with an optional ":port"). bare_ipv6 also accepts an
    IPv6 address without brackets, as X-Forwarded-For carries them."""
    cdef str name, rest = ""
    cdef int port = 0
    cdef Py_ssize_t i
    text = text.strip(" \t")
    if text.startswith("["):
        i = text.find("]")
        if i < 0:
            return _BAD_NODE
        name, rest = text[1:i], text[i + 1:]
        if not name or ":" not in name:        # brackets hold IPv6 only
            return _BAD_NODE
    elif bare_ipv6 and text.count(":") > 1:
        name = text
    else:
        i = text.find(":")
        name, rest = (text, "") if i < 0 else (text[:i], text[i:])
    if rest:
        if not rest.startswith(":"):
            return _BAD_NODE
        port = _port(rest[1:])
        if port < 0:
            return _BAD_NODE
    if name.lower() == "unknown":
        return _new_node(OPAQUE, None)
    if _OBFUSCATED.match(name):
        return _new_node(OPAQUE, (name, port))
    cdef _Node node = _new_node(IP, None)
    canonical = _parse_ip(name, &node.addr)
    if canonical is None:
        return _BAD_NODE
    node.client = (canonical, port)
    return node


cdef list _forwarded_elements(list fields):
    """The elements of the Forwarded field lines (RFC 7239 §4: one list), each
    a dict of lower-cased parameter name -> value; None when malformed (a
    parameter without a value, or repeated in an element, is malformed too).
    Empty elements and parameters are skipped (RFC 9110 §5.6.1, RFC 7239 §4)."""
    cdef list elements = []
    cdef dict current
    cdef object pairs
    for element in split_list(fields):
        pairs = parse_params(element)
        if pairs is None:
            return None
        current = {}
        for name, raw in pairs:
            if raw is None or name in current:
                return None
            current[name] = unquote(raw)
        if current:
            elements.append(current)
    return elements


cdef str _scheme(object text):
    return None if text is None else _SCHEMES.get(text.strip(" \t").lower())


cdef str _host(object text):
    """A forwarded host[:port] when valid, else None (ignored)."""
    if text is None:
        return None
    text = text.strip(" \t")
    if len(text) > 255:
        return None
    m = _HOST.match(text)
    if m is None:
        return None
    if m.group(1) is not None:
        try:
            ipaddress.IPv6Address(m.group(1))
        except ValueError:
            return None
    if m.group(2) is not None and int(m.group(2)) > 65535:
        return None
    return text


cdef int _fill_net(Net *n, object net) except -1:
    """An ipaddress network as a Net (an IPv4-mapped IPv6 one as IPv4, as addresses are)."""
    bits = 32 if net.version == 4 else 128     # Python ints: 128-bit masks
    prefix = net.prefixlen
    value = int(net.network_address)
    if bits == 128 and value >> 32 == 0xffff and prefix >= 96:
        bits, prefix, value = 32, prefix - 96, value & 0xffffffff
    mask = ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)
    n.version = 4 if bits == 32 else 6
    n.hi = value >> 64
    n.lo = value & 0xffffffffffffffff
    n.mask_hi = mask >> 64
    n.mask_lo = mask & 0xffffffffffffffff
    return 0


cdef class ProxyHeadersMiddleware:
    """ProxyHeadersMiddleware(trusted=("127.0.0.1", "::1"))

    `trusted`: the proxies whose forwarding headers are believed -- IP
    addresses and networks ("10.0.0.0/8", "fd00::/8"), or "*" for any peer
    (only when nothing but the proxy can reach the app). A request from any
    other peer is left as it is. Bad entries are a ValueError at once."""

    cdef readonly tuple trusted
    cdef Net *nets
    cdef Py_ssize_t nnets
    cdef bint trust_all

    def __cinit__(self):
        self.nets = NULL
        self.nnets = 0

    def __dealloc__(self):
        PyMem_Free(self.nets)

    def __init__(self, trusted=("127.0.0.1", "::1")):
        cdef list nets = []
        cdef Net *table
        cdef Py_ssize_t i
        if isinstance(trusted, str):
            trusted = (trusted,)
        try:
            entries = tuple(trusted)
        except TypeError:
            raise TypeError("trusted must be an address, a network, '*' or a list of them") from None
        for entry in entries:
            if entry == "*":
                self.trust_all = True
                continue
            if not isinstance(entry, (str, ipaddress.IPv4Address, ipaddress.IPv6Address,
                                      ipaddress.IPv4Network, ipaddress.IPv6Network)):
                raise TypeError(f"trusted proxy {entry!r}: give an address or network as a str")
            try:
                nets.append(ipaddress.ip_network(entry, strict=False))
            except ValueError as exc:
                raise ValueError(f"trusted proxy {entry!r} is not an IP address or network: {exc}") from None
        table = <Net *>PyMem_Malloc(sizeof(Net) * <size_t>(len(nets) if nets else 1))
        if table == NULL:
            raise MemoryError()
        for i in range(len(nets)):
            _fill_net(&table[i], nets[i])
        PyMem_Free(self.nets)
        self.nets = table
        self.nnets = len(nets)
        self.trusted = entries

    cdef bint is_trusted(self, const Addr *addr) noexcept:
        cdef Py_ssize_t i
        if self.trust_all:
            return True
        for i in range(self.nnets):
            if _in(&self.nets[i], addr):
                return True
        return False

    cdef bint peer_trusted(self, Request request):
        cdef Addr addr
        if self.trust_all:
            return True
        peer = request.peer()
        if not isinstance(peer, tuple) or not peer or not isinstance(peer[0], str):
            return False                                 # AF_UNIX or unknown: only with "*"
        return _parse_ip(peer[0], &addr) is not None and self.is_trusted(&addr)

    cdef Py_ssize_t walk(self, list nodes) except -2:
        """The index of the client's hop in `nodes` (leftmost first): from the
        right, past trusted addresses, to the first other one; the leftmost
        when all are trusted; -1 for an empty chain."""
        cdef Py_ssize_t k = len(nodes) - 1
        cdef _Node node
        while k > 0:
            node = <_Node>nodes[k]
            if node.kind != IP or not self.is_trusted(&node.addr):
                break
            k -= 1
        return k

    def on_request(self, Request request not None):
        cdef Headers headers
        cdef list elements = None, nodes, protos, hosts
        cdef Py_ssize_t k, d
        cdef _Node node
        cdef str scheme = None, host = None
        cdef bint has_client = False
        cdef object client = None
        if not self.peer_trusted(request):
            return None
        headers = <Headers>request.headers
        forwarded = headers.getlist("forwarded")
        if forwarded:
            elements = _forwarded_elements(forwarded)
        if elements:
            nodes = [_ABSENT_NODE if e.get("for") is None else _node(e["for"], False) for e in elements]
            k = self.walk(nodes)
            scheme = _scheme(elements[k].get("proto"))
            host = _host(elements[k].get("host"))
        else:
            nodes = [_node(v, True) for v in split_list(headers.getlist("x-forwarded-for"))]
            k = self.walk(nodes)
            d = len(nodes) - 1 - k if k >= 0 else 0       # the client's hop, counted from the right
            protos = split_list(headers.getlist("x-forwarded-proto"))
            hosts = split_list(headers.getlist("x-forwarded-host"))
            if protos:
                scheme = _scheme(protos[max(len(protos) - 1 - d, 0)])
            if hosts:
                host = _host(hosts[max(len(hosts) - 1 - d, 0)])
        if k >= 0:
            node = <_Node>nodes[k]
            if node.kind == ABSENT or node.kind == BAD:
                # no usable address at the client's hop: the nearest known one
                node = <_Node>nodes[k + 1] if k + 1 < len(nodes) else None
            if node is not None:
                has_client, client = True, node.client
        request.forwarded(has_client, client, scheme, host)
        return None

    def __repr__(self):
        return f"ProxyHeadersMiddleware(trusted={list(self.trusted)!r})"
