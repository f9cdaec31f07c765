"""An app with several routes, each holding the event loop in its own way (or not at all).

``bench check examples/routes_listing.py:app`` diagnoses every route into one table;
``--fail-on-blocking`` turns it into a gate.
"""

import asyncio
import time

from fastapi import Depends, FastAPI
from pydantic import BaseModel

app = FastAPI()


class Note(BaseModel):
    user: str
    text: str


async def get_db():
    time.sleep(0.2)  # a sync driver's connect, inside an async dependency
    return "db"


@app.get("/push/{device_token}")
async def push(device_token: str):
    await asyncio.sleep(1)
    return {"message": "Notification sent"}


@app.post("/notes")
async def add_note(note: Note, db: str = Depends(get_db)):
    return {"saved": note.user}


@app.get("/report")
async def report():
    total = 0
    for i in range(5_000_000):
        total += i % 3
    return {"total": total}
