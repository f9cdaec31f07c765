"""Fire and forget: start the async work with ``asyncio.create_task`` and answer at once.

The pitfall: the event loop keeps only a weak reference to a task, so a task nobody
else references can be garbage-collected before it finishes
(https://docs.python.org/3/library/asyncio-task.html#asyncio.create_task). We keep
each task in a set until it is done. Even so, nothing tracks or retries these tasks:
if the process stops, the work in flight is simply gone.
"""

import asyncio

from servers.common import DeviceToken, create_app
from servers.work import send_push_notification_async

app = create_app("asyncio-task")
running_tasks: set[asyncio.Task[None]] = set()


@app.get("/push/{device_token}")
async def notify(device_token: DeviceToken) -> dict[str, str]:
    task = asyncio.create_task(send_push_notification_async(device_token))
    running_tasks.add(task)
    task.add_done_callback(running_tasks.discard)
    return {"message": "Notification sent"}
