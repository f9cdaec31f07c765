"""FastAPI's own documentation shape: a POST route, a pydantic body, the work in BackgroundTasks.

Try it: ``bench check examples/post_listing.py:app`` (the route is found, and a valid body
built from the app's OpenAPI schema), then
``bench run four-tabs --app examples/post_listing.py:app --done-file log.txt``.
"""

import time

from fastapi import BackgroundTasks, FastAPI
from pydantic import BaseModel

app = FastAPI()


class Notification(BaseModel):
    email: str
    message: str = "some notification"


def write_notification(user_id: str, message: str) -> None:
    time.sleep(3)  # stands in for a slow call to a mail service
    with open("log.txt", mode="a") as log:
        log.write(f"notification for {user_id}: {message}\n")


@app.post("/send-notification/{user_id}")
async def send_notification(user_id: str, note: Notification, background_tasks: BackgroundTasks) -> dict[str, str]:
    background_tasks.add_task(write_notification, user_id, note.message)
    return {"message": "Notification sent in the background"}
