"""Servers the load benchmark fires at (run by benchmarks/load_vs_wrk.py, not by the harness).

- ``app``: FastAPI with ``/ping`` (as cheap as FastAPI gets) and ``/sleep50`` (50 ms of
  ``await asyncio.sleep``: 100 connections can do at most 2,000 req/s).
- ``trivial_asgi``: the smallest ASGI app, served by uvicorn (httptools, uvloop).
- ``serve_trivial``: a raw uvloop protocol that answers every request with the same
  bytes, far faster than any Python framework, so that the *client* is the limit.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.get("/ping", response_class=PlainTextResponse)
async def ping() -> str:
    return "pong"


@app.get("/sleep50", response_class=PlainTextResponse)
async def sleep50() -> str:
    await asyncio.sleep(0.05)
    return "slept"


async def trivial_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The smallest ASGI app: no framework, no routing (run with ``--lifespan off``)."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"4")],
        }
    )
    await send({"type": "http.response.body", "body": b"pong"})


ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Type: text/plain\r\n\r\npong"


class Trivial(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        data = self.pending + data
        count = data.count(b"\r\n\r\n")  # GETs without bodies: one request per blank line
        self.pending = data[data.rfind(b"\r\n\r\n") + 4 :] if count else data
        if count:
            self.transport.write(ANSWER * count)  # type: ignore[attr-defined]


async def serve_trivial(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Trivial, "127.0.0.1", port, backlog=1024)
    print(f"trivial server on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    import uvloop

    uvloop.run(serve_trivial(int(sys.argv[1])))
