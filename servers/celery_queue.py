"""The tutorial's next chapter: hand the slow call to Celery and answer with the task id.

The work runs in a separate Celery worker (a sidecar the harness starts), not in the web
server: it survives the web server's restart, can be tracked, retried and revoked. The
endpoint is a plain ``def`` because publishing to the broker is a blocking network call.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from celery.result import AsyncResult
from fastapi import FastAPI, HTTPException

from servers.common import DeviceToken, create_app
from servers.tasks import celery_app, send_push


@asynccontextmanager
async def connect_to_the_broker(app: FastAPI) -> AsyncIterator[None]:
    # Connect at startup, not on the first request: otherwise the first answer pays for it. Both
    # connections: the broker's, and the result backend's subscription, which every delay() uses
    # to follow its task (opened on first use, under a lock the other requests then wait at).
    with celery_app.producer_or_acquire() as producer:
        producer.connection.ensure_connection(max_retries=3)
        producer.maybe_declare(celery_app.amqp.queues[celery_app.conf.task_default_queue])  # once per connection
    results = celery_app.backend.result_consumer
    if results is not None:
        results.consume_from("lab-warm-up")
        results.cancel_for("lab-warm-up")
    yield


app = create_app("celery", lifespan=connect_to_the_broker)


@app.get("/push/{device_token}")
def notify(device_token: DeviceToken) -> dict[str, str]:
    task = send_push.delay(device_token)
    return {"message": "Notification sent", "task_id": task.id}


@app.get("/tasks/{task_id}")
def task_state(task_id: str) -> dict[str, object]:
    result = AsyncResult(task_id, app=celery_app)
    info = result.info
    retries = getattr(result, "retries", None)
    return {
        "task_id": task_id,
        "state": result.state,
        "retries": retries,
        "result": info if isinstance(info, (str, int, float, type(None))) else repr(info),
    }


@app.delete("/tasks/{task_id}", status_code=202)
def revoke(task_id: str) -> dict[str, str]:
    if not task_id.replace("-", "").isalnum():
        raise HTTPException(422, "not a task id")
    celery_app.control.revoke(task_id)
    return {"task_id": task_id, "state": "REVOKED"}
