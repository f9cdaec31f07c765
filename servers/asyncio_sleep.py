"""``async def`` with non-blocking work: ``await asyncio.sleep`` instead of ``time.sleep``.

While one request waits, the event loop serves the others, on one thread. The answer
still comes after the work, as in step 1, but requests overlap.
"""

from servers.common import DeviceToken, create_app
from servers.work import send_push_notification_async

app = create_app("asyncio")


@app.get("/push/{device_token}")
async def notify(device_token: DeviceToken) -> dict[str, str]:
    await send_push_notification_async(device_token)
    return {"message": "Notification sent"}
