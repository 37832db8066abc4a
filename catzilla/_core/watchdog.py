"""The loop-block watchdog: a warning on the "catzilla" logger every time the
event loop was blocked longer than the `block_warning` setting, naming the
request it was busy with.

The loop refreshes a heartbeat every threshold/4 (one timer); a beat that
comes more than the threshold late means the loop was blocked that long, and
the loop logs it once it is back, once per stall. A blocked loop cannot say
where it is, so a daemon thread looks at the heartbeat and, once it is
threshold/2 overdue, records what the loop thread is doing then: the
request (`describe()`, from the server) and its innermost frames. While the
loop is healthy the thread wakes every threshold/2 to 3/4 and reads one
attribute."""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from typing import Callable, Optional, Tuple

log = logging.getLogger("catzilla")

#: A stall this long is also reported while it lasts (a deadlocked loop never comes back).
STILL_BLOCKED = 10.0

#: Frames of the loop machinery, not of the app: asyncio's and catzilla's own
#: (this file is catzilla/_core/watchdog.py; the package is not imported, it is above this layer).
_SKIP = (os.path.dirname(str(asyncio.__file__)) + os.sep,
         os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep)


class Watchdog:
    def __init__(self, loop: asyncio.AbstractEventLoop, threshold: float,
                 describe: Callable[[], Optional[str]]) -> None:
        self.loop = loop
        self.threshold = threshold
        self.interval = threshold / 4
        self.describe = describe         # on the watchdog thread: "GET /route" the loop is busy with, or None
        self.beat = time.monotonic()     # when the heartbeat last ran (a float: one atomic store)
        self.seen: Optional[Tuple[float, str]] = None   # (beat, where) recorded during a stall
        self.timer: Optional[asyncio.TimerHandle] = None
        self.thread: Optional[threading.Thread] = None
        self.stopping = threading.Event()
        self.loop_thread = 0

    def start(self) -> None:
        """On the loop thread."""
        self.loop_thread = threading.get_ident()
        self.beat = time.monotonic()
        self.timer = self.loop.call_later(self.interval, self.heartbeat)
        self.thread = threading.Thread(target=self.watch, name="catzilla-watchdog", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.stopping.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(1.0)

    # -- on the loop ----------------------------------------------------------

    def heartbeat(self) -> None:
        now = time.monotonic()
        last = self.beat
        self.beat = now
        self.timer = self.loop.call_later(self.interval, self.heartbeat)
        late = now - last - self.interval     # the timer was due at last + interval
        if late > self.threshold:
            seen = self.seen
            where = seen[1] if seen is not None and seen[0] == last else "(not seen while it lasted)"
            log.warning("the event loop was blocked for %.3f s in %s; every connection of this worker "
                        "waited. Run blocking code with blocking=True (or use an async library): see "
                        "'Blocking code' in the README", late, where)

    # -- on the watchdog thread ---------------------------------------------------

    def watch(self) -> None:
        reported = 0.0                   # the beat of a stall already reported as lasting
        wait = self.threshold / 2
        while not self.stopping.wait(wait):
            beat = self.beat
            overdue = time.monotonic() - beat - self.interval
            if overdue <= self.threshold / 2:
                wait = self.threshold / 2 - overdue     # when it would be, if no beat comes
                continue
            wait = self.interval
            seen = self.seen
            if seen is None or seen[0] != beat:
                self.seen = seen = (beat, self.where())
            if overdue > STILL_BLOCKED and reported != beat:
                reported = beat
                log.warning("the event loop has been blocked for %.1f s in %s, and still is",
                            overdue, seen[1])

    def where(self) -> str:
        """What the loop thread is doing: the request, and where in the code."""
        try:
            request = self.describe()
        except Exception:                # the loop moved on under us: name what we can
            request = None
        frame = sys._current_frames().get(self.loop_thread)
        code = []                        # the app's frames the loop called into, innermost first
        while frame is not None:
            if not frame.f_code.co_filename.startswith(_SKIP):
                code.append(f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno} "
                            f"in {frame.f_code.co_name}")
            elif code:
                break
            frame = frame.f_back
        # the outermost (the handler) and the innermost (what blocks)
        at = " > ".join(code[-1:] + code[:1]) if len(code) > 1 else "".join(code)
        if request is None:
            return f"code at {at}" if at else "code that could not be seen"
        return f"{request} (at {at})" if at else request
