"""What one Prometheus scrape costs with a large outbox, on the embedded database.

    .venv/bin/python benchmarks/metrics_scrape.py [--entries 20000] [--runs 20]

Seeds `--entries` outbox documents twice, a normal day (95% sent, the rest pending, sending or
failed) and an outage (everything pending), and times `GET /metrics` (the backlog's grouped count
over the outbox status index, the agents-online count, a ping, the text exposition): `fresh`
re-reads the counts on every scrape, `cached` is the default (re-read at most every 10 s, so a
scrape inside that interval pays only the ping and the exposition). One JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.service import build_bot
from hub.models import utcnow
from switchboard.bootstrap import Runtime, bot_dir
from switchboard.config import load_settings
from switchboard.embedded import EmbeddedServer
from switchboard.prometheus import EXPORTER

CHANNELS = ("widget", "email", "slack", "telegram")


async def seed(runtime: Runtime, entries: int, outage: bool) -> None:
    assert runtime.hub is not None
    outbox = runtime.hub.store.outbox
    await outbox.delete_many({})
    later = utcnow() + timedelta(days=1)  # not due: the hub's own worker leaves them alone
    batch: list[dict[str, Any]] = []
    for _ in range(entries):
        roll = random.random()
        status = "pending" if outage else "sent" if roll < 0.95 else "pending" if roll < 0.98 else \
            "sending" if roll < 0.99 else "failed"
        batch.append({"channel": random.choice(CHANNELS), "status": status, "attempts": 1,
                      "next_attempt_at": later, "lease_until": later, "created_at": utcnow()})
        if len(batch) == 1000:
            await outbox.insert_many(batch)
            batch = []
    if batch:
        await outbox.insert_many(batch)


async def time_scrapes(client: TestClient[Any, Any], token: str, runs: int) -> list[float]:
    times: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        resp = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        await resp.read()
        assert resp.status == 200, resp.status
        times.append((time.perf_counter() - t0) * 1000)
    return times


async def run(entries: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db")
        uri = await server.start()
        settings = load_settings(mongodb_uri=uri, data_dir=Path(tmp) / "var", secret="bench")
        runtime = Runtime(settings)
        await runtime.start(bot=await build_bot(bot_dir(settings)))
        assert runtime.hub is not None and runtime.app is not None
        try:
            admin = await runtime.hub.store.agents.find_one({"username": "admin"})
            token, _ = await runtime.hub.apitokens.create("bench", ["metrics"], owner=None, created_by=admin)
            result: dict[str, Any] = {"outbox_entries": entries, "runs": runs}
            async with TestClient(TestServer(runtime.app, host="127.0.0.1")) as client:
                exporter = runtime.app[EXPORTER]
                for name, outage in (("normal", False), ("outage", True)):
                    await seed(runtime, entries, outage)
                    for mode, interval in (("fresh", 0.0), ("cached", 10.0)):
                        exporter.state_refresh_seconds = interval
                        times = await time_scrapes(client, token, runs)
                        result[f"scrape_{name}_{mode}_p50_ms"] = round(statistics.median(times), 2)
                        result[f"scrape_{name}_{mode}_max_ms"] = round(max(times), 2)
        finally:
            await runtime.stop()
            server.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.entries, args.runs))))


if __name__ == "__main__":
    main()
