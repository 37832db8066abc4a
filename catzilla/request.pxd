from libc.stdint cimport uint32_t
from catzilla._core.bodyreader cimport BodyReader
from catzilla._core.buffer cimport Buffer
from catzilla._core.transport cimport Transport
from catzilla.includes.http cimport cz_request

# Where one header field lies, as offsets from the Request's buf.data + base.
# 32 bits suffice: a head is bounded by max_head_bytes (new_request checks).
cdef struct HeaderSpan:
    uint32_t name_off
    uint32_t name_len
    uint32_t value_off
    uint32_t value_len


cdef class Request:
    # Everything is an offset into `buf` from `base`, so the Request stays
    # valid however the buffer's memory moves. A Request PINS its buffer
    # (buf.pins += 1, undone in __dealloc__): the connection never rewrites
    # or reuses a buffer whose pins > 0. Set `buf` only through new_request()
    # or rebase(), which keep the pin count right.
    cdef Buffer buf
    cdef Py_ssize_t base
    cdef Py_ssize_t target_off, target_len
    cdef Py_ssize_t body_off, body_len     # set by the connection once the body is read
    cdef HeaderSpan *spans                 # nheaders entries, owned (PyMem)
    cdef Py_ssize_t nheaders
    cdef bint http10
    cdef bint async_api                    # endpoint is a coroutine function: json()/form() return awaitables
    cdef BodyReader reader                 # an incoming body, handed over as it arrives; else None
    cdef bint stream_used                  # stream() or the whole-body read has started
    cdef readonly str method
    cdef readonly bint is_websocket        # a WebSocket handshake for a WebSocket route (set by the dispatcher)
    cdef readonly str path                 # set by the connection (percent-decoded, no query)
    cdef public dict path_params
    cdef Transport conn                    # the connection boundary: the client address (None: see _client)
    cdef public object app
    # What runs once the response is over (catzilla.dependencies.RequestExit:
    # `yield` dependencies' teardown, background tasks): the connection spawns
    # exit.close(offload, exc, delivered) exactly once; None: nothing to run
    cdef object exit
    cdef object _client                    # the client address of a Request built by Request(...),
                                           # or the one a trusted proxy forwarded (client_forwarded)
    # Set only through forwarded() (by catzilla/proxy.pyx, from a trusted proxy's headers).
    cdef bint client_forwarded             # _client (maybe None: "unknown") replaces the TCP peer
    cdef str _scheme                       # "http" or "https"; None: not forwarded
    cdef str _host                         # host[:port]; None: not forwarded
    cdef object _state, _query_string, _query_params, _headers, _cookies, _body, _json, _form, _url

    cdef bytes raw_query(self)
    cdef str target(self)                  # the request-target as sent (latin-1), for logs
    cdef object peer(self)                 # the TCP peer (Request(...)'s `client` for one made in a test)
    # What a trusted proxy forwarded: with has_client, `client` ((host, port),
    # or None for "unknown") replaces the TCP peer; a scheme or host that is
    # None leaves that part as it is. client, scheme, host and url then read
    # the forwarded values. Compiled callers only: Python cannot reach it.
    cdef int forwarded(self, bint has_client, object client, str scheme, str host) except -1
    cdef str absolute_part(self, bint authority)   # an absolute-form target's scheme or authority, else None
    cdef bytes raw_body(self)              # a new exact-bytes copy of the body
    cdef int close_files(self) except -1   # the request is answered: delete its uploads' temp files
    # The connection moved this request's bytes (same layout from `base`) into
    # `buf`: move the pin there.
    cdef int rebase(self, Buffer buf, Py_ssize_t base) except -1
    # `path` from the request-target: percent-decoded, query cut; "*" for the
    # asterisk form; an absolute-form target ("http://host/p") gives "/p".
    # ValueError for any other target.
    cdef int set_path(self) except -1


# A Request over the head `r` just parsed from buf.data + base (the pointers in
# `r` point there): copies the header and target offsets, pins `buf`. The
# caller sets body_off/body_len, app (and async_api), and calls set_path() before handing it
# to the application.
cdef Request new_request(Buffer buf, Py_ssize_t base, const cz_request *r, str method, Transport conn)

# A Request for a head that was not parsed to its end (a parse error, a
# header timeout): what the parser read of its method and target (r.method
# NULL: method ""; the target possibly a cut prefix), no headers, no body.
# The caller sets path.
cdef Request early_request(Buffer buf, Py_ssize_t base, const cz_request *r, Transport conn)
