# Stream pumps: pull a response body's iterable, encode and frame each item
# into the transport, respecting back-pressure (pull only below the high-water
# mark), with keep-alive pings on idle streams.
from catzilla._core.buffer cimport Buffer
from catzilla._core.context cimport Services
from catzilla._core.transport cimport Transport

cdef int frame(Buffer out, object chunk, bint chunked) except -1

cdef class Pump:
    cdef Services svc
    cdef Transport t
    cdef object content
    cdef object encode           # item -> bytes/str before framing, or None (items are the bytes)
    cdef bint chunked
    cdef bint cancelled
    cdef bint finished
    cdef double ping             # seconds of silence before ping_bytes is sent; 0: never
    cdef bytes ping_bytes
    cdef list filters            # body filters (Response.wrap_body) each item passes through, or None
    cdef bint unflushed          # the filters were fed since they were last flushed
    cdef double last_out         # when the last item or ping was queued
    cdef object timer            # the ping timer handle
    cdef object req              # the request answered, named when the stream fails (or None)
    cdef bint delivered          # the body ended and its last chunk was queued
    cdef bint over               # ended() ran
    cdef bint closes_later       # the source is closed after cancel() (a task or a worker): it calls ended()
    cdef str what(self)          # "GET /path": the request, for log lines
    cdef int start(self) except -1
    # An item encoded and filtered, ready to frame. Computed before the
    # buffer it goes into is looked up: a filter may let another thread run.
    cdef object prepared(self, object item)
    cdef object filtered(self, object chunk)
    cdef object flushed(self)          # the filters' flush(): what they hold back, decodable
    cdef object closing(self)          # the filters' last bytes
    cdef int ping_now(self) except -1  # queue ping_bytes (through the filters) on the loop
    # Hand what is queued to the socket, the filters flushed first: nothing the
    # source produced waits inside a filter while the pump waits for more.
    cdef int write(self) except -1
    cdef void cancel(self)       # the client is gone: stop pulling, close the iterator
    cdef int drain(self) except -1   # graceful stop: end now if the body never ends by itself
    cdef int finish(self, object exc) except -1
    # The source is finished or closed: the request's response is over (its
    # `yield` dependencies and background tasks run, Services.end_request). Once.
    cdef int ended(self, object exc) except -1
    cdef int queued(self) except -1   # an item reached the transport: the ping clock restarts
    cdef int start_pings(self) except -1
    cdef void stop_pings(self)

# content that is already a Pump (a broadcast feed) is used as it is; when
# the pump finishes it calls t.stream_done(ok)
cdef Pump make_pump(Services svc, Transport t, object req, object content, bint chunked, object encode,
                    double ping, bytes ping_bytes, list filters)
cdef int close_unsent(Services svc, object content) except -1   # a body that will never be sent (HEAD)
