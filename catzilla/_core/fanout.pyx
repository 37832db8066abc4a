"""Broadcast fan-out (see fanout.pxd): one encode per event, one compiled pass
over a topic's subscribers, each bounded by an output budget.

Per subscriber and event the pass does a budget check, one memcpy into the
transport's output buffer and, when nothing was pending, one write: no Python
call, task, queue or encode. Events that cannot be written now stay in the
transport's buffer and leave when the socket is writable (the loop's
on_writable); above `max_pending` bytes the topic's policy applies.

The response that subscribes an SSE client (FeedResponse) and the hub itself
are public: catzilla/broadcast.pyx."""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Realloc, PyMem_Free
from cpython.ref cimport Py_INCREF, Py_DECREF
from libc.stdint cimport uint64_t
from catzilla._core.streams cimport Pump, frame
from catzilla._core.transport cimport Transport
from catzilla._core.websocket cimport WSProtocol, WS_OPEN
from catzilla.includes.clock cimport cz_monotonic
from catzilla.includes.ws cimport cz_ws_write_header, CZ_WS_OP_TEXT, CZ_WS_OP_BINARY


cdef bytes ws_frame(object payload):
    cdef unsigned char head[14]
    cdef bytes data
    cdef size_t hl
    if isinstance(payload, bytes):
        data = <bytes>payload
        hl = cz_ws_write_header(head, 1, 0, CZ_WS_OP_BINARY, <uint64_t>PyBytes_GET_SIZE(data))
    else:
        data = (<str>payload).encode("utf-8")
        hl = cz_ws_write_header(head, 1, 0, CZ_WS_OP_TEXT, <uint64_t>PyBytes_GET_SIZE(data))
    return (<char *>head)[:hl] + data


cdef Event new_event(long long event_id, bytes sse_text, bytes ws):
    cdef Event e = Event.__new__(Event)
    cdef bytes size_line = b"%x\r\n" % len(sse_text)
    e.id = event_id
    e.at = cz_monotonic()
    e.sse = size_line + sse_text + b"\r\n"
    e.raw_off = len(size_line)
    e.ws = ws
    return e


cdef inline bint _wire(Subscriber s, Event e, const char **p, Py_ssize_t *n):
    """The bytes of `e` in s's framing; False when it has none (a ping to a WebSocket)."""
    if s.kind == SUB_WS:
        if e.ws is None:
            return False
        p[0] = PyBytes_AS_STRING(e.ws)
        n[0] = PyBytes_GET_SIZE(e.ws)
    elif s.kind == SUB_SSE:
        p[0] = PyBytes_AS_STRING(e.sse)
        n[0] = PyBytes_GET_SIZE(e.sse)
    else:
        p[0] = PyBytes_AS_STRING(e.sse) + e.raw_off
        n[0] = PyBytes_GET_SIZE(e.sse) - e.raw_off - 2
    return True


cdef class Event:
    def __repr__(self):
        return f"<Event {self.id} {len(self.sse)} bytes>"


cdef class Wording:
    cdef Event dropped(self, long long skipped, bint ws):
        raise NotImplementedError("the hub words its notices (broadcast.pyx)")

    cdef Event reset(self, long long last_id):
        raise NotImplementedError("the hub words its notices (broadcast.pyx)")


cdef class Subscriber:
    def __cinit__(self):
        self.slot = -1


