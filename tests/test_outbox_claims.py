"""The outbox worker reads due entries only when there may be some, and claims a batch per read.

Each test counts the worker's reads of `outbox` (`find` commands) with PyMongo command monitoring
on a real secantusd-py. The worker's idle poll is set far beyond the tests' waits wherever a test
shows that something else (a wake-up, a lane freed, a retry's timer) started the read.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from pymongo import monitoring

from hub.models import SendError, utcnow
from hub.outbox import POLL_SECONDS, Outbox, RetryPolicy
from hub.realtime import READ_GAP_SECONDS
from hub.store import Doc, ObjectId, Store
from switchboard.config import ConfigError, load_settings
from tests.helpers import eventually

_dbs = itertools.count()
NO_POLL = 3600.0  # longer than any wait here: a read the test sees was not the idle poll


@dataclass
class OutboxReads(monitoring.CommandListener):
    """How many of the worker's reads of due entries were sent, and how many have answered."""

    sent: int = 0
    answered: int = 0
    _ids: set[int] = field(default_factory=set)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if (event.command_name == "find" and event.command.get("find") == "outbox"
                and (event.command.get("filter") or {}).get("status") == "pending"):  # not the test's own reads
            self.sent += 1
            self._ids.add(event.request_id)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.request_id in self._ids:
            self.answered += 1

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._ids.discard(event.request_id)


