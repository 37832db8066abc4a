# Broadcast fan-out: an event encoded once (its SSE chunk and its WebSocket
# frame) and appended to every subscriber's transport in one compiled pass.
# A topic keeps its subscribers in a C array (O(1) add, O(1) swap-remove: each
# subscriber knows its slot) and its recent events in a ring for replay.
# What an event says is the hub's (catzilla/broadcast.pyx): it hands the core
# framed events, and a Wording for the two notices the core itself must send.
from cpython.ref cimport PyObject
from catzilla._core.streams cimport Pump
from catzilla._core.transport cimport Transport

cdef enum:
    SUB_SSE = 0          # text/event-stream, chunked (HTTP/1.1)
    SUB_SSE_RAW = 1      # text/event-stream, raw until close (HTTP/1.0)
    SUB_WS = 2           # WebSocket text/binary messages

cdef enum:
    POLICY_DROP_OLDEST = 0   # over budget: skip events, then a "dropped" marker and the newest
    POLICY_DISCONNECT = 1    # over budget: close the connection (an SSE client reconnects and replays)

cdef class Event:
    cdef readonly long long id
    cdef double at               # monotonic time it was published (replay_seconds)
    cdef bytes sse               # "<size>\r\n" + SSE event + "\r\n": the HTTP/1.1 chunk
    cdef Py_ssize_t raw_off      # where the SSE event starts in `sse` (HTTP/1.0 sends it unframed)
    cdef bytes ws                # the WebSocket frame, or None (a ping: SSE only)

cdef Event new_event(long long event_id, bytes sse_text, bytes ws)   # sse_text: one SSE event; ws: a frame or None
cdef bytes ws_frame(object payload)      # one WebSocket message: str as text, bytes as binary

cdef class Wording:
    # The notices the core sends on its own, worded by the hub (an interface:
    # broadcast.pyx implements it). Not kept for replay, no id.
    cdef Event dropped(self, long long skipped, bint ws)   # a lagging subscriber caught up
    cdef Event reset(self, long long last_id)              # SSE replay cannot resume: start afresh

cdef class Subscriber:
    cdef Topic topic
    cdef Transport t
    cdef object owner            # the WSProtocol (SUB_WS) or the FeedPump (SSE)
    cdef int kind
    cdef Py_ssize_t slot         # index in topic.subs, -1 when not subscribed
    cdef long long lag_from      # the first event skipped while over budget (0: not lagging)

cdef class Topic:
    cdef readonly str name
    cdef Wording wording
    cdef PyObject **subs         # owned references
    cdef Py_ssize_t n
    cdef Py_ssize_t cap
    cdef public int policy
    cdef public Py_ssize_t max_pending    # output budget per subscriber, bytes
    cdef Py_ssize_t replay                # ring capacity (events)
    cdef public double replay_seconds     # 0: no age limit
    cdef list ring                        # Event, circular; ids contiguous from ring[head]
    cdef Py_ssize_t head
    cdef Py_ssize_t count
    cdef readonly long long last_id
    cdef double last_at                   # when the last event or ping went out
    cdef readonly long long published
    cdef readonly long long delivered
    cdef readonly long long dropped
    cdef readonly long long slow_disconnects

    cdef int add(self, Subscriber s) except -1
    cdef void remove(self, Subscriber s)
    cdef int push(self, Subscriber s, Event e, bint counted) except -1
    cdef int _append(self, Subscriber s, Event e) except -1    # unconditionally, in s's framing
    cdef int emit(self, Event e) except -1
    cdef int signal(self, Event sse, Event ws) except -1   # to every subscriber, not kept for replay
    cdef int remember(self, Event e) except -1
    cdef int replay_to(self, Subscriber s, long long after) except -1   # 0: events after `after` are gone
    cdef int clear_ring(self) except -1
    cdef int remember_trim(self, double now) except -1

cdef enum:
    REPLAY_RESET = -1        # a Last-Event-ID that is not one of ours: the client is told to reset
    NO_REPLAY = -2           # no Last-Event-ID: start with the next event

cdef class FeedPump(Pump):
    # An SSE response subscribed to a topic (made by broadcast.FeedResponse):
    # it never ends by itself; the client leaving (cancel) or the server
    # draining (drain) removes it.
    cdef Subscriber sub
    cdef bytes retry             # "retry: N" event, or None
    cdef long long replay_after  # Last-Event-ID: replay after it, or REPLAY_RESET, or NO_REPLAY
