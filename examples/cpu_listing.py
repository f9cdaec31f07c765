"""A CPU-bound endpoint: the work burns the CPU on the event loop instead of waiting.

``bench check examples/cpu_listing.py:app`` names the loop's line (the loop watchdog sees
what no wrapper of blocking calls sees) and predicts four tabs with the GIL in mind: a def
endpoint does not help CPU work, a process pool does, up to the cores.
"""

from fastapi import FastAPI

app = FastAPI()


def checksum(rounds: int) -> int:
    total = 0
    for i in range(rounds):
        total = (total * 31 + i) % 1_000_003
    return total


@app.get("/push/{device_token}")
async def notify(device_token: str):
    total = checksum(20_000_000)
    return {"message": "Notification sent", "checksum": total}
