"""Stream pumps: the one engine behind every streamed body (StreamingResponse,
server-sent events).

- Lists and tuples are pulled inline on the loop (they cannot block).
- Any other sync iterable (generators) is pulled on a worker thread, so a
  generator that sleeps between items never stalls other connections. The
  worker encodes and frames items into its own buffer and wakes the loop when
  the buffer goes from empty to non-empty: items produced back-to-back
  coalesce into one write, and an item is never held back behind a slow next().
- Async iterables run as a task on the loop.

Back-pressure: a pump pulls only while the connection's pending output plus
its own buffer is below the high-water mark, and resumes when the socket has
drained below the low-water mark; memory per stream is bounded by about
high_water + one item, whatever the body size or the client's speed.

Filters (Response.wrap_body, e.g. compression): every item passes through
them after it is encoded and before it is framed, and they are flushed every
time the pump hands its output to the socket: items produced back-to-back
share one flush (a better ratio, far fewer flushes), and an item is never
held inside a filter while the pump waits for the next one, so a filtered
stream is exactly as incremental as the bare one. Their close() output
precedes the last chunk. Pings pass through them too.

Pings: when `ping` > 0 and nothing was queued for that long, `ping_bytes` (an
SSE comment) is framed on the loop between items; the source is never
interrupted for it.
"""
import asyncio
import threading

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_CheckExact
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from libc.stdint cimport uint64_t
from catzilla._core.buffer cimport Buffer
from catzilla._core.context cimport Services
from catzilla._core.transport cimport Transport
from catzilla.includes.clock cimport cz_monotonic
from catzilla.includes.http cimport CZ_CHUNK_HEAD_MAX, cz_chunk_head
from catzilla.includes.python cimport PyUnicode_AsUTF8AndSize
from catzilla.request cimport Request
from catzilla.exceptions import ClientDisconnect

cdef bytes _LAST_CHUNK = b"0\r\n\r\n"


cdef int _frame_raw(Buffer out, const char *p, Py_ssize_t n, bint chunked) except -1:
    cdef char size_line[CZ_CHUNK_HEAD_MAX]
    cdef size_t k
    if n <= 0:
        return 0          # an empty chunk would end a chunked body: skip it
    if chunked:
        k = cz_chunk_head(size_line, <uint64_t>n)
        out.reserve(k + n + 2)
        out.append(size_line, k)
        out.append(p, n)
        out.append(b"\r\n", 2)
    else:
        out.append(p, n)
    return 0


cdef int frame(Buffer out, object chunk, bint chunked) except -1:
    cdef Py_buffer view
    cdef const char *p
    cdef Py_ssize_t n
    if PyBytes_CheckExact(chunk):
        return _frame_raw(out, PyBytes_AS_STRING(chunk), PyBytes_GET_SIZE(chunk), chunked)
    if isinstance(chunk, str):
        p = PyUnicode_AsUTF8AndSize(chunk, &n)
        return _frame_raw(out, p, n, chunked)
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        PyObject_GetBuffer(chunk, &view, PyBUF_SIMPLE)
        try:
            _frame_raw(out, <const char *>view.buf, view.len, chunked)
        finally:
            PyBuffer_Release(&view)
        return 0
    raise TypeError(f"stream items must be bytes, str or memoryview, not {type(chunk).__name__}")


cdef object as_bytes(object chunk):
    if PyBytes_CheckExact(chunk):
        return chunk
    if isinstance(chunk, str):
        return (<str>chunk).encode("utf-8")
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"stream items must be bytes, str or memoryview, not {type(chunk).__name__}")


