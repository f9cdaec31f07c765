"""``async def`` that sends the work to a ``ProcessPoolExecutor``: past the GIL.

Threads cannot run Python code at the same time (the GIL), so CPU-bound work gains
nothing from a thread pool; separate processes can, up to the number of cores. The pool
(``BENCH_PROCESSES`` processes, started with "spawn": forking a process that already
runs threads is unsafe) is created and warmed up at startup and shut down at exit.
"""

import asyncio
import multiprocessing
import os
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bench import contract
from servers.common import DeviceToken, create_app
from servers.work import loaded, send_push_notification

pools: dict[str, ProcessPoolExecutor] = {}


@asynccontextmanager
async def process_pool(app: FastAPI) -> AsyncIterator[None]:
    size = int(os.environ.get(contract.PROCESSES, "2"))
    pool = ProcessPoolExecutor(max_workers=size, mp_context=multiprocessing.get_context("spawn"))
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(loop.run_in_executor(pool, loaded) for _ in range(size)))  # start them now
    pools["work"] = pool
    try:
        yield
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


app = create_app("process-pool", lifespan=process_pool)


@app.get("/push/{device_token}")
async def notify(device_token: DeviceToken) -> dict[str, str]:
    await asyncio.get_running_loop().run_in_executor(pools["work"], send_push_notification, device_token)
    return {"message": "Notification sent"}
