"""Writes to many documents of a busy collection (`Store.update_in_batches`, `delete_in_batches`).

secantusd-py runs a plain multi-document update outside a transaction holding the collection's lock
while it retries a write conflict, so a transaction that wrote one of its documents and has another
statement for that collection never finishes, and neither does the update. The hub writes many
documents of messages, conversations, tickets and the outbox only through these helpers.
"""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from typing import Any

from pymongo import monitoring

from hub.store import WRITE_BATCH, ObjectId
from tests.helpers import scratch_store

ROOT = Path(__file__).resolve().parent.parent
#: Collections that transactions write (processing, escalation, ticket changes, merges).
BUSY = {"messages", "conversations", "tickets", "ticket_words", "outbox", "contacts", "events"}
#: A guard against a hang, not a timing goal: what it guards takes milliseconds.
HANG = 30.0


class Commands(monitoring.CommandListener):
    """Commits seen, and an event set when the server refuses a write for a write conflict."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.conflicted = asyncio.Event()
        self.commits = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "commitTransaction":
            self.commits += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        write_errors: list[Any] = event.reply.get("writeErrors", [])
        if event.command_name == "update" and any(e.get("code") == 112 for e in write_errors):
            self.loop.call_soon_threadsafe(self.conflicted.set)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        if event.command_name == "update" and event.failure.get("code") == 112:
            self.loop.call_soon_threadsafe(self.conflicted.set)


async def test_an_update_of_many_documents_racing_a_transaction_lets_it_finish(mongo_uri: str) -> None:
    commands = Commands()
    async with scratch_store(mongo_uri, "race", [commands]) as store:
        race = store.db["race"]
        first, second, third = ObjectId(), ObjectId(), ObjectId()
        await race.insert_many([{"_id": first}, {"_id": second}])
        async with store.client.start_session() as session:
            await session.start_transaction()
            # like processing: the customer's message is updated, then the answer inserted
            await race.update_one({"_id": first}, {"$set": {"answered": True}}, session=session)
            erase = store.update_in_batches(race, "_id", [first, second], {"$set": {"erased": True}})
            update = asyncio.create_task(erase)
            # the update met the transaction's write and let go of the collection (a plain update_many keeps
            # retrying inside the server, holding it, and never says so)
            await asyncio.wait_for(commands.conflicted.wait(), HANG)
            await asyncio.wait_for(race.insert_one({"_id": third}, session=session), HANG)
            await session.commit_transaction()
        changed = await asyncio.wait_for(update, HANG)
        assert changed == 2
        assert await race.find_one({"_id": first}) == {"_id": first, "answered": True, "erased": True}
        assert await race.find_one({"_id": second}) == {"_id": second, "erased": True}
        assert await race.count_documents({"_id": third}) == 1


async def test_many_documents_are_written_a_bounded_batch_per_transaction(mongo_uri: str) -> None:
    commands = Commands()
    async with scratch_store(mongo_uri, "batches", [commands]) as store:
        many = store.db["many"]
        ids = [ObjectId() for _ in range(2 * WRITE_BATCH + 1)]
        await many.insert_many([{"_id": _id, "n": n} for n, _id in enumerate(ids)])

        changed = await store.update_in_batches(many, "_id", ids, {"$set": {"seen": True}},
                                                condition={"n": {"$gte": 1}})
        assert changed == len(ids) - 1  # the condition holds for all but the first
        assert commands.commits == 3
        assert await many.count_documents({"seen": True}) == len(ids) - 1

        commands.commits = 0
        deleted = await store.delete_in_batches(many, "n", list(range(WRITE_BATCH + 1)), condition={"seen": True})
        assert deleted == WRITE_BATCH  # n = 0 was not seen
        assert commands.commits == 2
        assert await many.count_documents({}) == len(ids) - WRITE_BATCH
        assert await store.update_in_batches(many, "_id", [], {"$set": {"seen": False}}) == 0
        assert commands.commits == 2  # nothing to write, no transaction


def plain_many_writes(source: str) -> list[tuple[str, int]]:
    """`<...>.<busy collection>.update_many(...)` or `delete_many(...)` calls without `session=`, with their lines."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("update_many", "delete_many")
                and isinstance(node.func.value, ast.Attribute) and node.func.value.attr in BUSY
                and not any(k.arg == "session" for k in node.keywords)):
            found.append((f"{node.func.value.attr}.{node.func.attr}", node.lineno))
    return found


#: The one kept, and why: the outbox's release of expired leases (every 10 s) filters on its hinted index,
#: which an id-first read could not (a find by an index it does not fully cover scans), and no transaction
#: writes an existing outbox entry (they only insert new ones, which a plain update cannot conflict with).
KEPT = {("hub/outbox.py", "outbox.update_many")}


def test_no_plain_many_document_write_on_a_busy_collection() -> None:
    """Outside a transaction of the caller's, many documents of these collections are written only
    through `Store.update_in_batches` / `delete_in_batches`."""
    found = [(str(path.relative_to(ROOT)), name, line)
             for layer in ("hub", "bot", "channels", "agents_ui", "switchboard")
             for path in sorted((ROOT / layer).rglob("*.py"))
             for name, line in plain_many_writes(path.read_text())]
    assert [f for f in found if f[:2] not in KEPT] == []
    assert {f[:2] for f in found} == KEPT  # when it goes, so does its exemption
    assert plain_many_writes("await self.store.messages.update_many({}, {})") == [("messages.update_many", 1)]
