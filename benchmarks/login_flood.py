"""Does a login flood stall the hub? Widget message latency while 60 logins arrive at once.

    .venv/bin/python benchmarks/login_flood.py [--logins 60]

Prints one JSON line. Runs a private secantusd-py server in a temporary directory and the
hub on a loopback port; each login comes from its own loopback address (127.0.1.x), so the
per-address limits do not hide the hashing cost. Uses only HTTP, so it runs against older
checkouts too (PYTHONPATH=that checkout) for a before/after comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.service import build_bot
from switchboard.bootstrap import Runtime, bot_dir
from switchboard.config import load_settings
from switchboard.embedded import EmbeddedServer


async def login(base: str, n: int) -> int:
    connector = aiohttp.TCPConnector(local_addr=(f"127.0.1.{n % 250 + 1}", 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        resp = await session.post(f"{base}/api/auth/login", json={"username": f"nobody{n}", "password": "guess"})
        return resp.status


async def run(logins: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db")
        uri = await server.start()
        settings = load_settings(mongodb_uri=uri, data_dir=Path(tmp) / "var", secret="bench")
        runtime = Runtime(settings)
        app = await runtime.start(bot=await build_bot(bot_dir(settings)))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as widget:
                resp = await widget.post(f"{base}/api/widget/session", json={"site": "demo"})
                token = (await resp.json())["token"]
                headers = {"Authorization": f"Bearer {token}"}

                async def say() -> float:
                    t0 = time.perf_counter()
                    r = await widget.post(f"{base}/api/widget/messages", headers=headers,
                                          json={"text": "hello", "client_id": uuid.uuid4().hex})
                    assert r.status == 202, await r.text()
                    return (time.perf_counter() - t0) * 1000

                quiet_ms = [await say() for _ in range(5)]
                lags: list[float] = []

                async def ticker() -> None:
                    """How late a 10 ms timer fires: the time the event loop was kept busy."""
                    while True:
                        t0 = time.perf_counter()
                        await asyncio.sleep(0.01)
                        lags.append((time.perf_counter() - t0 - 0.01) * 1000)

                ticking = asyncio.create_task(ticker())
                started = time.perf_counter()
                burst = asyncio.gather(*(login(base, n) for n in range(logins)))
                flood_ms = [await say()]
                while not burst.done():
                    flood_ms.append(await say())
                statuses = await burst
                burst_s = time.perf_counter() - started
                ticking.cancel()
        finally:
            await runner.cleanup()
            await runtime.stop()
            server.stop()
    return {
        "benchmark": "login_flood", "logins": logins,
        "login_statuses": dict(sorted(Counter(str(s) for s in statuses).items())),
        "login_burst_s": round(burst_s, 2),
        "widget_quiet_median_ms": round(statistics.median(quiet_ms), 1),
        "widget_during_flood_first_ms": round(flood_ms[0], 1),
        "widget_during_flood_max_ms": round(max(flood_ms), 1),
        "widget_messages_during_flood": len(flood_ms),
        "loop_lag_max_ms": round(max(lags), 1),
        "loop_lag_p50_ms": round(statistics.median(lags), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logins", type=int, default=60)
    print(json.dumps(asyncio.run(run(parser.parse_args().logins))))


if __name__ == "__main__":
    main()
