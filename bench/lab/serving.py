"""``bench serve``: one variant (or your own app) on the port you pick, in the foreground.

The tutorial's experiment by hand: open ``http://127.0.0.1:8000/push/1`` in four tabs, or
point ``curl``, ``bench load`` or Locust at it. The server writes its ``notification.log``
and the lab's ledger into a folder of its own under ``--out``, and stops with its sidecars
(a Celery worker, a Redis) on Ctrl-C, leaving nothing running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from bench import contract
from bench.engine import loops
from bench.engine.processes import LaunchError
from bench.errors import RunFailed, one_line
from bench.lab.plan import RunPlan, work_env
from bench.lab.runner import launch
from bench.model.scenario import Variant


def where_to_point(variant: Variant, port: int) -> list[str]:
    """What to try against the server, in words a learner can paste."""
    route = variant.own.path if variant.own is not None and variant.own.path else contract.PUSH_PATH
    url = f"http://127.0.0.1:{port}{route.replace('{token}', '1')}"
    return [
        f"serving {variant.name} ({variant.title}) on http://127.0.0.1:{port}",
        f"  open {url} in four browser tabs and reload them quickly (the tutorial's experiment)",
        f"  curl {url}",
        f"  bench load {url} -c 4 -d 10",
        f"  locust -f YOUR_LOCUSTFILE.py --host http://127.0.0.1:{port}",
        "Ctrl-C stops it (and whatever it started)",
    ]


def serve(plan: RunPlan, variant: Variant, folder: Path, port: int, announce: Callable[[str], None]) -> None:
    """``serve_variant`` on the engine's event loop, for a command: returns when Ctrl-C stopped it."""
    try:
        with contextlib.suppress(KeyboardInterrupt):
            loops.run(serve_variant(plan, variant, folder, port, announce))
    except LaunchError as exc:  # the port is taken, the app does not start: said, not a traceback
        raise RunFailed(f"{variant.name} did not start: {one_line(str(exc))}") from None


async def serve_variant(
    plan: RunPlan, variant: Variant, folder: Path, port: int, announce: Callable[[str], None]
) -> None:
    """Start ``variant`` on ``port`` and keep it until cancelled (Ctrl-C)."""
    folder.mkdir(parents=True, exist_ok=True)
    async with contextlib.AsyncExitStack() as stack:
        launched = await launch(stack, plan, variant, folder, work_env(plan, folder), port=port)
        for line in where_to_point(variant, launched.server.port):
            announce(line)
        announce(f"its logs: {folder}")
        while launched.server.process.poll() is None:
            await asyncio.sleep(0.2)
        announce(f"the server exited (code {launched.server.process.returncode}); see {folder / 'server.log'}")
