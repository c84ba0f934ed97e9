"""The embedded server's CPU for each step of a ticket's life on the desk, as its conversation grows.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/ticket_path_cost.py [--tickets 12] [--rounds 12] [--words 12]

A hub in process on a fresh embedded secantusd-py (as `benchmarks/hub_throughput.py`). For each of `tickets`
widget customers: the customer asks for a person (the escalation), then `rounds` rounds of a customer message
and an agent's reply (each message `words` words drawn from a vocabulary of 5,000, so most of them new to the
ticket), then the agent solves it. Around each step, drained, the server's CPU from /proc (in clock ticks of
10 ms, so each figure is a mean over the tickets). Prints one JSON line per round (`round`, the ticket's
`ticket_words` then, `customer_db_ms` and `agent_db_ms`), then one for the escalation and the solve, and a
summary with the whole ticket's CPU. What it is for: a ticket write on this server rewrites every index
entry of the ticket (`benchmarks/ticket_write_cost.py`), so the cost of a step follows the ticket's words
unless they are indexed apart (hub.ticketindex).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.raw_writes import process_cpu_seconds
from bot.service import build_bot
from hub.models import InboundMessage, Role, Sender
from switchboard.bootstrap import Runtime, bot_dir
from switchboard.config import load_settings
from switchboard.embedded import EmbeddedServer

Doc = dict[str, Any]


async def run(tickets: int, rounds: int, words: int) -> list[Doc]:
    rng = random.Random(7)
    vocabulary = [f"{rng.choice('bcdfghklmnprstvz')}{rng.choice('aeiou')}{n}" for n in range(5000)]

    def text() -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(words))

    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db")
        uri = await server.start()
        assert server.process is not None
        pid = server.process.pid
        settings = load_settings(mongodb_uri=uri, data_dir=Path(tmp) / "var", secret="bench")
        runtime = Runtime(settings)
        await runtime.start(bot=await build_bot(bot_dir(settings)))
        hub = runtime.hub
        assert hub is not None
        costs: dict[str, list[float]] = {}
        sizes: dict[int, list[int]] = {}

        async def step(name: str, work: Any) -> None:
            before = process_cpu_seconds(pid) or 0.0
            await work
            await hub.pipeline.drain()
            costs.setdefault(name, []).append(((process_cpu_seconds(pid) or 0.0) - before) * 1000)

        try:
            agent = await hub.accounts.create("bench-agent", "bench-password-1", roles=[Role.AGENT])
            for t in range(tickets):
                who = Sender(f"bench-customer-{t}", display_name=f"Customer {t}")

                def say(words_said: str, n: int, who: Sender = who, t: int = t) -> Any:
                    return hub.ingest(InboundMessage(channel="widget", external_id=f"bench:{t}:{n}",
                                                     thread_key=who.external_id, sender=who, text=words_said))

                await step("escalation", say(f"I want to talk to a human about {text()}", 0))
                conversation = await hub.store.conversations.find_one({"thread_key": who.external_id})
                assert conversation is not None and conversation.get("ticket_id") is not None
                ticket_id = conversation["ticket_id"]
                for r in range(1, rounds + 1):
                    await step(f"customer {r}", say(text(), r))
                    await step(f"agent {r}", hub.tickets.reply(ticket_id, agent, text()))
                    ticket = await hub.store.tickets.find_one({"_id": ticket_id}, projection={"words": 1})
                    sizes.setdefault(r, []).append(len((ticket or {}).get("words") or []))
                await step("solve", hub.tickets.set_status(ticket_id, "solved", agent))
        finally:
            await runtime.stop()
            server.stop()

    def median(name: str) -> float:
        return round(statistics.fmean(costs[name]), 1)

    rows: list[Doc] = [{"step": "ticket_path_cost", "round": r, "ticket_words": int(statistics.median(sizes[r])),
                        "customer_db_ms": median(f"customer {r}"), "agent_db_ms": median(f"agent {r}")}
                       for r in range(1, rounds + 1)]
    rows.append({"step": "ticket_path_cost", "escalation_db_ms": median("escalation"), "solve_db_ms": median("solve")})
    per_ticket = sum(sum(v) for v in costs.values()) / tickets
    rows.append({"step": "ticket_path_cost_summary", "tickets": tickets, "rounds": rounds, "words_per_message": words,
                 "db_ms_per_ticket": round(per_ticket, 1)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--words", type=int, default=12)
    args = parser.parse_args()
    for row in asyncio.run(run(args.tickets, args.rounds, args.words)):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
