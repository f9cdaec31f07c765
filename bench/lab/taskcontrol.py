"""``task-control``: what Celery adds over BackgroundTasks, each checked like a claim.

Against a Celery variant with one worker process:
- tracking: ``GET /tasks/{id}`` follows a task from PENDING through STARTED to SUCCESS;
- retries: a task whose first K attempts fail (``BENCH_FAIL_FIRST``) is retried with
  exponential backoff and ends SUCCESS after K + 1 attempts;
- revoking: a task queued behind a running one is revoked with ``DELETE /tasks/{id}``
  and never runs (the ledger never sees its token).
The facts measured become figures the scenario's claims can name.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import contract
from bench.engine.processes import LaunchError
from bench.lab.ledger import LedgerReader, LedgerWatcher
from bench.lab.plan import RunPlan, unfinished_result, work_env
from bench.lab.runner import launch
from bench.model import claims
from bench.model.document import TaskControlFacts, VariantResult
from bench.model.scenario import Variant

if TYPE_CHECKING:
    import httpx

FINAL = ("SUCCESS", "FAILURE", "REVOKED")


async def _follow(client: httpx.AsyncClient, task_id: str, timeout_s: float) -> tuple[list[str], dict[str, Any]]:
    """Poll a task's state until it is final; returns the states seen, in order, and the last answer."""
    seen: list[str] = []
    last: dict[str, Any] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        last = (await client.get(f"/tasks/{task_id}")).json()
        if not seen or seen[-1] != last["state"]:
            seen.append(last["state"])
        if last["state"] in FINAL:
            break
        await asyncio.sleep(0.02)
    return seen, last


async def run_task_control(plan: RunPlan, variant: Variant, folder: Path) -> VariantResult:
    folder.mkdir(parents=True, exist_ok=True)
    import httpx  # here: only this experiment needs it, and it is a tenth of a run's start-up

    env = work_env(plan, folder, **{contract.FAIL_FIRST: str(plan.scenario.fail_first)})
    result = unfinished_result(plan, variant)
    nonce = secrets.token_hex(4)
    watcher = LedgerWatcher(LedgerReader(folder / contract.LEDGER_FILE))
    timeout_s = 4 * plan.work_s + 10
    try:
        async with contextlib.AsyncExitStack() as stack:
            launched = await launch(stack, plan, variant, folder, env)
            result.broker = launched.sidecars.broker
            server = launched.server
            client = await stack.enter_async_context(
                httpx.AsyncClient(base_url=server.base_url, timeout=10, trust_env=False)
            )

            # Tracking and retries: one task that fails its first K attempts.
            retry_id = (await client.get(f"/push/retry-{nonce}")).json()["task_id"]
            states, final = await _follow(client, retry_id, timeout_s)

            # Revoking: a task queued behind a running one (the worker runs one at a time).
            blocker = f"block-{nonce}"
            victim = f"victim-{nonce}"
            await client.get(f"/push/{blocker}")
            victim_id = (await client.get(f"/push/{victim}")).json()["task_id"]
            revoked = await client.delete(f"/tasks/{victim_id}")
            await watcher.wait_for([blocker], timeout_s)
            await watcher.wait_for([victim], plan.work_s + 1)  # if it ran, it would be done by now
            victim_state = (await client.get(f"/tasks/{victim_id}")).json()["state"]
    except LaunchError as exc:
        result.error = str(exc)
        return result
    result.status = "ok"
    result.facts = TaskControlFacts(
        retry_attempts=float((final.get("retries") or 0) + 1) if final.get("state") == "SUCCESS" else 0.0,
        retry_succeeded=1.0 if final.get("state") == "SUCCESS" else 0.0,
        started_seen=1.0 if "STARTED" in states else 0.0,
        revoked_ran=1.0 if victim in watcher.found else 0.0,
    )
    result.notes = [
        f"retried task: states {' → '.join(states)}; result {final.get('result')!r}",
        f"revoked task: DELETE answered {revoked.status_code}; final state {victim_state}; "
        f"{'it ran anyway' if victim in watcher.found else 'it never ran'}",
    ]
    result.claims = [
        claims.check(c, None, plan.work_s, facts=result.facts)
        for c in plan.scenario.claims
        if c.variant == variant.name
    ]
    return result
