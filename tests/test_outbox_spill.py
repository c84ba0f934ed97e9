"""An entry its own process cannot send at once wakes the other processes' workers, through the change stream.

Two `Outbox` objects on one database stand for two hub processes; each process that runs a worker
follows the realtime bus (its own change stream) as `Hub.start` wires it. Every idle poll is set far
beyond the tests' waits, so a delivery by the other process was started by the spilled insert.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hub.models import AuthorKind, OutboundMessage, SendResult
from hub.outbox import Outbox
from hub.realtime import RealtimeBus
from hub.store import Store
from tests.helpers import bare_conversation, eventually, holds, outbox_entry, scratch_store

NO_POLL = 3600.0


class Sender:
    """Records who sent what; while `gate` is set, attempts wait on it (a slow provider)."""

    channel = "test"

    def __init__(self, name: str, log: list[tuple[str, str]]) -> None:
        self.name = name
        self.log = log
        self.gate: asyncio.Event | None = None

    async def send(self, message: OutboundMessage) -> SendResult:
        if self.gate is not None:
            await self.gate.wait()
        self.log.append((self.name, message.text))
        return SendResult(provider_id=f"{self.name}-{len(self.log)}")


@pytest.fixture
async def store(mongo_uri: str) -> AsyncIterator[Store]:
    async with scratch_store(mongo_uri, "test_outbox_spill") as store:
        yield store


@contextlib.asynccontextmanager
async def process(store: Store, name: str, log: list[tuple[str, str]], concurrency: int = 8,
                  worker: bool = True, bus: RealtimeBus | None = None) -> AsyncIterator[tuple[Outbox, Sender]]:
    """One hub process's outbox: its worker and its change stream following spilled entries, as `Hub.start`
    starts them (`worker=False`: a process that only queues, like a command-line tool)."""
    sender = Sender(name, log)
    outbox = Outbox(store, {"test": sender}, concurrency=concurrency, poll_seconds=NO_POLL)
    tasks: list[asyncio.Task[None]] = []
    if worker:
        bus = bus or RealtimeBus(store)
        outbox.follow_spills(bus)
        tasks = [asyncio.create_task(bus.run()), asyncio.create_task(outbox.run())]
        await asyncio.wait_for(bus.ready.wait(), timeout=10)
        await eventually(lambda: holds(outbox.passes >= 1), what=f"{name}'s first pass")  # then only wakes
    try:
        yield outbox, sender
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await outbox.stop()


async def test_an_entry_queued_where_no_worker_runs_is_sent_by_another_process(store: Store) -> None:
    log: list[tuple[str, str]] = []
    bus = RealtimeBus(store)
    seen = bus.subscribe()  # a desk socket's feed on the serving process
    async with process(store, "serve", log, bus=bus), process(store, "tool", log, worker=False) as (tool, _):
        await tool.post(await bare_conversation(store), AuthorKind.AGENT, "from a tool")
        assert (await outbox_entry(store, "from a tool")).get("spill") is True
        await eventually(lambda: holds(log == [("serve", "from a tool")]), what="the serving process sending it")

        changes = []
        while not any(c.collection == "messages" and c.document["delivery"]["status"] == "sent" for c in changes):
            changes.append(await asyncio.wait_for(seen.get(), timeout=10))  # up to the message's delivery status
    assert (await outbox_entry(store, "from a tool"))["status"] == "sent"
    assert [c.collection for c in changes] == ["messages"] * len(changes)  # the outbox entry woke the worker only


async def test_a_process_with_every_slot_busy_lets_another_send(store: Store) -> None:
    log: list[tuple[str, str]] = []
    async with process(store, "busy", log, concurrency=1) as (busy, slow), process(store, "idle", log):
        slow.gate = asyncio.Event()  # the busy process's provider hangs on its first send
        await busy.post(await bare_conversation(store), AuthorKind.AGENT, "first")
        await eventually(lambda: _status_is(store, "first", "sending"), what="the busy process taking 'first'")
        assert (await outbox_entry(store, "first")).get("spill") is None  # it had a free slot: nobody else woken

        await busy.post(await bare_conversation(store), AuthorKind.AGENT, "second")  # its only slot is taken
        assert (await outbox_entry(store, "second")).get("spill") is True
        await eventually(lambda: holds(log == [("idle", "second")]), what="the idle process sending 'second'")
        assert (await outbox_entry(store, "first"))["status"] == "sending"  # still waiting on the slow provider
        slow.gate.set()
        await eventually(lambda: _status_is(store, "first", "sent"), what="'first' sent once its provider answers")
    assert sorted(log) == [("busy", "first"), ("idle", "second")]


async def test_an_entry_its_own_process_sends_at_once_is_not_spilled(store: Store) -> None:
    log: list[tuple[str, str]] = []
    async with process(store, "one", log) as (one, _), process(store, "two", log):
        await one.post(await bare_conversation(store), AuthorKind.AGENT, "mine")
        await eventually(lambda: _status_is(store, "mine", "sent"), what="'mine' sent")
    assert "spill" not in await outbox_entry(store, "mine")
    assert log == [("one", "mine")]


async def _status_is(store: Store, text: str, status: str) -> bool:
    return (await outbox_entry(store, text))["status"] == status



async def test_a_burst_larger_than_the_free_slots_spills_its_excess(store: Store) -> None:
    """Three replies queued in one transaction on a process with two free slots: the third is marked at once (the
    first two have the slots), and another process sends while the busy process's slots wait on a slow provider."""
    log: list[tuple[str, str]] = []
    async with process(store, "busy", log, concurrency=2) as (busy, slow), process(store, "idle", log):
        slow.gate = asyncio.Event()
        conversations = [await bare_conversation(store) for _ in range(3)]

        async def burst(session: Any) -> None:
            for n, conversation in enumerate(conversations):
                await busy.post(conversation, AuthorKind.AGENT, f"reply {n}", session=session)

        await store.run_in_transaction(burst)
        assert [(await outbox_entry(store, f"reply {n}")).get("spill") for n in range(3)] == [None, None, True]
        # Which of the three is the excess is not promised (all are equally due), nor how many the idle process
        # takes: woken by the spilled insert before the busy worker's own pass, it may claim all three. What is
        # promised: the idle process sends while the busy one's slots hang on its provider (with no spill mark
        # nothing would wake it: its poll is an hour).
        try:
            await eventually(lambda: holds(any(who == "idle" for who, _ in log)),
                             what="the idle process sending the excess")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; sent so far: {log}") from None
        slow.gate.set()
        await eventually(lambda: holds(len(log) == 3), what="all three sent")
    assert sorted(text for _, text in log) == ["reply 0", "reply 1", "reply 2"]  # each once
