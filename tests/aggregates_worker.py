"""A second OS process applying aggregates (tests/test_aggregates.py): `python -m tests.aggregates_worker URI DB`.

Prints `ready`, waits for a line on stdin, then applies every ticket and conversation of the database
`ROUNDS` times in its own shuffled order, and prints `done <records that changed the buckets>`.
"""

from __future__ import annotations

import asyncio
import random
import sys

from hub.aggregates import Aggregates
from hub.history import HistoryService
from hub.store import Store
from hub.tickets import QueueConfig

ROUNDS = 3


async def main(uri: str, db: str) -> None:
    store = Store(uri, db)
    aggregates = Aggregates(store, HistoryService(store, {"general": QueueConfig("general")}))
    tickets = [t["_id"] for t in await store.tickets.find({}, projection={"_id": 1}).to_list()]
    convs = [c["_id"] for c in await store.conversations.find({}, projection={"_id": 1}).to_list()]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    changed = 0
    rng = random.Random(7)
    for _ in range(ROUNDS):
        rng.shuffle(tickets)
        for ticket_id in tickets:
            changed += await aggregates.apply_ticket(ticket_id)
        for conv_id in convs:
            changed += await aggregates.apply_conversation(conv_id)
    print(f"done {changed}", flush=True)
    await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
