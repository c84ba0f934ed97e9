"""What the desk's sidebar costs the database when agents reload it: counted per number, or in one shared pass.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/desk_refresh.py [--active 200 1000] [--history 5000] [--agents 10]

Each agent's desk reloads its queue badges (`GET /api/queues`) and view counts (`GET /api/tickets/counts`)
after every ticket change on the desk. Until 2026-12-06 each number was a count query: three views and two per
queue, plus a read of the queues. `hub.desktally` reads the active tickets' three fields once and shares the pass
with every agent who asks meanwhile. Prints one JSON line per desk size: the fastest of five runs (ms) of one
agent's reload each way, and `--agents` reloading at once: wall time and the commands sent each way; and the same
for desk users with five saved views, counted in the same pass's tickets (`with_views`).
Runs a private secantusd-py server in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.docs_read import DocsRead
from benchmarks.ticket_list import AGENTS, QUEUES, insert, ticket
from hub.desktally import DeskTally
from hub.store import Store
from hub.ticketindex import TicketQuery
from switchboard.embedded import EmbeddedServer

ACTIVE = ["new", "open", "pending"]


async def per_number(store: Store, agent: Any) -> None:
    """The reload as it was: one count query per number (agents_ui/desk.py and TicketIndex.counts before)."""
    c = store.tickets.count_documents
    for q in await store.queues.find({}, sort=[("name", 1)]).to_list():
        await c({"status": "new", "queue": q["name"]})
        await c({"status": {"$in": ACTIVE}, "queue": q["name"]})
    await c({"keys": "active"})
    await c({"keys": f"active.assignee:{agent}"})
    await c({"keys": "active.assignee:none"})
    for q in QUEUES:
        await c({"keys": f"active.queue:{q}"})


async def shared(desk: DeskTally, agent: Any) -> None:
    """The reload now: the desk sends both requests at once, and both ask the tally (queue names are in memory)."""
    tallies = await asyncio.gather(desk.current(), desk.current())
    tallies[0].views(agent, QUEUES)


#: Five saved views a desk user might keep (hub.savedviews), counted with each reload when they have views.
VIEWS = [TicketQuery(priority="urgent", assignee="none"), TicketQuery(channel="email"), TicketQuery(tag="vip"),
         TicketQuery(queue="complaints", priority="high"), TicketQuery(queue="orders", statuses=["new"])]


async def with_views(desk: DeskTally, agent: Any) -> None:
    """The reload of a desk user with saved views: the same, and the views counted in the pass's tickets."""
    tallies = await asyncio.gather(desk.current(), desk.current())
    tallies[0].views(agent, QUEUES)
    for q in VIEWS:
        tallies[1].listed.count(q)


async def best(call: Any, runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t0) * 1000)
    return round(min(samples), 1)


async def burst(calls: list[Any], sent: DocsRead) -> tuple[float, int]:
    """All reloads at once: wall time (ms) and the commands sent."""
    before = sent.commands
    t0 = time.perf_counter()
    await asyncio.gather(*calls)
    return round((time.perf_counter() - t0) * 1000, 1), sent.commands - before


async def measure(active: int, history: int, agents: int) -> dict[str, Any]:
    rng = random.Random(3)
    sent = DocsRead()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db")
        store = Store(await server.start(), "bench", [sent])
        await store.ensure_indexes()
        await store.queues.insert_many([{"name": q} for q in QUEUES])
        docs = [ticket(n, n > history, rng) for n in range(1, history + active + 1)]
        for i in range(0, len(docs), 500):
            await insert(store, docs[i:i + 500])
        desk = DeskTally(store)
        line = {"bench": "desk_refresh", "active": active, "history": history,
                "one_reload_per_number_ms": await best(lambda: per_number(store, AGENTS[0])),
                "one_reload_shared_ms": await best(lambda: shared(desk, AGENTS[0]))}
        ms, commands = await burst([per_number(store, AGENTS[i % len(AGENTS)]) for i in range(agents)], sent)
        line |= {"agents": agents, "burst_per_number_ms": ms, "burst_per_number_commands": commands}
        ms, commands = await burst([shared(desk, AGENTS[i % len(AGENTS)]) for i in range(agents)], sent)
        line |= {"burst_shared_ms": ms, "burst_shared_commands": commands,
                 "one_reload_with_views_ms": await best(lambda: with_views(desk, AGENTS[0]))}
        ms, commands = await burst([with_views(desk, AGENTS[i % len(AGENTS)]) for i in range(agents)], sent)
        line |= {"burst_with_views_ms": ms, "burst_with_views_commands": commands}
        await store.close()
        server.stop()
    return line


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--active", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--history", type=int, default=5000)
    parser.add_argument("--agents", type=int, default=10)
    args = parser.parse_args()
    for active in args.active:
        print(json.dumps(asyncio.run(measure(active, args.history, args.agents))), flush=True)


if __name__ == "__main__":
    main()
