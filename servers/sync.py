"""Tutorial step 1: the blocking call runs inline in an ``async def`` endpoint.

The event loop is stuck inside ``time.sleep`` for the whole call, so this process
cannot even read the next request until it returns: requests are served one by one.
The ``multi-worker`` variant runs this same file under ``uvicorn --workers 2``.
"""

from servers.common import DeviceToken, create_app
from servers.work import send_push_notification

app = create_app("sync")


@app.get("/push/{device_token}")
async def notify(device_token: DeviceToken) -> dict[str, str]:
    send_push_notification(device_token)
    return {"message": "Notification sent"}
