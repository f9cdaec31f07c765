"""The tutorial's first step, as a learner types it: blocking work called inside ``async def``.

Try it: ``bench check examples/sync_listing.py:app`` names the line that blocks;
``bench run four-tabs --app examples/sync_listing.py:app`` measures what it does to four tabs.
"""

import time

from fastapi import FastAPI

app = FastAPI()


def send_push_notification(device_token: str) -> None:
    time.sleep(10)  # stands in for a slow call to a push service
    with open("notification.log", mode="a") as log:
        log.write(f"Successfully sent push notification to {device_token}\n")


@app.get("/push/{device_token}")
async def notify(device_token: str) -> dict[str, str]:
    send_push_notification(device_token)
    return {"message": "Notification sent"}
