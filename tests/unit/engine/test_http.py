"""The load client against small raw servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from bench.engine.http import Connection, HttpError
from tests.factories import Handler, responder, with_raw_server


def with_server(handler: Handler, client: Callable[[int], Awaitable[object]]) -> object:
    return asyncio.run(with_raw_server(handler, client))


def answer(raw: bytes, close: bool = False) -> Handler:
    return responder(raw, close_after=1 if close else 0)


def test_content_length_body_and_keep_alive() -> None:
    async def client(port: int) -> list[bytes]:
        conn = await Connection.open("127.0.0.1", port, 2)
        bodies = [(await conn.send("/a", 2)).body for _ in range(3)]  # one connection, three requests
        conn.close()
        return bodies

    result = with_server(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Worker-Pid: 42\r\n\r\nhello"), client)
    assert result == [b"hello"] * 3


def test_chunked_body_and_headers() -> None:
    raw = (
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nX-Worker-Pid: 42\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )

    async def client(port: int) -> tuple[int, bytes, str, bool]:
        conn = await Connection.open("127.0.0.1", port, 2)
        r = await conn.send("/", 2)
        conn.close()
        return r.status, r.body, r.headers["x-worker-pid"], r.sent <= r.first_byte <= r.done

    assert with_server(answer(raw), client) == (201, b"abcde", "42", True)


def test_body_until_close_without_length() -> None:
    async def client(port: int) -> tuple[bytes, bool]:
        conn = await Connection.open("127.0.0.1", port, 2)
        r = await conn.send("/", 2)
        return r.body, conn.usable

    assert with_server(answer(b"HTTP/1.0 200 OK\r\n\r\nall of it", close=True), client) == (
        b"all of it",
        False,
    )


async def _kind_of_failure(port: int, timeout: float = 2) -> str:
    conn = await Connection.open("127.0.0.1", port, 2)
    try:
        await conn.send("/", timeout)
    except HttpError as exc:
        return exc.kind
    return "no error"


def test_a_stalled_server_is_a_timeout_not_a_hang() -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(5)
        finally:
            writer.close()

    assert with_server(stall, lambda port: _kind_of_failure(port, timeout=0.2)) == "timeout"


def test_closed_without_answer() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    assert with_server(hang_up, _kind_of_failure) == "closed"


def test_closed_mid_body() -> None:
    assert (
        with_server(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", close=True), _kind_of_failure)
        == "closed"
    )


def test_reset_by_peer() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        sock = writer.get_extra_info("socket")
        import socket
        import struct

        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
        writer.close()

    assert with_server(reset, _kind_of_failure) in ("reset", "closed")


@pytest.mark.parametrize(
    "raw", [b"garbage\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n"]
)
def test_protocol_errors(raw: bytes) -> None:
    assert with_server(answer(raw, close=True), _kind_of_failure) == "protocol"


def test_connection_refused() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: refused

        async def client() -> str:
            try:
                await Connection.open("127.0.0.1", port, 1)
            except HttpError as exc:
                return exc.kind
            return "connected"

        assert asyncio.run(client()) == "connect"
