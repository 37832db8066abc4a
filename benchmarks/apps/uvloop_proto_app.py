"""uvloop protocol (canned): the floor of what an HTTP server on uvloop can cost.

A bare asyncio.Protocol that parses nothing: every complete request head (a b"\\r\\n\\r\\n" in
the byte stream) is answered with one fixed "200 Hello, World!" response carrying the headers
catzilla sends for GET / (Server, Date, Content-Type, Content-Length), and all answers to one
data_received go out in one transport.write. Only meant for bodiless GETs (plain, plain16).
Run: python uvloop_proto_app.py PORT
"""
import asyncio
import email.utils

import uvloop

from common import HELLO, port_from_argv

BODY = HELLO.encode()
HEAD_END = b"\r\n\r\n"
MAX_PENDING = 64 * 1024     # a head that never ends: close the connection


def canned() -> bytes:
    date = email.utils.formatdate(usegmt=True)   # IMF-fixdate, as catzilla's Date
    return (f"HTTP/1.1 200 OK\r\nServer: catzilla\r\nDate: {date}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(BODY)}\r\n\r\n").encode() + BODY


RESPONSE = canned()


def refresh_date(loop: asyncio.AbstractEventLoop) -> None:
    global RESPONSE
    RESPONSE = canned()
    loop.call_later(1.0, refresh_date, loop)


class Canned(asyncio.Protocol):
    __slots__ = ("transport", "pending")

    def connection_made(self, transport):
        self.transport = transport
        self.pending = b""

    def data_received(self, data):
        if self.pending:
            data = self.pending + data
        heads = data.count(HEAD_END)
        if heads:
            self.transport.write(RESPONSE * heads)
            self.pending = data[data.rindex(HEAD_END) + len(HEAD_END):]
        else:
            self.pending = data
        if len(self.pending) > MAX_PENDING:
            self.transport.close()

    def connection_lost(self, exc):
        self.transport = None


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    refresh_date(loop)
    server = await loop.create_server(Canned, "127.0.0.1", port, backlog=2048)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(port_from_argv()))
