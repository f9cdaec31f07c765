"""What every variant shares: the app factory, ``/health`` and the device-token type.

Kept apart from the strategy files so that those stay as short as the tutorial's
listings and cannot drift apart in their API.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated

import anyio.to_thread
from fastapi import FastAPI, Path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bench import contract

# Letters, digits, '-' and '_', 1 to 64 of them: anything else is rejected with 422
# before it can reach notification.log (no line injection, no path tricks).
DeviceToken = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class WorkerPidHeader:
    """Pure ASGI middleware: tag each response with the pid of the process that served it.

    Pure ASGI (not BaseHTTPMiddleware) so that it does not change when background tasks
    run relative to the response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.pid = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_pid(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((contract.PID_HEADER.encode(), self.pid))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_pid)


def with_thread_limit(inner: Lifespan | None) -> Lifespan:
    """A lifespan that first applies ``BENCH_THREAD_LIMIT`` to anyio's thread limiter.

    The limiter (40 tokens by default) belongs to the running event loop and is shared by
    def endpoints, sync dependencies and sync background tasks, so it can only be raised
    from inside the loop: here, at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limit = os.environ.get(contract.THREAD_LIMIT)
        if limit:
            anyio.to_thread.current_default_thread_limiter().total_tokens = int(limit)
        if inner is None:
            yield
        else:
            async with inner(app):
                yield

    return lifespan


def create_app(strategy: str, lifespan: Lifespan | None = None) -> FastAPI:
    app = FastAPI(title=f"concurrency lab: {strategy}", lifespan=with_thread_limit(lifespan))
    app.add_middleware(WorkerPidHeader)

    @app.get("/health")
    async def health() -> dict[str, str | int]:
        return {"status": "ok", "strategy": strategy, "pid": os.getpid()}

    # The same answer from a plain def: it needs a thread from anyio's pool to run, so it
    # waits when BackgroundTasks and def endpoints hold all of them (the harness probes both).
    @app.get("/health/sync")
    def health_sync() -> dict[str, str | int]:
        return {"status": "ok", "strategy": strategy, "pid": os.getpid()}

    return app
