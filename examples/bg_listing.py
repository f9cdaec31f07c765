"""The tutorial's third step, as a learner types it: the same work handed to ``BackgroundTasks``.

Try it: ``bench check examples/bg_listing.py:app``, then
``bench run four-tabs --app examples/bg_listing.py:app``.
"""

import time

from fastapi import BackgroundTasks, FastAPI

app = FastAPI()


def send_push_notification(device_token: str) -> None:
    time.sleep(15)  # stands in for a slow call to a push service
    with open("notification.log", mode="a") as log:
        log.write(f"Successfully sent push notification to {device_token}\n")


@app.get("/push/{device_token}")
async def notify(device_token: str, background_tasks: BackgroundTasks) -> dict[str, str]:
    background_tasks.add_task(send_push_notification, device_token)
    return {"message": "Notification sent"}