cdef class Pump:
    cdef int start(self) except -1:
        raise NotImplementedError

    cdef object prepared(self, object item):
        if self.encode is not None:
            item = self.encode(item)
        return item if self.filters is None else self.filtered(item)

    cdef object filtered(self, object chunk):
        chunk = as_bytes(chunk)
        for f in self.filters:
            chunk = f.feed(chunk)
        self.unflushed = True
        return chunk

    cdef object flushed(self):
        # each filter flushes after taking what the ones before it flushed
        data = b""
        for f in self.filters:
            data = (f.feed(data) + f.flush()) if data else f.flush()
        self.unflushed = False
        return data

    cdef int write(self) except -1:
        cdef object data
        if self.unflushed:
            data = self.flushed()
            frame(self.t.out, data, self.chunked)
        return self.t.flush()

    cdef object closing(self):
        # each filter closes with what the ones before it closed with
        tail = b""
        for f in self.filters:
            tail = f.close(tail)
        return tail

    cdef int ping_now(self) except -1:
        chunk = self.ping_bytes if self.filters is None else self.filtered(self.ping_bytes)
        return frame(self.t.out, chunk, self.chunked)

    cdef void cancel(self):
        self.cancelled = True
        self.stop_pings()
        if not self.closes_later:
            try:
                self.ended(None)
            except Exception as exc:         # a void method: nothing to raise into
                self.svc.log.error("ending the response for %s failed", self.what(), exc_info=exc)

    cdef int ended(self, object exc) except -1:
        if self.over:
            return 0
        self.over = True
        if self.req is not None:
            if exc is None and not self.delivered:
                exc = ClientDisconnect("the client closed the connection")
            self.svc.end_request(<Request>self.req, exc, self.delivered)
        return 0

    cdef int drain(self) except -1:
        return 0             # a body with an end: it gets until the shutdown deadline

    def running_task(self):
        """The asyncio task pulling this stream, if it runs as one."""
        return None

    cdef str what(self):
        req = self.req
        return f"{req.method} {req.path}" if req is not None else "a stream"

    cdef int finish(self, object exc) except -1:
        """End of the body (exc None) or a failure after the head was sent."""
        if self.finished:
            return 0
        self.finished = True
        self.stop_pings()
        if exc is None and self.filters is not None:
            try:
                tail = self.closing()
                frame(self.t.out, tail, self.chunked)
            except Exception as e:
                exc = e
        if exc is not None:
            self.svc.log.error("stream aborted for %s: the response body raised", self.what(), exc_info=exc)
            self.t.stream_done(False)
        else:
            if self.chunked:
                self.t.out.append(PyBytes_AS_STRING(_LAST_CHUNK), 5)
            self.delivered = True
            self.t.stream_done(True)
        if not self.closes_later:
            self.ended(exc)
        return 0

    cdef int queued(self) except -1:
        if self.ping > 0:
            self.last_out = cz_monotonic()
        return 0

    cdef int start_pings(self) except -1:
        if self.ping > 0:
            self.last_out = cz_monotonic()
            self.timer = self.svc.loop.call_later(self.ping, self.on_ping)
        return 0

    cdef void stop_pings(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def on_ping(self):
        cdef Transport t = self.t
        cdef double idle
        self.timer = None
        if self.finished or self.cancelled or t.closed:
            return
        idle = cz_monotonic() - self.last_out
        if idle >= self.ping * 0.99:     # timers may fire a hair early
            try:
                self.ping_now()
                self.write()
            except Exception as exc:
                self.cancel()
                self.finish(exc)
                return
            if t.closed:
                return
            self.last_out = cz_monotonic()
            idle = 0
        self.timer = self.svc.loop.call_later(self.ping - idle, self.on_ping)


cdef class InlinePump(Pump):
    cdef object it

    cdef int start(self) except -1:
        self.it = iter(self.content)
        self.resume()
        return 0

    def resume(self):
        cdef Transport t = self.t
        cdef Py_ssize_t high = t.high_water
        while not self.cancelled and not t.closed:
            while t.pending() < high:
                try:
                    chunk = self.prepared(next(self.it))
                    frame(t.out, chunk, self.chunked)
                except StopIteration:
                    self.finish(None)
                    return
                except BaseException as exc:
                    self.finish(exc)
                    return
            try:
                self.write()
            except Exception as exc:
                self.finish(exc)
                return
            if t.pending() >= high:
                t.drain_waiter = self.resume
                return


cdef class ThreadPump(Pump):
    cdef Buffer pend            # framed by the worker, not yet handed to the transport
    cdef object filtering       # with filters: held while an item or a ping passes through them
    cdef object gate            # lock the worker blocks on while over the high-water mark
    cdef bint waiting
    cdef bint notified
    cdef bint done
    cdef object exc

    cdef int start(self) except -1:
        self.pend = Buffer()
        self.closes_later = True
        if self.filters is not None:
            self.filtering = threading.Lock()
        self.gate = threading.Lock()
        self.gate.acquire()
        self.svc.pool.submit(self.work)
        self.start_pings()
        return 0

    def work(self):
        """Runs on a worker thread."""
        cdef Services svc = self.svc
        cdef Py_ssize_t high = self.t.high_water
        it = None
        try:
            it = iter(self.content)
            while not self.cancelled:
                try:
                    chunk = next(it)
                except StopIteration:
                    break
                if self.cancelled:
                    break
                if self.filters is None:
                    chunk = self.prepared(chunk)
                    frame(self.pend, chunk, self.chunked)
                else:
                    with self.filtering:     # a ping on the loop goes through the same filters
                        chunk = self.prepared(chunk)
                        frame(self.pend, chunk, self.chunked)
                if not self.notified:
                    self.notified = True
                    svc.post(self)
                if self.pend.size() + self.t.pending() >= high and not self.cancelled:
                    self.waiting = True
                    self.gate.acquire()
        except BaseException as exc:
            self.exc = exc
        finally:
            if (self.cancelled or self.exc is not None) and hasattr(it, "close"):
                try:
                    it.close()       # runs the generator's finally: blocks
                except BaseException as exc:
                    svc.log.warning("closing the stream's generator for %s raised", self.what(), exc_info=exc)
            self.done = True
            if not self.notified:
                self.notified = True
                svc.post(self)

    cdef int ping_now(self) except -1:
        if self.filters is None:
            return Pump.ping_now(self)
        with self.filtering:         # after the items the worker filtered, in their order
            chunk = self.filtered(self.ping_bytes)
            frame(self.pend, chunk, self.chunked)
        return 0

    cdef int write(self) except -1:
        cdef object data
        if self.filters is not None:
            with self.filtering:     # the worker may be feeding them: flush after its item
                if self.unflushed:
                    data = self.flushed()
                    frame(self.pend, data, self.chunked)
                self.take()
        return self.t.flush()

    cdef int take(self) except -1:
        """Move what the worker framed to the transport."""
        cdef Transport t = self.t
        cdef Buffer tmp
        if self.pend.size() > 0:
            if t.out.size() == 0:
                tmp = t.out
                t.out = self.pend
                self.pend = tmp
            else:
                t.out.append(self.pend.data + self.pend.start, self.pend.size())
                self.pend.clear()
            self.queued()
        return 0

    def on_worker(self):
        """On the loop: take what the worker framed, write it, release the worker when drained."""
        cdef Transport t = self.t
        self.notified = False
        if self.cancelled or self.finished:
            if self.done:
                self.ended(self.exc)         # the worker closed the generator
            return
        self.take()
        if self.done:
            self.finish(self.exc)
            self.ended(self.exc)
            return
        try:
            self.write()
        except Exception as exc:
            self.cancel()
            self.finish(exc)
            return
        if t.closed:
            return
        if self.waiting:
            if t.pending() <= t.low_water:
                self.release()
            else:
                t.drain_waiter = self.release

    def release(self):
        if self.waiting:
            self.waiting = False
            self.gate.release()

    cdef void cancel(self):
        Pump.cancel(self)
        if self.waiting:
            self.release()


cdef class AsyncPump(Pump):
    cdef object task
    cdef object drained
    cdef bint flush_scheduled

    cdef int start(self) except -1:
        self.closes_later = True
        self.task = self.svc.loop.create_task(self.run())
        self.task.add_done_callback(self.on_done)
        self.start_pings()
        return 0

    def running_task(self):
        return self.task

    def on_done(self, task):
        # run() ends the request itself; a task cancelled before its first
        # step (a hang-up right after the head) never ran it
        self.ended(None)

    def flush_now(self):
        self.flush_scheduled = False
        if not self.t.closed and not self.finished:
            try:
                self.write()
            except Exception as exc:
                self.cancel()
                self.finish(exc)

    def on_drain(self):
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    async def run(self):
        cdef Transport t = self.t
        cdef Py_ssize_t high = t.high_water
        ait = None
        exc = None
        try:
            ait = self.content.__aiter__()
            while not self.cancelled:
                if t.pending() >= high:
                    self.write()
                    if t.pending() >= high and not t.closed:
                        self.drained = self.svc.loop.create_future()
                        t.drain_waiter = self.on_drain
                        await self.drained
                        self.drained = None
                if t.closed:
                    break
                try:
                    chunk = await ait.__anext__()
                except StopAsyncIteration:
                    break
                chunk = self.prepared(chunk)
                frame(t.out, chunk, self.chunked)
                self.queued()
                if not self.flush_scheduled:
                    self.flush_scheduled = True
                    self.svc.loop.call_soon(self.flush_now)
        except asyncio.CancelledError:
            self.cancelled = True
        except Exception as e:
            exc = e
        if (self.cancelled or exc is not None) and ait is not None and hasattr(ait, "aclose"):
            try:
                await ait.aclose()
            except BaseException as e:
                self.svc.log.warning("closing the stream's async generator for %s raised", self.what(),
                                     exc_info=e)
        if not self.cancelled and not t.closed:
            self.finish(exc)
            if not t.closed:
                t.flush()
        self.ended(exc)

    cdef void cancel(self):
        Pump.cancel(self)
        if self.task is not None and not self.task.done():
            self.task.cancel()


cdef Pump make_pump(Services svc, Transport t, object req, object content, bint chunked, object encode,
                    double ping, bytes ping_bytes, list filters):
    cdef Pump p
    if isinstance(content, Pump):
        p = <Pump>content
    elif hasattr(content, "__aiter__"):
        p = AsyncPump.__new__(AsyncPump)
    elif isinstance(content, (list, tuple)):
        p = InlinePump.__new__(InlinePump)
    else:
        p = ThreadPump.__new__(ThreadPump)
    p.svc = svc
    p.t = t
    p.req = req
    p.content = content
    p.chunked = chunked
    p.encode = encode
    p.ping = ping
    p.ping_bytes = ping_bytes
    p.filters = filters
    return p


async def _aclose(content):
    try:
        await content.aclose()
    except BaseException as exc:
        import logging
        logging.getLogger("catzilla").warning("closing an unsent async body raised", exc_info=exc)


cdef int close_unsent(Services svc, object content) except -1:
    if hasattr(content, "aclose"):
        svc.spawn(_aclose(content))
    elif hasattr(content, "close"):
        content.close()
    return 0
