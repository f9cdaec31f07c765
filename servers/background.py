"""Tutorial step 3: hand the slow call to ``BackgroundTasks`` and answer at once.

Starlette runs the task after the response body has been sent. The task is a plain
function, so it goes to the thread pool (anyio's limiter: 40 threads by default),
which is why several of them can run at the same time.
"""

from fastapi import BackgroundTasks

from servers.common import DeviceToken, create_app
from servers.work import send_push_notification

app = create_app("background")


@app.get("/push/{device_token}")
async def notify(device_token: DeviceToken, background_tasks: BackgroundTasks) -> dict[str, str]:
    background_tasks.add_task(send_push_notification, device_token)
    return {"message": "Notification sent"}
