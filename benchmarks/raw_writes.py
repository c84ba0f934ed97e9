"""The server's own write cost as data grows: single inserts and `_id` updates with the same driver, the hub's
URI (retryWrites=false) and the hub's indexes, at 0 and at 20,000 documents in the collection, then again
after a long oplog (issue 13: is a slowdown of the hub the hub's, or the server's?).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/raw_writes.py [--size 20000] [--ops 1000] [--oplog 80000]

On a fresh embedded secantusd-py: `Store.ensure_indexes` gives `messages`, `conversations` and `events` the
hub's indexes; `plain` has only `_id`. For each collection, `ops` single `insert_one`s of a document shaped
like the hub's, then `ops` `update_one({_id})` of them; timed at the start (`empty`), after filling every
collection to `size` documents (`full`), and after `oplog` more writes to a scratch document (`oplog`: the
collections unchanged, the oplog and the journal longer, as after a long hub run). Each row gives the wall
rate and the server's CPU per operation (/proc), which the shared machine's load does not skew.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient

from hub.models import utcnow
from hub.store import Store
from switchboard.embedded import EmbeddedServer

Doc = dict[str, Any]
COLLECTIONS = ("messages", "conversations", "events", "plain")


def process_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) the process has used, from /proc (None where there is no /proc).

    A rate depends on what else the shared machine runs; the CPU a process spends per operation
    hardly does, so it tells whose cost grows with the data.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def shaped(collection: str, i: int, tag: str) -> Doc:
    """A document like the hub's in `collection` (the fields its indexes cover, and about its size)."""
    now = utcnow()
    conv = ObjectId(f"{i // 10:024x}")
    if collection == "messages":
        return {"conversation_id": conv, "contact_id": conv, "channel": "widget", "thread_key": f"v:{i // 10}",
                "external_id": f"{tag}:{i}", "direction": "in",
                "author": {"kind": "customer", "id": conv, "name": "Visitor"}, "text": "where is my order 12345",
                "subject": None, "attachments": [], "created_at": now, "received_at": now, "suppress_bot": False,
                "automated": False, "metadata": {}, "pending_bot": True, "lease_until": now + timedelta(seconds=60)}
    if collection == "conversations":
        return {"channel": "widget", "thread_key": f"{tag}:{i}", "open": True, "token": f"{tag}:{i}",
                "contact_id": conv, "state": "bot", "started_at": now, "last_message_at": now,
                "bot": {"state": {}, "turns": 0}}
    if collection == "events":
        return {"type": "conversation.opened", "at": now, "conversation_id": conv, "data": {"channel": "widget"}}
    return {"n": i, "tag": tag, "at": now, "text": "where is my order 12345"}


def update_for(collection: str) -> Doc:
    """An `_id` update like the hub's on that collection (the message's mark, a conversation's turn)."""
    if collection == "messages":
        return {"$unset": {"pending_bot": "", "lease_until": ""},
                "$set": {"nlu": {"intent": "order_status", "confidence": 0.9}}}
    if collection == "conversations":
        return {"$set": {"bot.last_intent": "order_status", "last_message_at": utcnow()}, "$inc": {"bot.turns": 1}}
    return {"$set": {"seen": True}}


async def _timed(ops: int, pid: int, step: Callable[[int], Any]) -> tuple[float, float | None]:
    """(operations per second, server CPU ms per operation) of `ops` sequential awaits of `step(i)`."""
    cpu = process_cpu_seconds(pid)
    started = time.perf_counter()
    for i in range(ops):
        await step(i)
    seconds = time.perf_counter() - started
    after = process_cpu_seconds(pid)
    return round(ops / seconds, 1), None if cpu is None or after is None else round((after - cpu) * 1000 / ops, 3)


async def measure_point(db: Any, pid: int, ops: int, phase: str,
                        collections: tuple[str, ...] = COLLECTIONS) -> list[Doc]:
    """One row per collection: insert and `_id`-update rates now."""
    rows = []
    for name in collections:
        coll = db[name]
        ids = [ObjectId() for _ in range(ops)]
        tag = f"{phase}-{ObjectId()}"  # unique keys (`external_id`, `token`) new in every measurement
        existing = await coll.estimated_document_count()
        docs = [{"_id": ids[i], **shaped(name, i, tag)} for i in range(ops)]
        inserts, insert_cpu = await _timed(ops, pid, lambda i, c=coll, d=docs: c.insert_one(d[i]))
        change = update_for(name)
        updates, update_cpu = await _timed(ops, pid, lambda i, c=coll, u=change, k=ids: c.update_one({"_id": k[i]}, u))
        rows.append({"step": "raw_writes", "phase": phase, "collection": name, "documents": existing,
                     "inserts_per_s": inserts, "insert_db_cpu_ms": insert_cpu,
                     "updates_per_s": updates, "update_db_cpu_ms": update_cpu})
    return rows


async def fill(db: Any, size: int, collections: tuple[str, ...] = COLLECTIONS) -> None:
    """Bring every measured collection to `size` documents (batched inserts: quick, same indexes)."""
    for name in collections:
        missing = size - await db[name].estimated_document_count()
        for start in range(0, max(0, missing), 1000):
            batch = range(start, min(missing, start + 1000))
            await db[name].insert_many([shaped(name, i, "fill") for i in batch], ordered=False)


async def lengthen_oplog(db: Any, writes: int) -> None:
    """`writes` oplog entries (and journal records) that leave the measured collections as they are."""
    scratch = db["scratch"]
    await scratch.insert_one({"_id": 1, "n": 0})
    for start in range(0, writes, 1000):
        await scratch.insert_many([{"n": i} for i in range(start, min(writes, start + 1000))])
    await scratch.drop()


async def run(uri: str, pid: int, size: int, ops: int, oplog: int) -> list[Doc]:
    store = Store(uri, db_name="raw_writes")
    await store.ensure_indexes()
    client: AsyncMongoClient[Doc] = AsyncMongoClient(uri)
    db = client["raw_writes"]
    try:
        rows = await measure_point(db, pid, ops, "empty")
        await fill(db, size)
        rows += await measure_point(db, pid, ops, "full")
        if oplog:
            await lengthen_oplog(db, oplog)
            rows += await measure_point(db, pid, ops, "oplog")
    finally:
        await client.close()
        await store.close()
    return rows


def ratios(rows: list[Doc], phase: str) -> Doc:
    """`phase` over `empty`, per collection and measure (1.0: no slowdown)."""
    base = {r["collection"]: r for r in rows if r["phase"] == "empty"}
    out: Doc = {}
    for r in rows:
        if r["phase"] == phase:
            b = base[r["collection"]]
            out[r["collection"]] = {"inserts": round(r["inserts_per_s"] / b["inserts_per_s"], 3),
                                    "updates": round(r["updates_per_s"] / b["updates_per_s"], 3)}
    return out


async def main_async(size: int, ops: int, oplog: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp))
        uri = await server.start()
        try:
            assert server.process is not None
            rows = await run(uri, server.process.pid, size, ops, oplog)
        finally:
            server.stop()
    for row in rows:
        print(json.dumps(row))
    print(json.dumps({"step": "raw_writes_summary", "full_vs_empty": ratios(rows, "full"),
                      **({"oplog_vs_empty": ratios(rows, "oplog")} if oplog else {})}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--ops", type=int, default=1_000)
    parser.add_argument("--oplog", type=int, default=80_000)
    args = parser.parse_args()
    asyncio.run(main_async(args.size, args.ops, args.oplog))


if __name__ == "__main__":
    main()
