"""No slowdown as data grows: ingest 20,000 customer messages, each answered by the bot, and compare the
rate of the last thousand with the first (issue 13: within 20 %).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/ingest_growth.py [--messages 20000] [--concurrency 16]

A hub on a private secantusd-py server (fresh, in a temporary directory), the shop bot, the widget channel:
`concurrency` customers write at once (each lane a line of customers, every one writing ten messages, one
after the other), each waiting for its message to be stored (`Hub.ingest`), while the pipeline answers in
the background; every 1,000 stored messages, the rate since the previous thousand is
taken with the backlog of unanswered messages drained first, so each block's rate counts its answers. One
JSON line per block, then a summary line with `first_per_s`, `last_per_s` and `last_vs_first`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pymongo import monitoring

from bot.service import build_bot
from hub.models import InboundMessage, Sender
from switchboard.bootstrap import Runtime, bot_dir
from switchboard.config import load_settings
from switchboard.embedded import EmbeddedServer

QUESTIONS = ["where is my order 12345", "what are your opening hours", "how do I reset my password",
             "how much is shipping", "can I return these shoes", "do you ship abroad", "thanks a lot"]
BLOCK = 1_000
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


async def run(messages: int, concurrency: int, profile: bool = False) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db")
        uri = await server.start()
        settings = load_settings(mongodb_uri=uri, data_dir=Path(tmp) / "var", secret="bench")
        settings.metrics_aggregate_seconds = 0  # the history's batch job is not the message path
        times = CommandTimes()
        runtime = Runtime(settings, db_listeners=[times] if profile else [])
        await runtime.start(bot=await build_bot(bot_dir(settings)))
        hub = runtime.hub
        assert hub is not None
        rows: list[dict[str, Any]] = []
        counter = itertools.count()
        rng = random.Random(13)
        sent = [0] * concurrency  # messages each lane of customers has sent
        try:
            for block in range(messages // BLOCK):
                started = time.perf_counter()

                async def customer(lane: int, counter: Iterator[int], end: int) -> None:
                    """One line of customers one after the other (a customer's messages are never concurrent)."""
                    while (i := next(counter)) < end:
                        visitor = f"demo:growth:{lane}:{sent[lane] // MESSAGES_PER_VISITOR}"
                        sent[lane] += 1
                        await hub.ingest(InboundMessage(channel="widget", external_id=f"{visitor}:{i}",
                                                        thread_key=visitor, sender=Sender(visitor),
                                                        text=rng.choice(QUESTIONS), inbox="demo"))

                await asyncio.gather(*(customer(lane, counter, (block + 1) * BLOCK) for lane in range(concurrency)))
                await hub.pipeline.drain()
                counter = itertools.count((block + 1) * BLOCK)
                seconds = time.perf_counter() - started
                rows.append({"step": "ingest_growth", "block": block + 1, "stored": (block + 1) * BLOCK,
                             "per_s": round(BLOCK / seconds, 1)})
                print(json.dumps(rows[-1]), flush=True)
            answered = await hub.store.messages.count_documents({"author.kind": "bot"})
            pending = await hub.store.messages.count_documents({"pending_bot": True})
        finally:
            await runtime.stop()
            server.stop()
    first, last = rows[0]["per_s"], rows[-1]["per_s"]
    rows.append({"step": "ingest_growth_summary", "messages": messages, "concurrency": concurrency,
                 "bot_answers": answered, "pending": pending, "first_per_s": first, "last_per_s": last,
                 "last_vs_first": round(last / first, 3)})
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
