"""The history's batch pass on a busy event log: the events it reads and the server's CPU, per pass.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/aggregates_pass.py [--rate 48] [--passes 24] [--rounds 3]

A private secantusd-py server in a temporary directory. The event log fills at `--rate` events a second in the
mix `bench load` writes at 40 messages a second (measured 2026-12-05: of every 100 events, 47
`conversation.opened`, 7 `queue.wait`, the rest ticket events naming tickets that exist). Then `--passes` passes
of `Aggregates.catch_up`, 5 s of the log apart (the job's default interval, the time given as `until`, so nothing
waits), each after that interval's events are written, measuring the events its reads returned and the server's
CPU from /proc for the pass. Two ways, alternating in `--rounds` rounds on fresh databases:

- `whole_minute`: every pass reads the last minute again (`recent_seconds=60`: what the job did until
  2026-12-05);
- `windows`: the new events from 5 s back of the watermark, and once more the slice that has just become a
  minute old (`Aggregates.windows`).

Prints a JSON line per way and round (`events_per_pass`, `server_cpu_ms_per_pass`: means over the passes), then a
summary. The passes after the first minute are the steady state; the first ones read less in both ways.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from bson import ObjectId

from benchmarks.docs_read import DocsRead
from benchmarks.raw_writes import process_cpu_seconds
from hub.aggregates import Aggregates
from hub.history import HistoryService
from hub.models import utcnow
from hub.store import Store
from hub.tickets import QueueConfig
from switchboard.embedded import EmbeddedServer

INTERVAL = 5.0
#: Of every 100 events (bench load at 40 msg/s): the uncounted ones, then ticket events.
MIX = ["conversation.opened"] * 47 + ["queue.wait"] * 7 + \
    ["ticket.created", "conversation.handoff", "ticket.first_response", "ticket.agent_reply", "ticket.solved"] * 9 \
    + ["ticket.created"]


async def one_way(uri: str, pid: int, name: str, recent: float, rate: float, passes: int) -> dict[str, Any]:
    read = DocsRead("events")
    store = Store(uri, f"bench_agg_{name}_{ObjectId()}", event_listeners=[read])
    try:
        await store.ensure_indexes()
        aggregates = Aggregates(store, HistoryService(store, {"general": QueueConfig("general")}),
                                recent_seconds=recent)
        start = utcnow() - timedelta(seconds=INTERVAL * (passes + 13))
        tickets: list[ObjectId] = []
        n = 0

        async def log_until(until: Any) -> None:
            """The events of the log up to `until`, at `rate` a second, and the tickets they name."""
            nonlocal n
            events, new_tickets = [], []
            while start + timedelta(seconds=n / rate) < until:
                kind = MIX[n % len(MIX)]
                at = start + timedelta(seconds=n / rate)
                if kind == "ticket.created" or not tickets:
                    new_tickets.append({"_id": ObjectId(), "number": len(tickets) + 1,
                                        "queue": "general", "channel": "widget", "status": "new",
                                        "created_at": at, "handoff_at": at, "conversation_ids": [],
                                        "sla": {"paused_seconds": 0}})
                    tickets.append(new_tickets[-1]["_id"])
                event: dict[str, Any] = {"_id": ObjectId(), "type": kind, "at": at}
                if kind.startswith("ticket.") or kind == "conversation.handoff":
                    event["ticket_id"] = tickets[-1 - (n % min(len(tickets), 20))]
                else:
                    event["conversation_id"] = ObjectId()
                events.append(event)
                n += 1
            if new_tickets:
                await store.tickets.insert_many(new_tickets)
            if events:
                await store.events.insert_many(events)

        first = start + timedelta(seconds=INTERVAL * 12)  # a minute of log before the first pass
        await log_until(first)
        await aggregates.catch_up(until=first, fenced=False)
        reads, cpu = [], []
        for k in range(1, passes + 1):
            until = first + timedelta(seconds=INTERVAL * k)
            await log_until(until)
            read.count = 0
            before = process_cpu_seconds(pid) or 0.0
            await aggregates.catch_up(until=until, fenced=False)
            cpu.append(((process_cpu_seconds(pid) or 0.0) - before) * 1000)
            reads.append(read.count)
        return {"way": name, "events_per_pass": round(statistics.mean(reads), 1),
                "server_cpu_ms_per_pass": round(statistics.mean(cpu), 1),
                "server_cpu_ms_per_pass_median": round(statistics.median(cpu), 1), "passes": passes,
                "events_per_s": rate}
    finally:
        await store.client.drop_database(store.db.name)
        await store.close()


async def main(rate: float, passes: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db")
        uri = await server.start()
        assert server.process is not None
        try:
            results: dict[str, list[dict[str, Any]]] = {"whole_minute": [], "windows": []}
            for r in range(rounds):
                ways = [("whole_minute", 60.0), ("windows", 5.0)]
                for name, recent in (ways if r % 2 == 0 else ways[::-1]):
                    line = await one_way(uri, server.process.pid, name, recent, rate, passes)
                    results[name].append(line)
                    print(json.dumps({"round": r + 1, **line}), flush=True)
            print(json.dumps({"summary": {
                name: {"events_per_pass": statistics.median(x["events_per_pass"] for x in lines),
                       "server_cpu_ms_per_pass": statistics.median(x["server_cpu_ms_per_pass"] for x in lines)}
                for name, lines in results.items()}}), flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=48.0, help="events a second in the log")
    parser.add_argument("--passes", type=int, default=24, help="passes measured, 5 s of log apart")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.rate, args.passes, args.rounds))
