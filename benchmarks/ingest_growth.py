"""No slowdown as data grows: ingest 20,000 customer messages, each answered by the bot, and compare the
rate of the last thousand with the first (issue 13: within 20 %).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/ingest_growth.py [--messages 20000] [--concurrency 16]

A hub on a private secantusd-py server (fresh, in a temporary directory), the shop bot, the widget channel:
`concurrency` customers write at once (each lane a line of customers, every one writing ten messages, one
after the other), each waiting for its message to be stored (`Hub.ingest`), while the pipeline answers in
the background; every 1,000 stored messages, the rate since the previous thousand is
taken with the backlog of unanswered messages drained first, so each block's rate counts its answers. One
JSON line per block, with the CPU the hub and the server spent per message (`hub_cpu_ms`, `db_cpu_ms`,
from /proc: the shared machine's load moves the rate much more than these), the share of the block's wall
time each process was on a CPU (`hub_busy_percent`, `db_busy_percent`: the server is single-threaded for
commands, so a block slowed by costlier work shows it near 100 % with more CPU per message, a block slowed
by a stall shows it well below) and the load average.

Two comparisons in the same run tell the hub's growth from the server's and the machine's:
- raw writes (benchmarks/raw_writes.py) into `messages` with the hub's indexes and into an `_id`-only
  collection, before the first block (empty) and after the last (filled to `messages` documents);
- control blocks after the run, at the same moment: 1,000 messages on a fresh database, then 1,000 more on
  the grown one (`ingest_growth_control`; each a new hub on the same server). A fresh database as slow as
  the grown one means what slowed down is not the hub's data.
The summary line gives `first_per_s`, `last_per_s`, `last_vs_first`, the CPU per message of both blocks,
`control_grown_vs_fresh` and `raw_inserts_last_vs_first` / `raw_updates_last_vs_first`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from pymongo import monitoring

from benchmarks.raw_writes import fill, measure_point, process_cpu_seconds
from bot.service import build_bot
from hub.models import InboundMessage, Sender
from hub.store import Store
from switchboard.bootstrap import Runtime, bot_dir
from switchboard.config import load_settings
from switchboard.embedded import EmbeddedServer

QUESTIONS = ["where is my order 12345", "what are your opening hours", "how do I reset my password",
             "how much is shipping", "can I return these shoes", "do you ship abroad", "thanks a lot"]
BLOCK = 1_000
#: The raw writes measured before the first block and after the last (benchmarks/raw_writes.py): `messages`
#: with the hub's indexes first (the summary's ratios), a collection with only `_id` beside it.
RAW_DB, RAW_OPS, RAW_COLLECTIONS = "raw_writes", 1_000, ("messages", "plain")
#: Customers are new every so often: contacts and conversations grow with the messages, as on a real desk.
MESSAGES_PER_VISITOR = 10


class CommandTimes(monitoring.CommandListener):
    """Server time by command and collection (`--profile`): which commands the database spends itself on."""

    def __init__(self) -> None:
        self._keys: dict[int, str] = {}
        self.total: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        self.lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:  # type: ignore[override]
        value = event.command.get(event.command_name)
        key = f"{event.command_name} {value if isinstance(value, str) else ''}".strip()
        with self.lock:
            self._keys[event.request_id] = key

    def _done(self, event: Any) -> None:
        with self.lock:
            key = self._keys.pop(event.request_id, None)
            if key is not None:
                self.total[key][0] += 1
                self.total[key][1] += event.duration_micros / 1000

    succeeded = failed = _done  # type: ignore[assignment]

    def top(self, n: int = 12) -> list[dict[str, Any]]:
        rows = sorted(self.total.items(), key=lambda kv: -kv[1][1])[:n]
        return [{"command": k, "count": int(c), "total_ms": round(t), "mean_ms": round(t / c, 2)} for k, (c, t) in rows]


def _ratio(first: float | None, last: float | None) -> float | None:
    return None if not first or last is None else round(last / first, 3)


def cpu_ms_per_message(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else round((after - before) * 1000 / BLOCK, 2)


def busy_percent(cpu_ms_per_message: float | None, seconds: float) -> float | None:
    """A block's CPU time as a share of its wall time, in % of one core."""
    return None if cpu_ms_per_message is None else round(cpu_ms_per_message * BLOCK / 1000 / seconds * 100, 1)


class Lanes:
    """`concurrency` lines of customers: in each, one customer after another writes ten messages, each
    waiting for the previous to be stored (a customer's messages are never concurrent)."""

    def __init__(self, concurrency: int, prefix: str) -> None:
        self.sent = [0] * concurrency  # messages each lane of customers has sent
        self.prefix = prefix
        self.rng = random.Random(13)
        self.next = 0

    async def block(self, hub: Any, count: int) -> None:
        """`count` messages, then the pipeline drained (every one answered)."""
        end, counter = self.next + count, itertools.count(self.next)

        async def customer(lane: int) -> None:
            while (i := next(counter)) < end:
                visitor = f"demo:{self.prefix}:{lane}:{self.sent[lane] // MESSAGES_PER_VISITOR}"
                self.sent[lane] += 1
                await hub.ingest(InboundMessage(channel="widget", external_id=f"{visitor}:{i}", thread_key=visitor,
                                                sender=Sender(visitor), text=self.rng.choice(QUESTIONS), inbox="demo"))

        await asyncio.gather(*(customer(lane) for lane in range(len(self.sent))))
        await hub.pipeline.drain()
        self.next = end


