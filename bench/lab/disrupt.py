"""What happens to work in flight when a process dies: the ``restart`` experiments.

After every request has been answered and while the work is still running, the harness
disrupts one process and (for the web server) starts it again, then waits for the
ledger. ``lost`` then says which strategies kept their promise to do the work:

- web server, SIGKILL: work inside the web process (BackgroundTasks, asyncio tasks) dies
  with it; a Celery task lives in the broker and the worker, so it survives.
- web server, SIGTERM: uvicorn's graceful shutdown waits for running BackgroundTasks,
  but not for fire-and-forget asyncio tasks, which are cancelled.
- Celery worker processes, SIGKILL: with ``acks_late`` and ``reject_on_worker_lost`` the
  task goes back to the queue and runs again.
"""

from __future__ import annotations

import asyncio
import os
import signal

from bench.engine.owners import children_of
from bench.lab.launcher import RunningServer
from bench.model.scenario import Disruption


async def disrupt(disruption: Disruption, server: RunningServer, worker_pid: int | None, work_s: float) -> str:
    """Carry the disruption out; returns what was done, for the report."""
    await asyncio.sleep(disruption.at * work_s)  # into the work, on purpose: that is the experiment
    sig = signal.SIGKILL if disruption.signal == "KILL" else signal.SIGTERM
    if disruption.target == "celery-worker":
        if worker_pid is None:
            return "no Celery worker to disrupt"
        pids = children_of(worker_pid)
        for pid in pids:
            os.kill(pid, sig)
        return f"SIG{disruption.signal} to the Celery worker's {len(pids)} pool process(es) at {disruption.at:g} d"
    os.killpg(server.process.pid, sig)
    # Wait for it to go: a graceful shutdown may take as long as the work it waits for.
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, server.process.wait)
    return f"SIG{disruption.signal} to the web server at {disruption.at:g} d, then started again"
