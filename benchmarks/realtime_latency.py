"""What the realtime bus's pause between change-stream reads costs in push latency, and saves in reads.

For each pause (`RealtimeBus.read_gap_seconds`) two shapes of writes, each timed from just before
the write to its arrival in a subscriber's queue (the widget and desk sockets read from there):

- `idle`: one write after a quiet spell (a customer's first message): the bus's read is waiting on
  the server and returns it at once, whatever the pause;
- `burst`: three writes 15 ms apart (a message, the pipeline's lease, the bot's answer): the second
  and third come during the pause after the first's read and wait for its end.

    python benchmarks/realtime_latency.py [mongodb-uri]    # default: a fresh embedded secantusd-py

prints one JSON line per pause: median and worst milliseconds per shape, and change-stream reads
that returned changes per burst.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from typing import Any

from pymongo import monitoring

from hub.realtime import RealtimeBus, Subscription
from hub.store import Store

GAPS = (0.0, 0.01, 0.025, 0.05, 0.1)
RUNS = 15
SPACING = 0.015  # between the writes of a burst
QUIET = 0.3  # before each run: longer than any pause, so the bus's read is waiting on the server


class Reads(monitoring.CommandListener):
    """Change-stream reads that returned changes."""

    def __init__(self) -> None:
        self.with_changes = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.command_name == "getMore" and (event.reply.get("cursor") or {}).get("nextBatch"):
            self.with_changes += 1

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def _arrival(sub: Subscription, n: int) -> float:
    """When the change numbered `n` reaches the subscriber (perf_counter seconds)."""
    while True:
        change = await sub.get()
        if change.document.get("n") == n:
            return time.perf_counter()


async def _run(store: Store, sub: Subscription, first: int, writes: int) -> list[float]:
    """Milliseconds from each of `writes` writes (SPACING apart) to its arrival."""
    arrivals = asyncio.create_task(_arrivals(sub, first, writes))
    sent = []
    for i in range(writes):
        if i:
            await asyncio.sleep(SPACING)
        sent.append(time.perf_counter())
        await store.events.insert_one({"type": "bench", "n": first + i})
    got = await asyncio.wait_for(arrivals, 10)
    return [(a - s) * 1000 for s, a in zip(sent, got, strict=True)]


async def _arrivals(sub: Subscription, first: int, writes: int) -> list[float]:
    return [await _arrival(sub, first + i) for i in range(writes)]


async def measure(uri: str, db_name: str = "realtime_latency") -> list[dict[str, Any]]:
    rows = []
    for gap in GAPS:
        reads = Reads()
        store = Store(uri, db_name, [reads])
        bus = RealtimeBus(store, read_gap_seconds=gap)
        task = asyncio.create_task(bus.run())
        try:
            await asyncio.wait_for(bus.ready.wait(), 10)
            sub = bus.subscribe(maxsize=10_000)
            idle, burst, burst_reads, n = [], [], [], 0
            for _ in range(RUNS):
                await asyncio.sleep(QUIET)
                idle += await _run(store, sub, n, 1)
                n += 1
                await asyncio.sleep(QUIET)
                before = reads.with_changes
                burst += await _run(store, sub, n, 3)
                burst_reads.append(reads.with_changes - before)
                n += 3
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await store.client.drop_database(db_name)
            await store.close()
        rows.append({"gap_ms": gap * 1000, "idle_ms_median": round(statistics.median(idle), 1),
                     "idle_ms_max": round(max(idle), 1), "burst_ms_median": round(statistics.median(burst), 1),
                     "burst_ms_max": round(max(burst), 1),
                     "reads_per_burst": round(statistics.mean(burst_reads), 2)})
    return rows


async def main() -> None:
    if len(sys.argv) > 1:
        rows = await measure(sys.argv[1])
    else:
        from switchboard.embedded import fresh_server

        async with fresh_server() as uri:
            rows = await measure(uri)
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    asyncio.run(main())
