"""A minimal HTTP/1.1 client for the load: GET only, timestamps, nothing else.

Built on ``asyncio.Protocol`` with httptools' C parser (the one uvicorn uses), so that
the client is never the bottleneck it measures: httpx's shared AsyncClient collapses
under concurrency (about 90 req/s at 64 connections here, encode/httpx#3215). On
uvloop (``bench.engine.loops``) this client reaches most of wrk's rate; see benchmarks/.
httpx stays for control calls (readiness) and for ``--client httpx``, which shows the
difference on purpose.

Every failure is an ``HttpError`` with a short ``kind`` (connect, timeout, reset,
closed, protocol) so reports can count errors by kind; nothing waits past its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import cast

import httptools

from bench import contract
from bench.model.request import RequestSpec


class HttpError(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


GET = RequestSpec()  # a plain GET: what the lab's own runs send
PID_HEADER = contract.PID_HEADER.encode()  # the lab's servers name the process that answered
_WATCHED_LENGTHS = frozenset(len(name) for name in (PID_HEADER, b"content-length", b"transfer-encoding"))


def worker_pid(value: bytes | str | None) -> int | None:
    """The answering process from the ``x-worker-pid`` header's value, if it is one."""
    return int(value) if value and value.isdigit() else None  # int() takes bytes of digits too


class RequestEncoder:
    """Requests for one host, as bytes: ``spec``'s method, headers and body on each path; the
    last path's bytes are reused (the hot path sends the same path again and again)."""

    __slots__ = ("_host", "_last", "_last_path", "_method", "_spec", "_suffix")

    def __init__(self, host: str, port: int, spec: RequestSpec = GET) -> None:
        self._method = spec.method.encode("ascii") + b" "
        authority = spec.authority or (f"[{host}]:{port}" if ":" in host else f"{host}:{port}")  # as given, else ours
        self._host = f" HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: bench\r\n".encode("ascii")
        self._spec = spec if spec.templated else None  # a template: each request filled with its token
        self._suffix = self._host + spec.head() + b"\r\n" + spec.body
        self._last_path = ""
        self._last = b""

    def encode(self, path: str, token: str = "") -> bytes:
        if self._spec is not None:
            filled = self._spec.filled(token)
            return self._method + path.encode("ascii") + self._host + filled.head() + b"\r\n" + filled.body
        if path != self._last_path:
            self._last_path, self._last = path, self._method + path.encode("ascii") + self._suffix
        return self._last


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    raw_headers: list[tuple[bytes, bytes]]  # as received; ``headers`` decodes them when asked
    body: bytes
    sent: float  # time.perf_counter() when the request was written
    first_byte: float  # ... when the first byte of the response arrived
    done: float  # ... when the response was complete
    keep_alive: bool
    pid: int | None = None  # the x-worker-pid header

    @property
    def headers(self) -> dict[str, str]:
        """Lower-cased names; a repeated header keeps its last value."""
        return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.raw_headers}


class _Nobody:
    """What a closed connection's parser reports to: nothing."""


_SPENT = httptools.HttpResponseParser(_Nobody())


class _Callbacks:
    """What a parser that reads no header calls: the protocol's own methods, bound, so no layer is
    added (httptools makes no header objects at all for a protocol without ``on_header``)."""

    def __init__(self, protocol: ResponseProtocol) -> None:
        self.on_headers_complete = protocol.on_headers_complete
        self.on_message_complete = protocol.on_message_complete


class _FramingProbe:
    """Reads a response head again, when a connection closed after it, to learn its framing."""

    def __init__(self) -> None:
        self.framed = False

    def on_message_begin(self) -> None:  # an interim answer came first: the last head counts
        self.framed = False

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.lower()
        if key == b"content-length" or (key == b"transfer-encoding" and b"chunked" in value.lower()):
            self.framed = True


def framed_by(head: list[bytes]) -> bool:
    """Whether the response whose first bytes are ``head`` said where its body ends."""
    probe = _FramingProbe()
    with contextlib.suppress(httptools.HttpParserError):  # what follows the head may be cut short
        httptools.HttpResponseParser(probe).feed_data(b"".join(head))
    return probe.framed


