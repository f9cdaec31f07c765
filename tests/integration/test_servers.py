"""Every variant serves the same API; one parametrised test drives them all."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from bench.lab.catalog import default_scenarios_path, load_catalog
from bench.lab.launcher import ServerSpec, serve
from bench.lab.sidecars import sidecars

CATALOG = load_catalog(default_scenarios_path())
BAD_TOKENS = ["has space", "x" * 65, "semi;colon", "new%0Aline", "%2E%2E%2Fetc", "ünïcode"]


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(CATALOG.variants))
def test_variant_serves_the_api_and_records_its_work(name: str, tmp_path: Path) -> None:
    variant = CATALOG.variants[name]
    spec = ServerSpec(
        app=variant.app,
        workers=variant.workers,
        log_path=tmp_path / "server.log",
        env={"BENCH_WORK_SECONDS": "0.05", "BENCH_WORK_KIND": "sleep", "BENCH_LEDGER_DIR": str(tmp_path)},
    )

    async def exercise() -> tuple[dict[str, object], list[int], httpx.Response]:
        async with (
            sidecars(variant, tmp_path, spec.env, None, Path(".")) as side,  # Celery: a broker and a worker
            serve(replace(spec, env={**spec.env, **side.env})) as server,
            httpx.AsyncClient(base_url=server.base_url, trust_env=False) as client,
        ):
            health = (await client.get("/health")).json()
            bad = [(await client.get(f"/push/{token}")).status_code for token in BAD_TOKENS]
            ok = await client.get("/push/Good_token-1")
            for _ in range(500):  # the at-once variants finish their work after answering
                if (tmp_path / "ledger.jsonl").exists():
                    break
                await asyncio.sleep(0.01)
            return health, bad, ok

    health, bad, ok = asyncio.run(exercise())
    assert health["status"] == "ok"
    assert all(code in (404, 422) for code in bad), bad
    assert bad[0] == 422 and bad[1] == 422  # a valid path with an invalid token: 422
    assert ok.status_code == 200 and ok.json()["message"] == "Notification sent"
    assert set(ok.json()) == ({"message", "task_id"} if variant.celery else {"message"})
    assert ok.headers["x-worker-pid"].isdigit()

    records = [json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    assert [r["token"] for r in records] == ["Good_token-1"]
    assert records[0]["end"] - records[0]["start"] >= 0.045  # loops may wake up to a clock tick early
    assert records[0]["pid"] > 0 and records[0]["thread"]
    log = (tmp_path / "notification.log").read_text()
    assert log == "Successfully sent push notification to Good_token-1\n"
