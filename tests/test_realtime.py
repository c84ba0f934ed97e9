"""The realtime bus reads the change stream one batch at a time, with a pause between reads.

The reads are counted with PyMongo command monitoring on a real secantusd-py: the changes written
while the bus pauses after a read come back together in its next read. (How long the pause
delays a push is measured in benchmarks/realtime_latency.py, not here.)
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from pymongo import monitoring

from hub.realtime import Change, RealtimeBus
from hub.store import Store
from hub.tasks import cancel_and_wait

_dbs = itertools.count()
GAP = 1.0  # long, so that the test's three writes surely land within it on a loaded machine


@dataclass
class StreamReads(monitoring.CommandListener):
    """How many changes each change-stream read (`getMore`) that returned some brought back."""

    batches: list[int] = field(default_factory=list)
    _ids: set[int] = field(default_factory=set)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "getMore" and str(event.command.get("collection", "")).startswith("$cmd"):
            self._ids.add(event.request_id)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.request_id in self._ids:
            self._ids.discard(event.request_id)
            batch = (event.reply.get("cursor") or {}).get("nextBatch") or []
            if batch:
                self.batches.append(len(batch))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._ids.discard(event.request_id)


@pytest.fixture
async def bus(mongo_uri: str) -> AsyncIterator[tuple[RealtimeBus, StreamReads]]:
    reads = StreamReads()
    store = Store(mongo_uri, f"test_realtime_{next(_dbs)}", [reads])
    bus = RealtimeBus(store, read_gap_seconds=GAP)
    task = asyncio.create_task(bus.run())
    try:
        await asyncio.wait_for(bus.ready.wait(), 10)
        yield bus, reads
    finally:
        await cancel_and_wait([task])
        await store.client.drop_database(store.db.name)
        await store.client.close()


async def test_changes_written_during_the_pause_come_back_in_one_read(
        bus: tuple[RealtimeBus, StreamReads]) -> None:
    realtime, reads = bus
    sub = realtime.subscribe()
    events = realtime.store.events
    await events.insert_one({"type": "first"})
    first = await asyncio.wait_for(sub.get(), 10)  # the read waiting on the server returns it at once
    assert first.document["type"] == "first" and reads.batches == [1]
    # The bus now pauses GAP before its next read: three separate writes meanwhile ...
    await events.insert_one({"type": "second"})
    await realtime.store.tickets.insert_one({"number": 1})
    await events.update_one({"type": "first"}, {"$set": {"seen": True}})
    rest = [await asyncio.wait_for(sub.get(), 10) for _ in range(3)]
    # ... come back in one read, in order, updates with the full document.
    assert [(c.collection, c.operation) for c in rest] == [("events", "insert"), ("tickets", "insert"),
                                                           ("events", "update")]
    assert rest[2].document == {**first.document, "seen": True}
    assert reads.batches == [1, 3]


async def test_without_a_pause_each_write_is_its_own_read(bus: tuple[RealtimeBus, StreamReads]) -> None:
    realtime, reads = bus
    realtime.read_gap_seconds = 0.0
    sub = realtime.subscribe()
    await realtime.store.events.insert_one({"type": "wake the waiting read"})
    await asyncio.wait_for(sub.get(), 10)  # past any pause begun with the old gap
    for n in range(3):
        await realtime.store.events.insert_one({"type": "one", "n": n})
        change = await asyncio.wait_for(sub.get(), 10)
        assert change.document["n"] == n
    assert reads.batches[-3:] == [1, 1, 1]


async def test_a_subscription_by_thread_gets_only_the_changes_about_its_thread(
        bus: tuple[RealtimeBus, StreamReads]) -> None:
    """What a customer's socket subscribes to: its own thread's messages, the events about it and the typing
    records that name it; never another chat's, never tickets. The desk's subscription gets everything."""
    realtime, _ = bus
    realtime.read_gap_seconds = 0.0
    store = realtime.store
    everything, mine, other = realtime.subscribe(), realtime.subscribe(thread_key="a"), realtime.subscribe(
        thread_key="b")
    assert realtime.subscriber_count == 3
    await store.messages.insert_one({"thread_key": "a", "text": "mine"})
    await store.messages.insert_one({"thread_key": "b", "text": "other"})
    await store.tickets.insert_one({"number": 7})
    await store.events.insert_one({"type": "conversation.handoff", "thread_key": "a"})
    await store.events.insert_one({"type": "queue.wait", "data": {"thread_key": "a", "position": 2}})
    await store.ticket_activity.insert_one({"_id": "t:x", "thread_keys": ["a", "b"], "typing_until": None})
    seen = [await asyncio.wait_for(everything.get(), 10) for _ in range(6)]  # each offered to all in one dispatch
    assert [c.collection for c in seen] == ["messages", "messages", "tickets", "events", "events", "ticket_activity"]
    assert [(c.collection, c.document.get("text") or c.document.get("type")) for c in mine.drain()] == [
        ("messages", "mine"), ("events", "conversation.handoff"), ("events", "queue.wait"), ("ticket_activity", None)]
    assert [(c.collection, c.document.get("text")) for c in other.drain()] == [
        ("messages", "other"), ("ticket_activity", None)]

    mine.close()
    assert realtime.subscriber_count == 2
    await store.messages.insert_one({"thread_key": "a", "text": "after"})
    await asyncio.wait_for(everything.get(), 10)
    assert mine.drain() == [] and other.drain() == []


def test_what_every_subscriber_derives_from_a_change_is_made_once() -> None:
    change = Change("messages", "insert", {"text": "hi"})
    made: list[str] = []

    def frame(c: Change) -> str:
        made.append(c.document["text"])
        return c.document["text"].upper()

    assert [change.shared("desk", frame) for _ in range(3)] == ["HI", "HI", "HI"] and made == ["hi"]
