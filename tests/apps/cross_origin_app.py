"""Two apps for the cross-origin browser test: `page` serves a static directory
(STATIC_DIR); `events` serves a paced event stream to the page's origin
(PAGE_ORIGIN) through CORS and gzip, and reports what it sent on /seen."""
import asyncio
import os

from catzilla import Catzilla, CORSMiddleware, EventSourceResponse, GZipMiddleware

page = Catzilla()
page.static("/site", os.environ.get("STATIC_DIR", "."))

events = Catzilla()
seen = []


class Record:
    """Outermost: sees the headers the inner layers set."""

    def on_response(self, request, response):
        if request.path == "/events":
            seen.append({"origin": request.headers.get("origin"),
                         "accept-encoding": request.headers.get("accept-encoding"),
                         "content-encoding": response.headers.get("content-encoding"),
                         "allow-origin": response.headers.get("access-control-allow-origin")})


events.add_middleware(Record)
events.add_middleware(CORSMiddleware, allow_origins=[os.environ.get("PAGE_ORIGIN", "http://127.0.0.1")])
events.add_middleware(GZipMiddleware)


@events.get("/events")
async def ticks(request):
    async def source():
        for i in range(5):
            yield {"event": "tick", "data": f"tick {i}", "id": str(i)}
            await asyncio.sleep(0.4)
        yield {"event": "end", "data": "done"}
    return EventSourceResponse(source(), ping=None)


@events.get("/seen")
def report(request):
    return seen
