"""``asyncio.to_thread``: the same shape as the def endpoint, a different pool.

The work runs in asyncio's default executor, which has min(32, CPUs + 4) threads: only
6 on a 2-core machine, against the 40 of anyio's pool that FastAPI uses for def
endpoints. Same code shape, a much lower ceiling on small machines.
"""

import asyncio

from servers.common import DeviceToken, create_app
from servers.work import send_push_notification

app = create_app("to-thread")


@app.get("/push/{device_token}")
async def notify(device_token: DeviceToken) -> dict[str, str]:
    await asyncio.to_thread(send_push_notification, device_token)
    return {"message": "Notification sent"}
