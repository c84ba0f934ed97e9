"""An escalation that opens a ticket reads the customer's place in line beside its transaction, not inside it
(hub.readsahead); a ticket the conversation joins is placed by its own time, read inside the transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from hub.models import Sender, utcnow
from hub.readsahead import ReadsAhead
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import running
from tests.helpers import FindReads
from tests.test_ticket_index_incremental import escalated, say

HUMAN = "I want to talk to a human"


def place_reads() -> FindReads:
    """The hub's reads of a queue's waiting tickets (`find` on tickets by status and queue)."""
    return FindReads("tickets", lambda query: "queue" in query and query.get("status") == "new")


@pytest.fixture
async def watched(settings: Settings, shop_bot: Any) -> AsyncIterator[tuple[Runtime, FindReads]]:
    reads = place_reads()
    async with running(settings, shop_bot, db_listeners=[reads]) as rt:
        yield rt, reads


async def _notice(rt: Runtime, ticket_id: Any) -> str:
    assert rt.hub is not None
    ticket = await rt.hub.store.tickets.find_one({"_id": ticket_id})
    assert ticket is not None
    notices = await rt.hub.store.messages.find({"conversation_id": {"$in": ticket["conversation_ids"]},
                                                "author.kind": "system"}, sort=[("created_at", -1)]).to_list()
    return str(notices[0]["text"])


async def test_a_new_ticket_is_placed_by_a_read_beside_the_transaction(watched: tuple[Runtime, FindReads]) -> None:
    rt, reads = watched
    hub = rt.hub
    assert hub is not None
    for who in ("Ada", "Bea"):
        await escalated(hub, HUMAN, Sender(f"demo:visitor:{who}", who))
    mark = len(reads.in_transaction)
    third = await escalated(hub, HUMAN, Sender("demo:visitor:Cy", "Cy"))
    assert reads.in_transaction[mark:] == [False]  # one read, outside the transaction
    assert "You are number 3 in the queue." in await _notice(rt, third)


async def test_a_joined_ticket_is_placed_by_its_own_time_inside_the_transaction(
        watched: tuple[Runtime, FindReads]) -> None:
    """Dee's second chat joins her waiting ticket, opened before Eve's and Fay's: she is still first in line,
    where the read started ahead (every waiting ticket before it, hers included) would have said fourth."""
    rt, reads = watched
    hub = rt.hub
    assert hub is not None
    dee = Sender("demo:visitor:Dee", "Dee")
    first = await escalated(hub, HUMAN, dee)
    for who in ("Eve", "Fay"):
        await escalated(hub, HUMAN, Sender(f"demo:visitor:{who}", who))
    mark = len(reads.in_transaction)
    thread = uuid.uuid4().hex
    await say(hub, thread, HUMAN, dee)
    conversation = await hub.store.conversations.find_one({"thread_key": thread})
    assert conversation is not None and conversation["ticket_id"] == first  # joined, not a second ticket
    assert reads.in_transaction[mark:] == [False, True]  # the read ahead, unused, then the ticket's own
    assert "You are number 1 in the queue." in await _notice(rt, first)


async def test_the_read_ahead_answers_only_for_a_ticket_opened_after_it_in_its_queue() -> None:
    async def waiting() -> int:
        return 2

    async def texts() -> list[str]:
        await asyncio.Event().wait()  # a read still running when the transaction stops
        return []

    since = utcnow()
    ahead = ReadsAhead(texts=asyncio.create_task(texts()), queue="general", since=since,
                       waiting=asyncio.create_task(waiting()))
    assert ahead.position_for({"queue": "general", "created_at": since + timedelta(milliseconds=3)}) is ahead.waiting
    assert ahead.position_for({"queue": "general", "created_at": since}) is ahead.waiting
    assert ahead.position_for({"queue": "general", "created_at": since - timedelta(seconds=1)}) is None  # joined
    assert ahead.position_for({"queue": "billing", "created_at": since + timedelta(seconds=1)}) is None  # fallback
    assert await ahead.waiting == 2
    ahead.let_go()
    with pytest.raises(asyncio.CancelledError):
        await ahead.texts  # nothing is left running
    assert await ahead.waiting == 2  # a finished read stays as it was
