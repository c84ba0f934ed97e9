"""A conversation's messages reach the customer in the order they were queued, across processes and retries,
and a retry whose earlier attempt may have reached the provider is told so.

Two `Outbox` objects on one database stand for two hub processes: each has its own in-flight lanes,
timers and slots, and they share only what is in the database, as two processes do. The sender is an
in-memory fake of the `OutboundSender` port that records what it accepted, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from hub.models import AuthorKind, OutboundMessage, SendError, SendResult, utcnow
from hub.outbox import Outbox, RetryPolicy
from hub.store import ObjectId, Store
from tests.helpers import bare_conversation, eventually, holds, outbox_entry, scratch_store

NO_POLL = 3600.0  # the tests' waits never reach an idle poll: what happens was woken


class Sender:
    """Records accepted texts in order; `gate` holds the first attempt; texts in `refuse` fail as told."""

    channel = "test"

    def __init__(self) -> None:
        self.attempted: list[str] = []
        self.accepted: list[str] = []
        self.gate: asyncio.Event | None = None
        self.refuse: dict[str, SendError] = {}

    async def send(self, message: OutboundMessage) -> SendResult:
        self.attempted.append(message.text)
        if self.gate is not None and len(self.attempted) == 1:
            await self.gate.wait()
        error = self.refuse.pop(message.text, None)
        if error is not None:
            raise error
        self.accepted.append(message.text)
        return SendResult(provider_id=f"p-{len(self.accepted)}")


@pytest.fixture
async def store(mongo_uri: str) -> AsyncIterator[Store]:
    async with scratch_store(mongo_uri, "test_outbox_order") as store:
        yield store


@contextlib.asynccontextmanager
async def running(*outboxes: Outbox) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(o.run()) for o in outboxes]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for o in outboxes:
            await o.stop()


async def _all_done(store: Store) -> bool:
    return await store.outbox.count_documents({"status": {"$in": ["pending", "sending"]}}) == 0


async def test_a_second_process_does_not_send_past_a_message_the_first_is_sending(store: Store) -> None:
    sender = Sender()
    sender.gate = asyncio.Event()
    first = Outbox(store, {"test": sender}, poll_seconds=NO_POLL)
    conversation = await bare_conversation(store)
    for text in ("one", "two", "three"):
        await first.post(conversation, AuthorKind.AGENT, text)
    async with running(first):
        await eventually(lambda: holds(sender.attempted == ["one"]), what="process 1 sending 'one'")
        second = Outbox(store, {"test": sender}, poll_seconds=NO_POLL)
        async with running(second):  # its first pass finds 'two' due and its lane free in that process

            async def two_held() -> bool:
                return int((await outbox_entry(store, "two")).get("holds") or 0) >= 1

            await eventually(two_held, what="process 2 putting 'two' back behind 'one'")
            assert sender.attempted == ["one"]  # nothing went past the message in flight
            assert (await outbox_entry(store, "two"))["status"] == "pending"
            sender.gate.set()
            await eventually(lambda: _all_done(store), what="all three sent")
    assert sender.accepted == ["one", "two", "three"]
    assert [(await outbox_entry(store, t))["status"] for t in ("one", "two", "three")] == ["sent"] * 3
    assert (await outbox_entry(store, "one"))["attempts"] == 1  # a hold is not an attempt
    assert (await outbox_entry(store, "two"))["attempts"] == 1


async def test_a_message_waiting_for_a_retry_keeps_the_ones_after_it_waiting(store: Store) -> None:
    sender = Sender()
    sender.refuse["one"] = SendError("provider busy", transient=True)
    outbox = Outbox(store, {"test": sender}, RetryPolicy(base_seconds=0.3, max_seconds=0.3), poll_seconds=NO_POLL)
    conversation = await bare_conversation(store)
    other = await bare_conversation(store)
    async with running(outbox):
        await outbox.post(conversation, AuthorKind.AGENT, "one")
        await eventually(lambda: holds(sender.attempted == ["one"]), what="the first attempt, refused")
        await outbox.post(conversation, AuthorKind.AGENT, "two")
        await outbox.post(other, AuthorKind.AGENT, "elsewhere")  # another conversation is not held up
        await eventually(lambda: holds("elsewhere" in sender.accepted), what="the other conversation's message")
        await eventually(lambda: _all_done(store), what="the retry and what waited for it")
    assert [t for t in sender.accepted if t != "elsewhere"] == ["one", "two"]
    assert sender.attempted.count("two") == 1  # held without an attempt while 'one' waited
    one = await outbox_entry(store, "one")
    assert one["attempts"] == 2 and one["status"] == "sent"


async def test_a_message_that_failed_for_good_does_not_hold_the_rest(store: Store) -> None:
    sender = Sender()
    sender.refuse["one"] = SendError("recipient blocked the bot", transient=False)
    outbox = Outbox(store, {"test": sender}, poll_seconds=NO_POLL)
    conversation = await bare_conversation(store)
    async with running(outbox):
        for text in ("one", "two"):
            await outbox.post(conversation, AuthorKind.AGENT, text)
        await eventually(lambda: _all_done(store), what="both settled")
    assert sender.accepted == ["two"]
    assert (await outbox_entry(store, "one"))["status"] == "failed"
    assert (await outbox_entry(store, "two"))["status"] == "sent"


async def test_ahead_is_the_earliest_unsent_entry_queued_before(store: Store) -> None:
    outbox = Outbox(store, {"test": Sender()})
    conversation = await bare_conversation(store)
    docs = [await outbox.post(conversation, AuthorKind.AGENT, t) for t in ("a", "b", "c")]
    entries = [await store.outbox.find_one({"message_id": d["_id"]}) for d in docs]
    assert all(e is not None for e in entries)
    a, b, c = entries
    assert await outbox._ahead(a) is None
    assert (await outbox._ahead(c))["_id"] == a["_id"]  # type: ignore[index]
    await store.outbox.update_one({"_id": a["_id"]}, {"$set": {"status": "sent"}})
    assert (await outbox._ahead(c))["_id"] == b["_id"]  # type: ignore[index]
    await store.outbox.update_one({"_id": b["_id"]}, {"$set": {"status": "failed"}})
    assert await outbox._ahead(c) is None
    # same millisecond: the id decides, so neither waits for the other for ever
    twin = {**c, "_id": ObjectId(), "status": "pending"}
    await store.outbox.insert_one({k: v for k, v in twin.items() if k != "message_id"})
    assert (await outbox._ahead(twin))["_id"] == c["_id"]  # type: ignore[index]
    assert await outbox._ahead(c) is None



async def test_a_send_whose_outcome_is_unknown_is_retried_with_that_said(store: Store) -> None:
    """A process stopped mid-send (its lease ran out) or a failed attempt: the next attempt is told that the
    provider may hold the message already (`maybe_delivered_since`), for senders that can check (Slack)."""
    outbox = Outbox(store, {"test": Sender()})
    conversation = await bare_conversation(store)
    fresh = await outbox.post(conversation, AuthorKind.AGENT, "fresh")
    stopped = await outbox.post(conversation, AuthorKind.AGENT, "stopped mid-send")
    failed = await outbox.post(conversation, AuthorKind.AGENT, "failed once")
    await store.outbox.update_one({"message_id": stopped["_id"]},
                                  {"$set": {"status": "sending", "lease_until": utcnow() - timedelta(seconds=1)}})
    await store.outbox.update_one({"message_id": failed["_id"]}, {"$set": {"attempts": 1}})
    await outbox._release_expired_leases()
    built = {}
    for doc in (fresh, stopped, failed):
        entry = await store.outbox.find_one({"message_id": doc["_id"]})
        assert entry is not None and entry["status"] == "pending"
        message = await outbox._build(entry)
        assert message is not None
        built[doc["text"]] = (message.maybe_delivered_since, entry["created_at"])
    assert built["fresh"][0] is None
    assert built["stopped mid-send"][0] == built["stopped mid-send"][1]
    assert built["failed once"][0] == built["failed once"][1]