class ResponseProtocol(asyncio.Protocol):
    """The HTTP/1.1 response codec both clients share: one response at a time on one
    connection, parsed by httptools as bytes arrive.

    It knows the framing (Content-Length, chunked, or the body ending with the connection),
    the worker-pid header, and how a failure is named (protocol, reset, closed). What
    happens with a complete response or a failure is the subclass's: ``completed`` and
    ``failed`` are called from the callbacks directly, so no task switch is added.
    """

    keep_body = False  # the coroutine client returns headers and body; the pump needs neither
    # False: no header is read (no pid); the bytes up to the head's end are kept instead, for the
    # one case that needs the framing: the connection closed after the head, before the body's end
    reads_headers = True

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.head: list[bytes] = []
        self.parser = httptools.HttpResponseParser(self if self.reads_headers else _Callbacks(self))
        self.lost = False
        self.in_flight = False
        self.arrived = 0.0  # when bytes last came (perf_counter)
        self.begin(0.0)

    def begin(self, sent: float) -> None:
        """A request was (or is about to be) written at ``sent``: expect its response."""
        self.sent = sent
        self.first_byte = 0.0
        self.pid: bytes | None = None
        self.framed = False  # the body has a length or is chunked: its end is known
        self.headers_done = False
        self.head.clear()
        self.in_flight = True
        if self.keep_body:
            self.headers: list[tuple[bytes, bytes]] = []
            self.body: list[bytes] = []

    # what a subclass does with the outcome
    def completed(self, status: int, keep_alive: bool, done: float) -> None:
        raise NotImplementedError

    def failed(self, kind: str, detail: str) -> None:
        raise NotImplementedError

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass, but quacks alike

    def data_received(self, data: bytes) -> None:
        self.arrived = now = time.perf_counter()  # a response that ends here was done when its last bytes came
        if not self.first_byte:
            self.first_byte = now
        if not self.headers_done and not self.reads_headers:
            self.head.append(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.fail("protocol", f"bad response: {exc}")
            if self.transport is not None:
                self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        try:
            self._lost(exc)
        finally:  # the cycles parser <-> protocol <-> transport broken: refcounts free a connection, not the GC
            self.parser, self.transport = _SPENT, None

    def _lost(self, exc: Exception | None) -> None:
        if not self.in_flight:
            return
        framed = self.framed if self.reads_headers or not self.headers_done else framed_by(self.head)
        if self.headers_done and not framed and exc is None:
            self.arrived = time.perf_counter()
            self.on_message_complete()  # the body ended with the connection, as HTTP/1.0 allows
        elif isinstance(exc, (ConnectionResetError, BrokenPipeError)):
            self.fail("reset", str(exc) or type(exc).__name__)
        elif self.first_byte:
            self.fail("closed", "the server closed the connection mid-response")
        else:
            self.fail("closed", "the server closed the connection without answering")

    def fail(self, kind: str, detail: str) -> None:
        if self.in_flight:
            self.in_flight = False
            self.failed(kind, detail)

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if self.keep_body:
            self.headers.append((name, value))
        if len(name) in _WATCHED_LENGTHS:  # not Date, Server, ...: most headers need no lower()
            self.watched(name, value)

    def watched(self, name: bytes, value: bytes) -> None:
        """A header that may be one the codec reads: the worker's pid, or the body's framing."""
        key = name.lower()
        if key == PID_HEADER:
            self.pid = value
        elif key == b"content-length" or (key == b"transfer-encoding" and b"chunked" in value.lower()):
            self.framed = True

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        if self.keep_body:
            self.body.append(body)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # interim (100 Continue, 103 Early Hints): the answer follows
            self.interim()
            return
        if self.in_flight:
            self.in_flight = False
            self.completed(status, bool(self.parser.should_keep_alive()), self.arrived)

    def interim(self) -> None:
        """An interim response ended: what it said is not the answer's (its first byte stays: the
        server began to answer then)."""
        self.pid, self.framed, self.headers_done = None, False, False
        if self.keep_body:
            self.headers, self.body = [], []


class _ResponseReader(ResponseProtocol):
    """The coroutine client's side: hands each complete response to the waiting request."""

    keep_body = True

    def __init__(self) -> None:
        self.waiter: asyncio.Future[Response] | None = None
        super().__init__()
        self.in_flight = False

    def completed(self, status: int, keep_alive: bool, done: float) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(
                Response(
                    status,
                    self.headers,
                    b"".join(self.body),
                    self.sent,
                    self.first_byte,
                    done,
                    keep_alive and not self.lost,
                    worker_pid(self.pid),
                )
            )

    def failed(self, kind: str, detail: str) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(HttpError(kind, detail))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Connection:
    """One HTTP/1.1 connection, reused for sequential requests while the server keeps it.

    The timeout costs nothing per request: each request only sets a deadline, and one
    timer per connection, re-armed only when it fires early, enforces it.
    """

    def __init__(
        self, host: str, port: int, transport: asyncio.Transport, reader: _ResponseReader, spec: RequestSpec = GET
    ) -> None:
        self.host, self.port = host, port
        self._transport = transport
        self._reader = reader
        self._loop = asyncio.get_running_loop()
        self._encoder = RequestEncoder(host, port, spec)
        self._deadline = 0.0
        self._timeout_s = 0.0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def usable(self) -> bool:
        return not self._reader.lost and not self._transport.is_closing()

    @classmethod
    async def open(cls, host: str, port: int, timeout_s: float, spec: RequestSpec = GET) -> Connection:
        loop = asyncio.get_running_loop()
        try:
            transport, reader = await asyncio.wait_for(loop.create_connection(_ResponseReader, host, port), timeout_s)
        except asyncio.TimeoutError:
            raise HttpError("connect", f"no connection to {host}:{port} within {timeout_s:g} s") from None
        except OSError as exc:
            raise HttpError("connect", f"{host}:{port}: {exc.strerror or exc}") from None
        return cls(host, port, transport, reader, spec)

    async def send(self, path: str, timeout_s: float, token: str = "") -> Response:
        """One request on ``path`` (its headers and body filled with ``token``), and its response."""
        if not self.usable:
            raise HttpError("closed", "the connection is closed")
        request = self._encoder.encode(path, token)
        reader = self._reader
        waiter: asyncio.Future[Response] = self._loop.create_future()
        reader.waiter = waiter
        now = time.perf_counter()
        reader.begin(now)
        self._deadline, self._timeout_s = now + timeout_s, timeout_s
        if self._timer is None:
            self._timer = self._loop.call_later(timeout_s, self._check_deadline)
        self._transport.write(request)
        try:
            response = await waiter
        except HttpError:
            self.close()
            raise
        finally:
            reader.waiter = None
        if not response.keep_alive:
            self.close()
        return response

    def _check_deadline(self) -> None:
        self._timer = None
        waiter = self._reader.waiter
        if waiter is None or waiter.done():
            return
        left = self._deadline - time.perf_counter()
        if left > 0:  # a later request on the same connection: wait for its own deadline
            self._timer = self._loop.call_later(left, self._check_deadline)
            return
        self._reader.fail("timeout", f"no complete response within {self._timeout_s:g} s")

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._reader.close()
