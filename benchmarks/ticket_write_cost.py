"""What one write of a ticket costs the embedded server as the ticket's search words grow.

`secantusd-py` rewrites every index entry of a document on every update, whichever fields the update
touched (storage.py: the old document's entries deleted, the new one's written, index by index).
MongoDB only rewrites the entries of the indexed fields that changed. Until 2026-12-04 a ticket carried
its search words twice in multikey indexes (`words`, and `active_words` while it is active), so on the
embedded server a write that only moved `updated_at` cost more the longer the conversation; since then
the words are indexed in `ticket_words`, one document per write that brings words (hub.ticketindex),
and later that day the second copy left the ticket (a flag, `words_live`, says what it said).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/ticket_write_cost.py [--updates 100]

On a fresh embedded secantusd-py with the hub's indexes (`Store.ensure_indexes`) and 2,000 tickets,
for tickets of 0 to 2,000 words (`MAX_WORDS`, the hub's cap), the server's CPU per `update_one` by
`_id` of two time fields (what a customer's message repeating known words writes), from /proc:

* `word_indexes_on_ticket_db_cpu_ms`: the words twice on the ticket, in a collection with the hub's ticket
  indexes plus the two word indexes it had before;
* `live_copy_db_cpu_ms`: the words twice on the ticket, not indexed (the hub's tickets collection, the
  documents as they were between the two changes);
* `update_db_cpu_ms`: the hub's tickets as they are (the words once, unindexed).

Then `step: ticket_new_words`: what a message bringing 10 new words adds, the words indexed as one
document per message holding them (`chunks`: the hub's `ticket_words`: ticket; words and number; live
words and number) or, the design not taken, as one document per word (`postings`: unique ticket and
word; word and number; the live word, sparse).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient

from benchmarks.raw_writes import process_cpu_seconds
from hub.models import utcnow
from hub.store import Store
from hub.ticketindex import index_fields
from switchboard.embedded import EmbeddedServer

Doc = dict[str, Any]
WORD_COUNTS = (0, 30, 100, 300, 1000, 2000)
WORD_FIELDS = ("words", "active_words")


def ticket(number: int, words: int, live_copy: bool = False) -> Doc:
    """An open ticket shaped by the hub's own `index_fields` whose texts hold `words` distinct words (and,
    `live_copy`, the second copy of them that active tickets carried before 2026-12-04)."""
    now = utcnow()
    doc: Doc = {"number": number, "contact_id": ObjectId(), "conversation_ids": [ObjectId()], "channel": "email",
                "subject": "", "queue": "support", "priority": "normal", "status": "open", "assignee_id": ObjectId(),
                "created_at": now, "updated_at": now, "last_customer_message_at": now, "first_agent_reply_at": now,
                "sla": {"first_response": {"due": now, "warn": now}, "paused_seconds": 0}}
    texts = [" ".join(f"w{number}x{j}" for j in range(words))] if words else []
    doc.update(index_fields(doc, None, texts))
    doc["words"] = [w for w in doc["words"] if w != str(number)][:words]  # exactly `words` of them
    if live_copy:
        doc["active_words"] = list(doc["words"])
    return doc


async def cpu_per(pid: int, count: int, step: Any) -> float | None:
    before = process_cpu_seconds(pid)
    for i in range(count):
        await step(i)
    after = process_cpu_seconds(pid)
    return None if before is None or after is None else round((after - before) * 1000 / count, 2)


async def twin_with_word_indexes(db: Any) -> Any:
    """A collection indexed as the hub's tickets are, plus the indexes on `words` and `active_words` they had."""
    twin = db["tickets_with_word_indexes"]
    async for index in await db["tickets"].list_indexes():
        if index["name"] == "_id_":
            continue
        options = {k: index[k] for k in ("unique", "sparse", "partialFilterExpression") if k in index}
        await twin.create_index(list(index["key"].items()), name=index["name"], **options)
    for field in WORD_FIELDS:
        await twin.create_index([(field, 1), ("number", -1)])
    return twin


async def new_words_cost(db: Any, pid: int, count: int, new: int = 10) -> list[Doc]:
    """The CPU per message that brings `new` words, indexed outside the ticket: as one document per message
    holding them (`chunks`, the hub's), or as one document per word (`postings`)."""
    postings = db["ticket_word_postings"]
    await postings.create_index([("ticket_id", 1), ("word", 1)], unique=True)
    await postings.create_index([("word", 1), ("number", -1)])
    await postings.create_index([("live", 1), ("number", -1)], sparse=True)
    chunks = db["ticket_words"]  # indexed by `Store.ensure_indexes`
    ids = [ObjectId() for _ in range(count)]
    per_word = await cpu_per(pid, count, lambda i: postings.insert_many(
        [{"ticket_id": ids[i], "word": f"p{i}x{j}", "live": f"p{i}x{j}", "number": i} for j in range(new)]))
    per_message = await cpu_per(pid, count, lambda i: chunks.insert_one(
        {"ticket_id": ids[i], "number": i, "words": [f"c{i}x{j}" for j in range(new)],
         "live_words": [f"c{i}x{j}" for j in range(new)]}))
    return [{"step": "ticket_new_words", "design": design, "new_words": new, "insert_db_cpu_ms": cpu}
            for design, cpu in (("postings", per_word), ("chunks", per_message))]


async def measure(uri: str, pid: int, updates: int) -> list[Doc]:
    store = Store(uri, db_name="ticket_write_cost")
    await store.ensure_indexes()
    client: AsyncMongoClient[Doc] = AsyncMongoClient(uri, retryWrites=False)
    db = client["ticket_write_cost"]
    rows: list[Doc] = []
    try:
        twin = await twin_with_word_indexes(db)
        for coll in (db["tickets"], twin):
            await coll.insert_many([ticket(n, 30) for n in range(1, 2001)])
        number = 10_000
        shapes = ((twin, "word_indexes_on_ticket_db_cpu_ms", True), (db["tickets"], "live_copy_db_cpu_ms", True),
                  (db["tickets"], "update_db_cpu_ms", False))
        for words in WORD_COUNTS:
            row: Doc = {"step": "ticket_write_cost", "words": words}
            for coll, name, live_copy in shapes:
                docs = [ticket(number + i, words, live_copy) for i in range(updates)]
                number += updates
                await coll.insert_many(docs)
                ids = [d["_id"] for d in docs]
                row[name] = await cpu_per(pid, updates, lambda i, c=coll, k=ids: c.update_one(
                    {"_id": k[i]}, {"$set": {"updated_at": utcnow(), "last_customer_message_at": utcnow()}}))
            rows.append(row)
            print(json.dumps(row), flush=True)
        rows += await new_words_cost(db, pid, updates)
        for row in rows[-2:]:
            print(json.dumps(row), flush=True)
    finally:
        await client.close()
        await store.close()
    return rows


async def main_async(updates: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp))
        uri = await server.start()
        try:
            assert server.process is not None
            await measure(uri, server.process.pid, updates)
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main_async(args.updates))


if __name__ == "__main__":
    main()
