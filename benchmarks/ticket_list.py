"""Desk ticket list at scale: each list, search and count query at 1,000 and at 20,000 tickets.

    .venv/bin/python benchmarks/ticket_list.py [--small 1000] [--large 20000] [--active 200]

A desk's live load (`--active` new/open/pending tickets) stays the same while the history of
solved and closed tickets grows; every query must cost about the same at both sizes. Prints
one JSON line per query: the documents the server returned for it and the fastest of five runs
(ms) at each size, and their ratios. Exits 1 if any query read more than 1.5x the documents at
the large size (the deterministic measure; times on a shared machine are noisy, shown as well).
Runs a private secantusd-py server in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bson import ObjectId

from benchmarks.docs_read import DocsRead
from hub.desktally import DeskTally
from hub.models import utcnow
from hub.store import Store
from hub.ticketindex import TicketIndex, TicketQuery, index_fields, word_document
from switchboard.embedded import EmbeddedServer

VOCABULARY = [f"word{i}" for i in range(2000)]
COMMON = ["order", "refund", "delivery", "password", "invoice"]
QUEUES = ["general", "orders", "returns", "complaints"]
CHANNELS = ["widget", "email", "sms", "slack", "telegram"]
AGENTS = [ObjectId() for _ in range(8)]
ME = AGENTS[0]
MAX_RATIO = 1.5


READ = DocsRead()


def ticket(number: int, active: bool, rng: random.Random) -> dict[str, Any]:
    now = utcnow()
    created = now - timedelta(minutes=rng.randint(1, 600) if active else rng.randint(600, 500_000))
    doc: dict[str, Any] = {
        "_id": ObjectId(), "number": number, "contact_id": ObjectId(), "conversation_ids": [],
        "channel": rng.choice(CHANNELS), "subject": f"{rng.choice(COMMON)} {rng.choice(VOCABULARY)}",
        "queue": rng.choice(QUEUES), "priority": rng.choice(["low", "normal", "normal", "high", "urgent"]),
        "tags": rng.sample(["vip", "billing", "bug", "shipping", "churn"], rng.randint(0, 2)),
        "status": rng.choice(["new", "open", "pending"]) if active else rng.choice(["solved", "closed"]),
        "assignee_id": rng.choice([None, *AGENTS]), "created_at": created, "last_customer_message_at": created,
        "sla": {"first_response_due": created + timedelta(hours=1), "resolution_due": created + timedelta(days=1),
                "paused_seconds": 0},
    }
    texts = [" ".join(rng.choice(COMMON + VOCABULARY) for _ in range(12)) for _ in range(4)]
    contact = {"name": f"Customer {number}", "emails": [f"c{number}@example.com"], "phones": [f"+4930{number:07d}"]}
    return {**doc, **index_fields(doc, contact, texts)}


async def insert(store: Store, tickets: list[dict[str, Any]]) -> None:
    """Tickets and their search words' documents (`hub.ticketindex`), as the hub writes them."""
    await store.tickets.insert_many(tickets)
    await store.ticket_words.insert_many([d for t in tickets if (d := word_document(t)) is not None])


QUERIES: dict[str, TicketQuery] = {
    "active_newest": TicketQuery(),
    "queue": TicketQuery(queue="orders"),
    "mine": TicketQuery(assignee=str(ME)),
    "unassigned": TicketQuery(assignee="none"),
    "channel": TicketQuery(channel="email"),
    "tag": TicketQuery(tag="vip"),
    "priority": TicketQuery(priority="urgent"),
    "sla_breached": TicketQuery(sla="breached"),
    "oldest_waiting": TicketQuery(sort="oldest_waiting"),
    "sla_due_first": TicketQuery(sort="sla_due", queue="returns"),
    "search_active_common_word": TicketQuery(text="refund"),
    "search_active_two_words": TicketQuery(text="order word7"),
    "search_history_common_word": TicketQuery(text="invoice", statuses=["solved", "closed"]),
    "search_history_email": TicketQuery(text="c500@example.com", statuses=["new", "open", "pending", "solved",
                                                                             "closed"]),
    "closed_newest": TicketQuery(statuses=["closed"]),
    "closed_tag": TicketQuery(statuses=["closed"], tag="bug"),
    "closed_page_3": TicketQuery(statuses=["closed"], size=25),  # the cursor is filled in below
}


async def timed(call: Any, runs: int = 5) -> tuple[int, float]:
    """(documents read by one run, fastest run in ms)."""
    samples = []
    for _ in range(runs):
        before = READ.count
        t0 = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t0) * 1000)
        read = READ.count - before
    return read, min(samples)


async def measure(index: TicketIndex) -> dict[str, tuple[int, float]]:
    out: dict[str, tuple[int, float]] = {}
    for name, query in QUERIES.items():
        if name == "closed_page_3":
            first = await index.search(query)
            second = await index.search(TicketQuery(statuses=["closed"], after=first.next_cursor))
            query = TicketQuery(statuses=["closed"], after=second.next_cursor)
        out[name] = await timed(lambda q=query: index.search(q))
    tally = DeskTally(index.store)  # the sidebar's numbers: one pass over the active tickets (hub.desktally)
    out["counts"] = await timed(lambda: tally.current())
    return out


async def run(small: int, large: int, active: int) -> list[dict[str, Any]]:
    rng = random.Random(12)
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db")
        uri = await server.start()
        store = Store(uri, "bench", event_listeners=[READ])
        await store.ensure_indexes()
        for q in QUEUES:
            await store.queues.insert_one({"name": q})
        index = TicketIndex(store)
        # history first (lower numbers), then the live desk on top, as on a real desk
        number = 0
        results: dict[int, dict[str, tuple[int, float]]] = {}
        history = 0
        for size in (small, large):
            batch = []
            while history < size - active:
                number += 1
                history += 1
                batch.append(ticket(number, False, rng))
                if len(batch) == 500:
                    await insert(store, batch)
                    batch = []
            if batch:
                await insert(store, batch)
            await store.tickets.delete_many({"status": {"$in": ["new", "open", "pending"]}})
            await store.ticket_words.delete_many({"live_words": {"$ne": []}})
            same_desk = random.Random(7)  # the same live desk at both sizes: only the history differs
            live = [ticket(number + i + 1, True, same_desk) for i in range(active)]
            number += active
            await insert(store, live)
            await store.counters.update_one({"_id": "ticket"}, {"$set": {"seq": number}}, upsert=True)
            results[size] = await measure(index)
        await store.close()
        server.stop()
    lines = []
    for name in results[small]:
        (docs_a, ms_a), (docs_b, ms_b) = results[small][name], results[large][name]
        lines.append({"bench": "ticket_list", "query": name, f"docs_at_{small}": docs_a, f"docs_at_{large}": docs_b,
                      "docs_ratio": round(docs_b / max(docs_a, 1), 2), f"ms_at_{small}": round(ms_a, 2),
                      f"ms_at_{large}": round(ms_b, 2), "ms_ratio": round(ms_b / ms_a, 2) if ms_a else None})
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=20000)
    parser.add_argument("--active", type=int, default=200)
    args = parser.parse_args()
    lines = asyncio.run(run(args.small, args.large, args.active))
    for line in lines:
        print(json.dumps(line))
    slow = [line["query"] for line in lines if line["docs_ratio"] > MAX_RATIO]
    if slow:
        print(json.dumps({"bench": "ticket_list", "grew_with_the_collection": slow}))
        sys.exit(1)


if __name__ == "__main__":
    main()