class Handler:
    """Attempts of entries of kind `test`: records them; `gate` holds them; the first `failures` fail."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[ObjectId] = []
        self.gate: asyncio.Event | None = None
        self.failures = failures

    async def __call__(self, entry: Doc) -> None:
        self.calls.append(entry["_id"])
        if self.gate is not None:
            await self.gate.wait()
        if len(self.calls) <= self.failures:
            raise SendError("provider busy", transient=True)


@pytest.fixture
async def store(mongo_uri: str) -> AsyncIterator[tuple[Store, OutboxReads]]:
    reads = OutboxReads()
    store = Store(mongo_uri, f"test_outbox_claims_{next(_dbs)}", [reads])
    await store.ensure_indexes()
    try:
        yield store, reads
    finally:
        await store.client.drop_database(store.db.name)
        await store.client.close()


async def _queue(store: Store, lane: ObjectId, at: int = 0) -> ObjectId:
    """One due test entry in `lane` (`at`: seconds overdue, the oldest is claimed first)."""
    due = utcnow() - timedelta(seconds=100 - at)
    result = await store.outbox.insert_one({"kind": "test", "lane": lane, "status": "pending", "attempts": 0,
                                            "next_attempt_at": due, "created_at": due})
    return result.inserted_id


@contextlib.asynccontextmanager
async def working(outbox: Outbox, reads: OutboxReads) -> AsyncIterator[None]:
    """The worker running, past its first pass (which found nothing)."""
    task = asyncio.create_task(outbox.run())
    try:
        await eventually(lambda: _true(reads.answered >= 1), what="the worker's first read")
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await outbox.stop()


async def _true(value: bool) -> bool:
    return value


async def _statuses(store: Store) -> dict[ObjectId, str]:
    return {d["_id"]: d["status"] async for d in store.outbox.find({}, projection={"status": 1})}


async def test_one_read_claims_up_to_the_free_slots_one_entry_per_lane(store: tuple[Store, OutboxReads]) -> None:
    db, reads = store
    a, b, c = ObjectId(), ObjectId(), ObjectId()
    a1, b1, a2, c1, a3 = [await _queue(db, lane, i) for i, lane in enumerate((a, b, a, c, a))]
    outbox = Outbox(db, {})

    taken, seen_all = await outbox._claim(2)
    assert [e["_id"] for e in taken] == [a1, b1] and not seen_all  # stopped at the limit: more may be due
    taken, seen_all = await outbox._claim(8)
    assert [e["_id"] for e in taken] == [c1] and seen_all  # a's later entries wait for a's delivery
    assert reads.sent == 2
    assert outbox._waiting_lanes == {a}
    assert await _statuses(db) == {a1: "sending", b1: "sending", a2: "pending", c1: "sending", a3: "pending"}
    assert all(e["lease_until"] > utcnow() for e in taken)


async def test_a_wake_up_makes_one_read_and_a_delivery_none(store: tuple[Store, OutboxReads]) -> None:
    db, reads = store
    handler = Handler()
    outbox = Outbox(db, {}, poll_seconds=NO_POLL)
    outbox.handlers["test"] = handler
    async with working(outbox, reads):
        entries = [await _queue(db, ObjectId()) for _ in range(3)]
        outbox.wake()  # what a transaction that queued them does once committed

        async def delivered() -> bool:
            return set((await _statuses(db)).values()) == {"sent"} and outbox._running == 0

        await eventually(delivered, what="the entries sent")
        assert sorted(handler.calls) == sorted(entries)
        assert reads.sent == 2  # the first pass and the woken one: no read after the deliveries
        assert not outbox._wake.is_set()


async def test_an_entry_behind_its_lane_goes_when_the_lane_is_free(store: tuple[Store, OutboxReads]) -> None:
    db, reads = store
    handler = Handler()
    handler.gate = asyncio.Event()
    outbox = Outbox(db, {}, poll_seconds=NO_POLL)
    outbox.handlers["test"] = handler
    lane = ObjectId()
    async with working(outbox, reads):
        first, second = await _queue(db, lane, 0), await _queue(db, lane, 1)
        outbox.wake()
        await eventually(lambda: _true(handler.calls == [first]), what="the lane's first entry attempted")
        assert (await _statuses(db))[second] == "pending"
        handler.gate.set()

        async def both_sent() -> bool:
            return set((await _statuses(db)).values()) == {"sent"}

        await eventually(both_sent, what="the lane's second entry sent after the first")
        assert handler.calls == [first, second]


async def test_full_slots_are_refilled_as_deliveries_end(store: tuple[Store, OutboxReads]) -> None:
    db, reads = store
    handler = Handler()
    outbox = Outbox(db, {}, concurrency=2, poll_seconds=NO_POLL)
    outbox.handlers["test"] = handler
    async with working(outbox, reads):
        entries = [await _queue(db, ObjectId(), i) for i in range(5)]
        outbox.wake()

        async def all_sent() -> bool:
            return set((await _statuses(db)).values()) == {"sent"}

        await eventually(all_sent, what="five entries through two slots")
        assert sorted(handler.calls) == sorted(entries)


async def test_a_retry_wakes_the_worker_when_it_comes_due(store: tuple[Store, OutboxReads]) -> None:
    db, reads = store
    handler = Handler(failures=1)
    outbox = Outbox(db, {}, RetryPolicy(base_seconds=0.05, max_seconds=0.1), poll_seconds=NO_POLL)
    outbox.handlers["test"] = handler
    async with working(outbox, reads):
        entry = await _queue(db, ObjectId())
        outbox.wake()

        async def sent() -> Doc | None:
            return await db.outbox.find_one({"_id": entry, "status": "sent"})

        doc = await eventually(sent, what="the retry sent without a poll")
        assert doc["attempts"] == 2 and handler.calls == [entry, entry]


async def test_an_entry_nobody_woke_the_worker_for_goes_at_the_next_poll(store: tuple[Store, OutboxReads]) -> None:
    db, reads = store
    handler = Handler()
    outbox = Outbox(db, {}, poll_seconds=0.2)
    outbox.handlers["test"] = handler
    async with working(outbox, reads):
        entry = await _queue(db, ObjectId())  # e.g. queued by another process: no wake-up here

        async def sent() -> Doc | None:
            return await db.outbox.find_one({"_id": entry, "status": "sent"})

        await eventually(sent, what="the entry sent by the idle poll")
        assert handler.calls == [entry]


def test_the_poll_and_the_realtime_gap_are_settings(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.yml"
    config.write_text("hub:\n  realtime_read_gap_seconds: 0\noutbox:\n  poll_seconds: 2.5\n  max_attempts: 3\n")
    settings = load_settings(config)
    assert settings.outbox_poll_seconds == 2.5 and settings.realtime_read_gap_seconds == 0.0
    config.write_text("outbox:\n  max_attempts: 3\n")
    settings = load_settings(config)
    assert settings.outbox_poll_seconds == POLL_SECONDS and settings.realtime_read_gap_seconds == READ_GAP_SECONDS
    for text, says in (("outbox:\n  poll_seconds: 0\n", "outbox.poll_seconds must be a positive number"),
                       ("hub:\n  realtime_read_gap_seconds: soon\n", "realtime_read_gap_seconds must be between")):
        config.write_text(text)
        with pytest.raises(ConfigError, match=says):
            load_settings(config)
