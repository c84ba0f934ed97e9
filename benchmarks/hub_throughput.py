"""Hub benchmarks on the embedded database: ingest throughput, bot latency, metrics report time.

    .venv/bin/python benchmarks/hub_throughput.py [--messages 500] [--tickets 20000]

Prints one JSON line. Runs a private secantusd-py server in a temporary directory.
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

from bot.service import build_bot
from hub.models import InboundMessage, Sender, utcnow
from switchboard.bootstrap import Runtime, bot_dir
from switchboard.config import load_settings
from switchboard.embedded import EmbeddedServer

QUESTIONS = ["where is my order 12345", "what are your opening hours", "how do I reset my password",
             "how much is shipping", "can I return these shoes", "hello", "thanks a lot"]


async def run(messages: int, tickets: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db")
        uri = await server.start()
        settings = load_settings(mongodb_uri=uri, data_dir=Path(tmp) / "var", secret="bench")
        bot = await build_bot(bot_dir(settings))
        runtime = Runtime(settings)
        await runtime.start(bot=bot)
        hub = runtime.hub
        assert hub is not None
        try:
            # Quiet system: one message at a time, time until the bot's answer is stored.
            answer_ms: list[float] = []
            for i in range(100):
                visitor = f"demo:quiet:{i % 20}"
                t0 = time.perf_counter()
                await hub.ingest(InboundMessage(channel="widget", external_id=f"{visitor}:{i}", thread_key=visitor,
                                                sender=Sender(visitor), text=random.choice(QUESTIONS)))
                await hub.pipeline.drain()
                answer_ms.append((time.perf_counter() - t0) * 1000)

            # Burst: ingest as fast as possible; each call returns once the message is durably stored.
            ingest_ms: list[float] = []
            started = time.perf_counter()
            for i in range(messages):
                visitor = f"demo:visitor:{i % 50}"
                msg = InboundMessage(channel="widget", external_id=f"{visitor}:{i}", thread_key=visitor,
                                     sender=Sender(visitor), text=random.choice(QUESTIONS))
                t0 = time.perf_counter()
                await hub.ingest(msg)
                ingest_ms.append((time.perf_counter() - t0) * 1000)
            await hub.pipeline.drain()
            end_to_end = time.perf_counter() - started
            answered = await hub.store.messages.count_documents({"author.kind": "bot"})  # quiet + burst

            # Metrics over a large window: seed tickets in bulk, then time the reports.
            now = utcnow()
            batch = []
            for n in range(tickets):
                handoff = now - timedelta(seconds=random.uniform(0, 6 * 86400))
                doc: dict[str, Any] = {"number": 10_000_000 + n, "queue": random.choice(list(settings.queues)),
                                       "status": "solved", "created_at": handoff, "handoff_at": handoff,
                                       "conversation_ids": [], "contact_id": None, "sla": {"paused_seconds": 0}}
                if random.random() < 0.9:
                    doc["first_agent_reply_at"] = handoff + timedelta(seconds=random.expovariate(1 / 90))
                    doc["solved_at"] = doc["first_agent_reply_at"] + timedelta(minutes=random.uniform(1, 60))
                batch.append(doc)
                if len(batch) == 1000:
                    await hub.store.tickets.insert_many(batch)
                    batch = []
            if batch:
                await hub.store.tickets.insert_many(batch)
            t0 = time.perf_counter()
            await hub.metrics.window(now - timedelta(days=7), now)
            week_report = time.perf_counter() - t0
            t0 = time.perf_counter()
            await hub.metrics.live()
            live = time.perf_counter() - t0
        finally:
            await runtime.stop()
            server.stop()
    return {
        "quiet_answer_p50_ms": round(statistics.median(answer_ms), 2),
        "messages": messages,
        "ingest_p50_ms": round(statistics.median(ingest_ms), 2),
        "ingest_p99_ms": round(sorted(ingest_ms)[int(0.99 * (len(ingest_ms) - 1))], 2),
        "messages_per_second_end_to_end": round(messages / end_to_end, 1),
        "bot_answers": answered,
        "tickets_in_week_report": tickets,
        "week_report_seconds": round(week_report, 3),
        "live_metrics_seconds": round(live, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--tickets", type=int, default=20_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.messages, args.tickets))))


if __name__ == "__main__":
    main()
