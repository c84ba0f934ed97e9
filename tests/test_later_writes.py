"""A transaction's waiting inserts (`Store.insert_later`, hub.laterwrites), sent together in one client-level
`bulkWrite` just before the commit, or one by one against a server without that command.

Both ways must behave like the single writes they replace: in order, visible at the commit and not before, an
update of a waiting document made after its insert, a duplicate key raised as `DuplicateKeyError` with nothing
of the transaction written, and a write conflict met by a `bulkWrite` retried with the whole transaction.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from hub.laterwrites import LaterWrite
from hub.models import InboundMessage, Sender, utcnow
from hub.store import ObjectId
from switchboard.config import Settings
from tests.conftest import running
from tests.helpers import Counted, eventually, scratch_store

#: A guard against a hang, not a timing goal: what it guards takes milliseconds.
HANG = 30.0
WAYS = pytest.mark.parametrize("together", [True, False], ids=["bulkWrite", "one by one"])


@WAYS
async def test_waiting_inserts_are_made_in_order_at_the_commit(mongo_uri: str, together: bool) -> None:
    counted = Counted()
    async with scratch_store(mongo_uri, "later", [counted]) as store:
        store.together = together
        tickets, words = store.db["t"], store.db["w"]
        ticket_id = ObjectId()
        seen_inside: list[Any] = []

        async def work(session: AsyncClientSession) -> None:
            await store.insert_later(tickets, {"_id": ticket_id, "n": 1}, session)
            await store.insert_later(words, {"ticket_id": ticket_id, "w": ["a"]}, session)
            await store.append_event("t.created", utcnow(), session=session, ticket_id=ticket_id)
            await store.insert_later(words, {"ticket_id": ticket_id, "w": ["b"]}, session)
            seen_inside.append(await tickets.find_one({"_id": ticket_id}, session=session))  # not written yet
            counted.names.clear()

        await store.run_in_transaction(work)
        made = Counter(counted.names)  # the commands from the last statement of `work` to the commit
        assert seen_inside == [None]
        assert await tickets.find_one({"_id": ticket_id}) == {"_id": ticket_id, "n": 1}
        assert sorted([w["w"][0] async for w in words.find({"ticket_id": ticket_id})]) == ["a", "b"]
        assert await store.events.count_documents({"type": "t.created", "ticket_id": ticket_id}) == 1
        if together:
            assert made == Counter({"bulkWrite": 1, "commitTransaction": 1})
        else:  # a collection's inserts in one command
            assert made == Counter({"insert": 3, "commitTransaction": 1})


@WAYS
async def test_an_update_in_a_transaction_is_made_at_once_after_the_inserts_it_may_touch(
        mongo_uri: str, together: bool) -> None:
    async with scratch_store(mongo_uri, "later_update", []) as store:
        store.together = together
        tickets, other = store.db["t"], store.db["o"]
        ticket_id, other_id = ObjectId(), ObjectId()
        seen_inside: list[Any] = []

        async def work(session: AsyncClientSession) -> None:
            await store.insert_later(other, {"_id": other_id}, session)
            await store.insert_later(tickets, {"_id": ticket_id, "n": 1}, session)
            await store.update(tickets, {"_id": ticket_id}, {"$inc": {"n": 1}}, session)  # after its insert
            seen_inside.append(await tickets.find_one({"_id": ticket_id}, session=session))
            seen_inside.append(await other.find_one({"_id": other_id}, session=session))

        await store.run_in_transaction(work)
        assert seen_inside[0] == {"_id": ticket_id, "n": 2}  # made at once, its collection's inserts before it
        assert await tickets.find_one({"_id": ticket_id}) == {"_id": ticket_id, "n": 2}
        assert await other.count_documents({"_id": other_id}) == 1


@WAYS
async def test_a_duplicate_among_the_waiting_writes_fails_the_transaction_as_a_single_write_would(
        mongo_uri: str, together: bool) -> None:
    async with scratch_store(mongo_uri, "later_dup", []) as store:
        store.together = together
        taken = store.db["taken"]
        await taken.create_index("key", unique=True)
        await taken.insert_one({"key": "k"})
        other = ObjectId()

        async def work(session: AsyncClientSession) -> None:
            await store.insert_later(store.db["other"], {"_id": other}, session)
            await store.insert_later(taken, {"key": "k"}, session)
            await store.insert_later(taken, {"key": "fresh"}, session)

        with pytest.raises(DuplicateKeyError):
            await store.run_in_transaction(work)
        assert await store.db["other"].count_documents({}) == 0  # nothing of the transaction was written
        assert await taken.count_documents({}) == 1


@WAYS
async def test_a_write_conflict_met_by_writes_together_retries_the_transaction(
        mongo_uri: str, together: bool) -> None:
    """Two transactions add to one counter read at their start, with `write_together` (as the wait announcer's
    pass does, here in a transaction); the second to commit meets the first one's write. PyMongo wraps a failed
    `bulkWrite`'s write conflict in an exception without the `TransientTransactionError` label: unless the store
    unwraps it, the transaction fails instead of retrying."""
    async with scratch_store(mongo_uri, "later_conflict", []) as store:
        store.together = together
        counters = store.db["counters"]
        await counters.insert_one({"_id": "c", "n": 0})
        both_read, early_done = asyncio.Event(), asyncio.Event()
        attempts: Counter[str] = Counter()

        def add(name: str) -> Any:
            async def work(session: AsyncClientSession) -> None:
                attempts[name] += 1
                await counters.find_one({"_id": "c"}, session=session)  # its snapshot starts here
                if attempts[name] == 1:
                    if name == "late":
                        both_read.set()
                        await asyncio.wait_for(early_done.wait(), HANG)
                    else:
                        await asyncio.wait_for(both_read.wait(), HANG)
                await store.write_together([LaterWrite(counters, "update", {"$inc": {"n": 1}}, {"_id": "c"}),
                                            LaterWrite(store.events, "insert", {"type": "counted", "by": name})],
                                           session)
            return work

        async def early() -> None:
            await store.run_in_transaction(add("early"))
            early_done.set()

        await asyncio.wait_for(asyncio.gather(early(), store.run_in_transaction(add("late"))), HANG)
        assert await counters.find_one({"_id": "c"}) == {"_id": "c", "n": 2}
        assert attempts == Counter({"early": 1, "late": 2})  # the late one met the conflict and ran again
        assert await store.events.count_documents({"type": "counted"}) == 2  # the aborted attempt's insert is gone


async def test_the_hubs_paths_write_the_same_without_the_bulk_command(settings: Settings, shop_bot: Any) -> None:
    """A server older than MongoDB 8.0 has no client-level `bulkWrite`: a visitor's first message, a bot answer and
    an escalation then make their waiting writes one by one, with the same result (the rest of the suite runs them
    together)."""
    counted = Counted()
    async with running(settings, shop_bot, [counted]) as runtime:
        hub = runtime.hub
        assert hub is not None
        hub.store.together = False

        async def say(text: str, n: int) -> None:
            await hub.ingest(InboundMessage(channel="widget", external_id=f"demo:old:{n}", thread_key="demo:old",
                                            sender=Sender("demo:old", probably_new=n == 1), text=text))
            await hub.pipeline.drain()

        await say("what are your opening hours", 1)
        store = hub.store
        conversation = await store.conversations.find_one({"thread_key": "demo:old"})
        assert conversation is not None and conversation["bot"]["turns"] == 1
        # the first message's contact, conversation, event and message (one command where the server can)
        assert await store.contacts.count_documents({"identities.external_id": "demo:old"}) == 1
        assert await store.events.count_documents({"type": "conversation.opened",
                                                   "conversation_id": conversation["_id"]}) == 1
        assert await store.messages.count_documents({"conversation_id": conversation["_id"],
                                                     "author.kind": "bot"}) == 1
        await say("I want to talk to a human", 2)
        ticket = await eventually(lambda: store.tickets.find_one({"contact_id": conversation["contact_id"]}),
                                  what="the ticket")
        conversation = await store.conversations.find_one({"_id": conversation["_id"]})
        assert conversation is not None and conversation["state"] == "escalated"
        assert conversation["ticket_id"] == ticket["_id"]
        assert await store.ticket_words.count_documents({"ticket_id": ticket["_id"]}) == 1
        notice = await store.messages.find_one({"conversation_id": conversation["_id"], "author.kind": "system"})
        assert notice is not None and f"#{ticket['number']}" in notice["text"]
        assert {e["type"] async for e in store.events.find({"ticket_id": ticket["_id"]})} >= {
            "ticket.created", "conversation.handoff"}
        assert await store.messages.count_documents({"pending_bot": True}) == 0
        assert counted.names["bulkWrite"] == 0

