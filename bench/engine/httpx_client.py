"""``--client httpx``: the load sent through one shared ``httpx.AsyncClient``, the way most code
does, to teach that a client can be the bottleneck (``bench.engine.clients`` chooses it)."""

from __future__ import annotations

import time

import httpx

from bench.engine.clients import ClientConnection
from bench.engine.http import GET, PID_HEADER, HttpError, Response, worker_pid
from bench.model.request import RequestSpec


class _HttpxConnection:
    """A handle on the shared httpx client; httpx picks the real connection from its pool."""

    usable = True

    def __init__(self, client: httpx.AsyncClient, spec: RequestSpec) -> None:
        self._client = client
        self._spec = spec

    async def send(self, path: str, timeout_s: float, token: str = "") -> Response:
        sent = time.perf_counter()
        try:
            spec = self._spec.filled(token)
            async with self._client.stream(
                spec.method, path, headers=list(spec.headers), content=spec.body or None, timeout=timeout_s
            ) as r:
                first_byte = time.perf_counter()
                body = await r.aread()
        except httpx.TimeoutException as exc:
            raise HttpError("timeout", str(exc) or "timed out") from None
        except httpx.ConnectError as exc:
            raise HttpError("connect", str(exc)) from None
        except (httpx.ReadError, httpx.WriteError) as exc:
            raise HttpError("reset", str(exc)) from None
        except httpx.RemoteProtocolError as exc:
            raise HttpError("closed" if "closed" in str(exc).lower() else "protocol", str(exc)) from None
        except httpx.HTTPError as exc:
            raise HttpError("protocol", str(exc)) from None
        raw = list(r.headers.raw)
        pid = next((v for k, v in raw if k.lower() == PID_HEADER), None)
        return Response(r.status_code, raw, body, sent, first_byte, time.perf_counter(), True, worker_pid(pid))

    def close(self) -> None:
        return None


class HttpxClient:
    name = "httpx"

    def __init__(self, host: str, port: int, max_connections: int, spec: RequestSpec = GET) -> None:
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._client = httpx.AsyncClient(base_url=f"http://{host}:{port}", limits=limits, trust_env=False)
        self._spec = spec

    async def connect(self, timeout_s: float) -> ClientConnection:
        return _HttpxConnection(self._client, self._spec)

    async def aclose(self) -> None:
        await self._client.aclose()
