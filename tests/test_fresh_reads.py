"""Reads shared by callers asking the same at the same time (`hub.freshreads`), never stale: a desk reload's three
requests share their sign-in check, and every open desk its list, yet a request arriving after a logout is
refused. The DeskTally tests (tests/test_desk_tally.py) cover the same mechanism for the sidebar's numbers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from hub.accounts import AccountService
from hub.freshreads import FreshReads
from hub.models import Role
from hub.store import Doc, Store
from hub.ticketindex import TicketIndex, TicketQuery
from tests.helpers import FindReads, scratch_store
from tests.test_ticket_list_cost import _seed


async def test_calls_for_one_key_share_a_read_and_other_keys_read_apart() -> None:
    reads: FreshReads[str, str] = FreshReads()
    made: list[str] = []

    async def read(key: str) -> str:
        made.append(key)
        await asyncio.sleep(0)
        return key.upper()

    answers = await asyncio.gather(*(reads.get(k, lambda k=k: read(k)) for k in ["a", "a", "b", "a", "b"]))
    assert answers == ["A", "A", "B", "A", "B"]
    assert sorted(made) == ["a", "b"]  # one read a key
    assert await reads.get("a", lambda: read("a")) == "A" and made.count("a") == 2  # a later call reads anew


class _HeldAccounts(AccountService):
    """Holds each session read after making it, until the test lets it go."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.read = asyncio.Event()
        self.release = asyncio.Event()
        self.reads = 0

    async def _read_session(self, key: str) -> Doc | None:
        found = await super()._read_session(key)
        self.reads += 1
        self.read.set()
        await self.release.wait()
        return found


@pytest.fixture
async def store(mongo_uri: str) -> AsyncIterator[Store]:
    async with scratch_store(mongo_uri, "test_fresh_reads") as s:
        yield s


@pytest.fixture
async def alice(store: Store) -> tuple[_HeldAccounts, str]:
    """Accounts whose session reads the test can hold, and the token of Alice, logged in (no session read yet)."""
    accounts = _HeldAccounts(store)
    accounts.release.set()
    await accounts.create("alice", "correct horse battery", roles=[Role.AGENT])
    info = await accounts.login("alice", "correct horse battery")
    assert info is not None
    return accounts, info.token


async def test_a_desk_reloads_requests_share_their_sign_in_check(alice: tuple[_HeldAccounts, str]) -> None:
    accounts, token = alice
    three = await asyncio.gather(*(accounts.session(token) for _ in range(3)))
    assert all(s is not None and s.agent["username"] == "alice" for s in three)
    assert accounts.reads == 1
    assert three[0] is not None and three[1] is not None and three[0].agent is not three[1].agent  # copies each


async def test_a_request_after_a_logout_is_refused_though_a_read_of_its_session_is_running(
        alice: tuple[_HeldAccounts, str]) -> None:
    accounts, token = alice
    accounts.release.clear()
    before = asyncio.ensure_future(accounts.session(token))
    await accounts.read.wait()  # a read of the live session has been made and is still running
    await accounts.logout(token)
    after = asyncio.ensure_future(accounts.session(token))  # began after the logout: too late for that read
    accounts.release.set()
    assert await before is not None
    assert await after is None
    assert accounts.reads == 2


async def test_desks_reloading_together_share_their_list_read(mongo_uri: str) -> None:
    reads = FindReads("tickets", lambda _query: True)
    async with scratch_store(mongo_uri, "test_fresh_reads", [reads]) as store:
        index = TicketIndex(store)
        await _seed(index, ["new"] * 30)
        alone = len(reads.filters)
        await index.listing(TicketQuery(size=25))
        one = len(reads.filters) - alone  # the reads of one list
        pages = await asyncio.gather(*(index.listing(TicketQuery(size=25)) for _ in range(10)))
        assert {tuple(t["number"] for t in p.tickets) for p in pages} == {tuple(range(30, 5, -1))}
        ten = len(reads.filters) - alone - one
        assert one <= ten <= 2 * one  # ten agents: the reads of one list, or one running and the one after it
        before = len(reads.filters)
        await asyncio.gather(index.listing(TicketQuery(size=25)), index.listing(TicketQuery(size=25, queue="x")))
        keys = [f["keys"] for f in reads.filters[before:]]
        assert keys.count("active") == one and keys.count("active.queue:x") >= 1  # another query is read apart
