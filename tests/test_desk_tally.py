"""The desk's sidebar numbers (`hub.desktally`): exact for every write finished before the call, and one pass
of the active tickets for a burst of agents asking at once, where each number cost a query per agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from benchmarks.ticket_list import insert
from hub.desktally import DeskTally
from hub.store import Doc, ObjectId, Store
from tests.helpers import FindReads, scratch_store
from tests.test_ticket_list_cost import _ticket

ME = ObjectId()


@pytest.fixture
async def store(mongo_uri: str) -> AsyncIterator[Store]:
    async with scratch_store(mongo_uri, "test_desk_tally") as s:
        yield s


def _tickets(start: int, *specs: tuple[str, str, ObjectId | None]) -> list[Doc]:
    out = []
    for n, (status, queue, assignee) in enumerate(specs, start=start):
        t = _ticket(n, status)
        out.append({**t, "queue": queue, "assignee_id": assignee})
    return out


async def test_the_numbers_are_those_of_the_active_tickets(store: Store) -> None:
    await insert(store, _tickets(1, ("new", "general", None), ("open", "general", ME), ("pending", "orders", ME),
                                 ("new", "orders", ObjectId()), ("solved", "orders", ME), ("closed", "general", None)))
    tally = await DeskTally(store).current()
    assert tally.views(ME, ["general", "orders", "returns"]) == {
        "active": 4, "mine": 2, "unassigned": 1, "queues": {"general": 2, "orders": 2, "returns": 0}}
    assert dict(tally.new_by_queue) == {"general": 1, "orders": 1}


async def test_a_burst_of_reloads_costs_at_most_two_reads(mongo_uri: str) -> None:
    reads = FindReads("tickets", lambda _query: True)
    async with scratch_store(mongo_uri, "test_desk_tally", [reads]) as store:
        await insert(store, _tickets(1, *[("new", "general", None)] * 30))
        desk = DeskTally(store)
        answers = await asyncio.gather(*(desk.current() for _ in range(20)))
        assert {a.active for a in answers} == {30}
        burst = len(reads.filters)
        assert 1 <= burst <= 2  # twenty agents' reloads: one pass, or one running and the one after it
        await desk.current()
        assert len(reads.filters) == burst + 1  # a later call reads anew: nothing is kept to go stale


class _Held(DeskTally):
    """Holds each pass's result after reading it, until the test lets it go."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.read = asyncio.Event()
        self.release = asyncio.Event()

    async def _read(self) -> list[Doc]:
        docs = await super()._read()
        self.read.set()
        await self.release.wait()
        return docs


async def test_a_call_during_a_pass_counts_what_was_written_before_it(store: Store) -> None:
    await insert(store, _tickets(1, ("new", "general", None)))
    desk = _Held(store)
    first = asyncio.ensure_future(desk.current())
    await desk.read.wait()  # the first pass has read one ticket and is still running
    await insert(store, _tickets(2, ("new", "general", None)))
    second = asyncio.ensure_future(desk.current())  # began after the write: the running pass is too old for it
    desk.release.set()
    assert (await first).active == 1
    assert (await second).active == 2
    assert desk.passes == 2


class _FailsOnce(DeskTally):
    async def _read(self) -> list[Doc]:
        if self.passes == 1:
            raise ConnectionError("database unavailable")
        return await super()._read()


async def test_a_failed_pass_is_told_to_its_callers_and_the_next_call_reads_anew(store: Store) -> None:
    await insert(store, _tickets(1, ("open", "orders", ME)))
    desk = _FailsOnce(store)
    with pytest.raises(ConnectionError):
        await desk.current()
    assert (await desk.current()).views(ME, ["orders"])["mine"] == 1
