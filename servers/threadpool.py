"""A plain ``def`` endpoint: FastAPI runs it in its thread pool, off the event loop.

The blocking call still holds one thread for its whole duration, and the answer still
waits for it, but other requests are served by other threads meanwhile (up to anyio's
limit of 40 at once).
"""

from servers.common import DeviceToken, create_app
from servers.work import send_push_notification

app = create_app("threadpool")


@app.get("/push/{device_token}")
def notify(device_token: DeviceToken) -> dict[str, str]:
    send_push_notification(device_token)
    return {"message": "Notification sent"}
