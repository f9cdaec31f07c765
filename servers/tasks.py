"""The Celery side of the ``celery`` variants: the same slow work, run by a Celery worker.

Settings come from the launcher's environment, as for the web apps:
    BENCH_BROKER_URL     the broker (and result backend): a real Redis
    BENCH_PREFETCH       how many messages a worker process reserves ahead (default 1)
    BENCH_FAIL_FIRST     tokens starting with ``retry`` fail this many attempts first (default 0)

``acks_late`` + ``reject_on_worker_lost``: a message is acknowledged only when its task
has finished, so a worker process that dies mid-task hands the task back to the queue
instead of losing it (https://docs.celeryq.dev/en/stable/userguide/tasks.html#Task.acks_late).
"""

from __future__ import annotations

import os

from celery import Celery, Task

from bench import contract
from servers.work import send_push_notification

broker = os.environ.get(contract.BROKER_URL, "redis://127.0.0.1:6379/0")
celery_app = Celery("lab", broker=broker, backend=broker)
celery_app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=int(os.environ.get(contract.PREFETCH, "1")),
    task_track_started=True,
    result_extended=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


class Flaky(Exception):
    """The push service said no; the task retries it."""


@celery_app.task(bind=True, name="lab.send_push", max_retries=5)  # type: ignore[untyped-decorator]
def send_push(self: Task, device_token: str) -> str:
    fail_first = int(os.environ.get(contract.FAIL_FIRST, "0"))
    if device_token.startswith("retry") and self.request.retries < fail_first:
        # Exponential backoff: 0.1 s, 0.2 s, 0.4 s ... before the next attempt.
        raise self.retry(
            exc=Flaky(f"attempt {self.request.retries + 1} failed"), countdown=0.1 * 2**self.request.retries
        )
    send_push_notification(device_token)
    return f"sent to {device_token} after {self.request.retries + 1} attempt(s)"
