"""The clients a load can use: the raw HTTP/1.1 client, or httpx to show its cost.

Both give connections with the same ``send(path, timeout_s) -> Response`` (the method,
headers and body are the client's ``RequestSpec``) so every load
pattern works with either. ``--client httpx`` exists to teach "your client can be the
bottleneck": it shares one ``httpx.AsyncClient`` the way most code does.
"""

from __future__ import annotations

from typing import Protocol

from bench.engine.http import GET, Connection, Response
from bench.model.request import RequestSpec
from bench.model.scenario import ClientKind


class ClientConnection(Protocol):
    @property
    def usable(self) -> bool: ...

    async def send(self, path: str, timeout_s: float, token: str = "") -> Response: ...

    def close(self) -> None: ...


class Client(Protocol):
    name: str

    async def connect(self, timeout_s: float) -> ClientConnection: ...

    async def aclose(self) -> None: ...


class RawClient:
    """One TCP connection per ``connect``: exactly what wrk and a browser tab do."""

    name = "raw"

    def __init__(self, host: str, port: int, spec: RequestSpec = GET) -> None:
        self.host, self.port, self.spec = host, port, spec

    async def connect(self, timeout_s: float) -> ClientConnection:
        return await Connection.open(self.host, self.port, timeout_s, self.spec)

    async def aclose(self) -> None:
        return None


def make_client(kind: ClientKind, host: str, port: int, max_connections: int = 100, spec: RequestSpec = GET) -> Client:
    if kind == "httpx":  # imported only for it: httpx is a tenth of a run's start-up
        from bench.engine.httpx_client import HttpxClient

        return HttpxClient(host, port, max_connections, spec)
    return RawClient(host, port, spec)
