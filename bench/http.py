"""A minimal asyncio HTTP/1.1 client for the load: GET only, timestamps, nothing else.

Not httpx: its shared AsyncClient collapses under concurrency (about 90 req/s at 64
connections here, encode/httpx#3215), and a load generator that measures itself
teaches the wrong lesson. httpx is used only for control calls (readiness).

Every failure is an ``HttpError`` with a short ``kind`` (connect, timeout, reset,
closed, protocol) so that reports can count errors by kind; nothing hangs past its
timeout.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

MAX_HEADER_BYTES = 64 * 1024


class HttpError(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-cased names; a repeated header keeps its last value
    body: bytes
    sent: float  # time.perf_counter() when the request was written
    first_byte: float  # ... when the status line arrived
    done: float  # ... when the body was complete
    keep_alive: bool


class Connection:
    """One HTTP/1.1 connection, reused for sequential requests while the server keeps it."""

    def __init__(
        self, host: str, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.host, self.port = host, port
        self._reader, self._writer = reader, writer
        self.usable = True

    @classmethod
    async def open(cls, host: str, port: int, timeout_s: float) -> Connection:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        except asyncio.TimeoutError:
            raise HttpError("connect", f"no connection to {host}:{port} within {timeout_s:g} s") from None
        except OSError as exc:
            raise HttpError("connect", f"{host}:{port}: {exc.strerror or exc}") from None
        return cls(host, port, reader, writer)

    async def get(self, path: str, timeout_s: float) -> Response:
        if not self.usable:
            raise HttpError("closed", "the connection was closed by an earlier response")
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUser-Agent: bench\r\n\r\n".encode()
        )
        try:
            return await asyncio.wait_for(self._exchange(request), timeout_s)
        except asyncio.TimeoutError:
            self.close()
            raise HttpError("timeout", f"no complete response within {timeout_s:g} s") from None
        except (ConnectionResetError, BrokenPipeError) as exc:
            self.close()
            raise HttpError("reset", str(exc) or type(exc).__name__) from None
        except asyncio.IncompleteReadError:
            self.close()
            raise HttpError("closed", "the server closed the connection mid-response") from None
        except asyncio.LimitOverrunError:
            self.close()
            raise HttpError("protocol", "a header line is too long") from None
        except HttpError:
            self.close()
            raise

    async def _exchange(self, request: bytes) -> Response:
        sent = time.perf_counter()
        self._writer.write(request)
        await self._writer.drain()
        status_line = await self._reader.readline()
        first_byte = time.perf_counter()
        if not status_line:
            raise HttpError("closed", "the server closed the connection without answering")
        parts = status_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HttpError("protocol", f"bad status line {status_line[:60]!r}")
        status = int(parts[1])
        headers = await self._read_headers()
        body = await self._read_body(headers)
        done = time.perf_counter()
        keep_alive = headers.get("connection", "").lower() != "close" and parts[0] == "HTTP/1.1"
        if not keep_alive:
            self.close()
        return Response(status, headers, body, sent, first_byte, done, keep_alive)

    async def _read_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        size = 0
        while True:
            line = await self._reader.readuntil(b"\r\n")
            size += len(line)
            if size > MAX_HEADER_BYTES:
                raise HttpError("protocol", "the response headers are too large")
            if line == b"\r\n":
                return headers
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise HttpError("protocol", f"bad header line {line[:60]!r}")
            headers[name.strip().lower()] = value.strip()

    async def _read_body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = await self._reader.readuntil(b"\r\n")
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise HttpError("protocol", f"bad chunk size {size_line[:30]!r}") from None
                if size == 0:
                    while await self._reader.readuntil(b"\r\n") != b"\r\n":
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(await self._reader.readexactly(size))
                await self._reader.readexactly(2)
        if "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise HttpError("protocol", "bad content-length") from None
            return await self._reader.readexactly(length)
        body = await self._reader.read()  # no length: the body ends when the server closes
        self.usable = False
        return body

    def close(self) -> None:
        self.usable = False
        self._writer.close()