async def timed_block(hub: Any, lanes: Lanes, db_pid: int) -> dict[str, Any]:
    """One block of `BLOCK` messages: its rate, the CPU each process spent per message, the load average."""
    started = time.perf_counter()
    hub_cpu, db_cpu = time.process_time(), process_cpu_seconds(db_pid)
    await lanes.block(hub, BLOCK)
    seconds = time.perf_counter() - started
    hub_ms = cpu_ms_per_message(hub_cpu, time.process_time())
    db_ms = cpu_ms_per_message(db_cpu, process_cpu_seconds(db_pid))
    return {"per_s": round(BLOCK / seconds, 1), "hub_cpu_ms": hub_ms, "db_cpu_ms": db_ms,
            "hub_busy_percent": busy_percent(hub_ms, seconds), "db_busy_percent": busy_percent(db_ms, seconds),
            "load": round(os.getloadavg()[0], 2)}


async def run(messages: int, concurrency: int, profile: bool = False) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db")
        uri = await server.start()
        assert server.process is not None
        db_pid = server.process.pid

        def settings_for(db_name: str) -> Any:
            settings = load_settings(mongodb_uri=uri, data_dir=Path(tmp) / db_name, secret="bench")
            settings.db_name = db_name
            settings.metrics_aggregate_seconds = 0  # the history's batch job is not the message path
            return settings

        settings = settings_for("switchboard")
        bot = await build_bot(bot_dir(settings))
        times = CommandTimes()
        runtime = Runtime(settings, db_listeners=[times] if profile else [])
        await runtime.start(bot=bot)
        hub = runtime.hub
        assert hub is not None
        rows: list[dict[str, Any]] = []
        running: Runtime | None = runtime
        raw = Store(uri, db_name=RAW_DB)  # the hub's indexes, beside the hub's database on the same server
        try:
            await raw.ensure_indexes()
            raw_first = await measure_point(raw.db, db_pid, RAW_OPS, "first", RAW_COLLECTIONS)
            lanes = Lanes(concurrency, "growth")
            for block in range(messages // BLOCK):
                rows.append({"step": "ingest_growth", "block": block + 1, "stored": (block + 1) * BLOCK,
                             **await timed_block(hub, lanes, db_pid)})
                print(json.dumps(rows[-1]), flush=True)
            answered = await hub.store.messages.count_documents({"author.kind": "bot"})
            pending = await hub.store.messages.count_documents({"pending_bot": True})
            # The same raw writes at the end, into collections as large as the hub's messages now are, on the
            # server the run has left (its oplog, journal and data): the server's own growth, for comparison.
            await fill(raw.db, messages, RAW_COLLECTIONS)
            raw_last = await measure_point(raw.db, db_pid, RAW_OPS, "last", RAW_COLLECTIONS)
            running = None
            await runtime.stop()
            # Control, same server and same moment: one block on a fresh database, then one more on the grown
            # one (each a new hub). Fresh as slow as grown: what slowed is not the hub's data.
            controls: dict[str, dict[str, Any]] = {}
            for label, db_name in (("fresh", "growth_fresh"), ("grown", "switchboard")):
                control = Runtime(settings_for(db_name))
                await control.start(bot=bot)
                assert control.hub is not None
                try:
                    before = await control.hub.store.messages.estimated_document_count()
                    controls[label] = {"step": "ingest_growth_control", "database": label, "documents": before,
                                       **await timed_block(control.hub, Lanes(concurrency, f"control-{label}"),
                                                           db_pid)}
                finally:
                    await control.stop()
                print(json.dumps(controls[label]), flush=True)
        finally:
            await raw.close()
            if running is not None:
                await running.stop()
            server.stop()
    first, last = rows[0], rows[-1]
    fresh, grown = controls["fresh"], controls["grown"]
    rows.append({"step": "ingest_growth_summary", "messages": messages, "concurrency": concurrency,
                 "bot_answers": answered, "pending": pending, "first_per_s": first["per_s"],
                 "last_per_s": last["per_s"], "last_vs_first": _ratio(first["per_s"], last["per_s"]),
                 "first_db_cpu_ms": first["db_cpu_ms"], "last_db_cpu_ms": last["db_cpu_ms"],
                 "first_hub_cpu_ms": first["hub_cpu_ms"], "last_hub_cpu_ms": last["hub_cpu_ms"],
                 "first_load": first["load"], "last_load": last["load"],
                 "control_fresh_per_s": fresh["per_s"], "control_grown_per_s": grown["per_s"],
                 "control_grown_vs_fresh": _ratio(fresh["per_s"], grown["per_s"]),
                 "raw_inserts_last_vs_first": _ratio(raw_first[0]["inserts_per_s"], raw_last[0]["inserts_per_s"]),
                 "raw_updates_last_vs_first": _ratio(raw_first[0]["updates_per_s"], raw_last[0]["updates_per_s"]),
                 "raw": [{k: v for k, v in r.items() if k != "step"} for r in raw_first + raw_last]})
    if profile:
        rows.insert(-1, {"step": "ingest_growth_profile", "commands": times.top()})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--profile", action="store_true", help="also print the commands by server time")
    args = parser.parse_args()
    rows = asyncio.run(run(args.messages, args.concurrency, args.profile))
    for row in rows[-2 if args.profile else -1:]:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