cdef class Topic:
    def __cinit__(self, str name, int policy, Py_ssize_t max_pending, Py_ssize_t replay,
                  double replay_seconds, Wording wording not None):
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1 byte")
        if replay < 0:
            raise ValueError("replay must be >= 0 events")
        self.name = name
        self.wording = wording
        self.policy = policy
        self.max_pending = max_pending
        self.replay = replay
        self.replay_seconds = replay_seconds
        self.ring = [None] * replay
        self.last_at = cz_monotonic()

    def __dealloc__(self):
        cdef Py_ssize_t i
        for i in range(self.n):
            Py_DECREF(<object>self.subs[i])
        PyMem_Free(self.subs)

    @property
    def subscribers(self):
        return self.n

    # -- membership: O(1) both ways -------------------------------------------

    cdef int add(self, Subscriber s) except -1:
        cdef PyObject **grown
        cdef Py_ssize_t cap
        if s.slot >= 0:
            raise RuntimeError("already subscribed")
        if self.n == self.cap:
            cap = 16 if self.cap == 0 else self.cap * 2
            grown = <PyObject **>PyMem_Realloc(self.subs, <size_t>cap * sizeof(PyObject *))
            if grown == NULL:
                raise MemoryError()
            self.subs = grown
            self.cap = cap
        Py_INCREF(s)
        self.subs[self.n] = <PyObject *>s
        s.slot = self.n
        s.topic = self
        self.n += 1
        return 0

    cdef void remove(self, Subscriber s):
        cdef Py_ssize_t i = s.slot, last = self.n - 1
        cdef Subscriber moved
        if i < 0 or s.topic is not self:
            return
        if i != last:
            self.subs[i] = self.subs[last]
            moved = <Subscriber>self.subs[i]
            moved.slot = i
        self.subs[last] = NULL
        self.n = last
        s.slot = -1
        Py_DECREF(s)                     # the caller holds its own reference

    # -- delivery ---------------------------------------------------------------

    cdef int push(self, Subscriber s, Event e, bint counted) except -1:
        """Queue `e` on one subscriber. counted: a published event (budget
        policy, counters); else a ping or a signal, simply skipped when over budget."""
        cdef Transport t = s.t
        cdef const char *p
        cdef Py_ssize_t n, pend
        cdef Event marker
        if t.closed:
            self.remove(s)
            return 0
        if s.kind == SUB_WS and (<WSProtocol>s.owner).state != WS_OPEN:
            return 0                     # closing: no data frame may follow a close
        if not _wire(s, e, &p, &n):
            return 0
        pend = t.pending()
        if s.lag_from:
            if not counted:
                return 0
            if pend > t.low_water:
                self.dropped += 1
                return 0
            # caught up: say how many were skipped, then go on with the newest
            marker = self.wording.dropped(e.id - s.lag_from, s.kind == SUB_WS)
            s.lag_from = 0
            self._append(s, marker)
            if pend == 0:
                t.flush()
            pend = t.pending()
        if pend > 0 and pend + n > self.max_pending:
            if not counted:
                return 0
            if self.policy == POLICY_DISCONNECT:
                self.slow_disconnects += 1
                self.remove(s)
                t.abort()
                return 0
            s.lag_from = e.id
            self.dropped += 1
            return 0
        t.out.append(p, n)
        if pend == 0:
            t.flush()                    # else write interest is on: the loop writes when it can
        if counted:
            self.delivered += 1
        return 0

    cdef int _append(self, Subscriber s, Event e) except -1:
        cdef const char *p
        cdef Py_ssize_t n
        if _wire(s, e, &p, &n):
            s.t.out.append(p, n)
        return 0

    cdef int emit(self, Event e) except -1:
        """A published event: kept for replay, then queued on every subscriber."""
        cdef Py_ssize_t i = self.n - 1
        cdef Subscriber s
        if self.last_id and e.id != self.last_id + 1:
            self.clear_ring()            # ids are contiguous in the ring
        self.published += 1
        self.last_id = e.id
        self.last_at = e.at
        self.remember(e)
        # Backwards: a subscriber that leaves during its own push swaps in the
        # last one, which was already served.
        while i >= 0:
            if i < self.n:
                s = <Subscriber>self.subs[i]
                self.push(s, e, True)
            i -= 1
        return 0

    cdef int signal(self, Event sse, Event ws) except -1:
        cdef Py_ssize_t i = self.n - 1
        cdef Subscriber s
        self.last_at = sse.at
        while i >= 0:
            if i < self.n:
                s = <Subscriber>self.subs[i]
                self.push(s, ws if s.kind == SUB_WS else sse, False)
            i -= 1
        return 0

    def ping(self, Event e, double idle):
        """The keep-alive comment to SSE subscribers, when nothing went out for `idle` s."""
        if self.n and cz_monotonic() - self.last_at >= idle * 0.99:
            self.signal(e, e)            # a ping has no WebSocket form: WebSockets have their own

    # -- replay -------------------------------------------------------------------

    cdef int remember(self, Event e) except -1:
        if self.replay == 0:
            return 0
        if self.count == self.replay:
            self.ring[self.head] = None
            self.head = (self.head + 1) % self.replay
            self.count -= 1
        self.ring[(self.head + self.count) % self.replay] = e
        self.count += 1
        if self.replay_seconds > 0:
            self.remember_trim(e.at)
        return 0

    def set_replay(self, Py_ssize_t replay):
        """A ring of another size (what was kept is forgotten)."""
        if replay < 0:
            raise ValueError("replay must be >= 0 events")
        if replay == self.replay:
            return
        self.replay = replay
        self.ring = [None] * replay
        self.head = 0
        self.count = 0

    def forget(self):
        """Events were lost (a gap): what is kept no longer leads to what comes,
        and the next event starts a new sequence."""
        self.clear_ring()
        self.last_id = 0

    cdef int clear_ring(self) except -1:
        cdef Py_ssize_t i
        for i in range(self.replay):
            self.ring[i] = None
        self.head = 0
        self.count = 0
        return 0

    cdef int replay_to(self, Subscriber s, long long after) except -1:
        """Queue the events after `after` on `s`: 1, or 0 when some are gone."""
        cdef Event first
        cdef Py_ssize_t i, k
        cdef double now = cz_monotonic()
        if after == self.last_id:
            return 1                     # nothing was missed
        if self.count == 0 or after > self.last_id:
            return 0
        first = <Event>self.ring[self.head]
        if self.replay_seconds > 0 and now - first.at > self.replay_seconds:
            self.remember_trim(now)
            if self.count == 0:
                return 0
            first = <Event>self.ring[self.head]
        if after + 1 < first.id:
            return 0
        k = <Py_ssize_t>(after + 1 - first.id)
        for i in range(k, self.count):
            self._append(s, <Event>self.ring[(self.head + i) % self.replay])
        return 1

    cdef int remember_trim(self, double now) except -1:
        while self.count and now - (<Event>self.ring[self.head]).at > self.replay_seconds:
            self.ring[self.head] = None
            self.head = (self.head + 1) % self.replay
            self.count -= 1
        return 0

    def metrics(self):
        return {"subscribers": self.n, "published": self.published, "delivered": self.delivered,
                "dropped": self.dropped, "slow_disconnects": self.slow_disconnects,
                "last_id": self.last_id, "replayable": self.count}

    # -- membership from Python (the Broadcast hub) ------------------------------

    def attach_ws(self, WSProtocol proto):
        """Subscribe an accepted WebSocket; returns the Subscriber to detach."""
        cdef Subscriber s = Subscriber.__new__(Subscriber)
        s.t = proto.t
        s.owner = proto
        s.kind = SUB_WS
        if proto.state != WS_OPEN or proto.t.closed:
            return s                     # gone already: nothing to add
        self.add(s)
        return s

    def detach(self, Subscriber s):
        self.remove(s)

    def close_all(self):
        """The hub is closing: SSE feeds end, WebSockets get 1001."""
        cdef Subscriber s
        while self.n:
            s = <Subscriber>self.subs[self.n - 1]
            self.remove(s)
            if s.kind == SUB_WS:
                (<WSProtocol>s.owner).shutdown()
            else:
                (<FeedPump>s.owner).drain()

    def __repr__(self):
        return f"<Topic {self.name!r} {self.n} subscribers, last id {self.last_id}>"


cdef class FeedPump(Pump):
    cdef int start(self) except -1:
        cdef Transport t = self.t
        cdef Subscriber s = self.sub
        s.t = t
        s.owner = self
        s.kind = SUB_SSE if self.chunked else SUB_SSE_RAW
        if self.retry is not None:
            frame(t.out, self.retry, self.chunked)
        if self.replay_after != NO_REPLAY:
            if self.replay_after < 0 or not s.topic.replay_to(s, self.replay_after):
                s.topic._append(s, s.topic.wording.reset(s.topic.last_id))
        s.topic.add(s)
        t.flush()
        return 0

    cdef void cancel(self):
        Pump.cancel(self)
        self.sub.topic.remove(self.sub)

    cdef int drain(self) except -1:
        self.sub.topic.remove(self.sub)
        return self.finish(None)
