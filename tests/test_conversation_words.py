"""hub.convwords: a bot conversation keeps its messages' words, and its escalation gives them to the ticket
without reading the messages; past its cap, or when the conversation changed meanwhile, the messages are read."""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pymongo import monitoring

from hub.convwords import MAX_CONVERSATION_WORDS
from hub.models import ConversationState
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import running
from tests.test_ticket_index_incremental import assert_same_as_refresh, say


@dataclass
class MessageReads(monitoring.CommandListener):
    """The hub's reads of a conversation's messages (`find` on messages by conversation_id)."""

    filters: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        query = event.command.get("filter") or {}
        if event.command_name == "find" and event.command.get("find") == "messages" and "conversation_id" in query:
            with self._lock:
                self.filters.append(dict(query))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def watched(settings: Settings, shop_bot: Any) -> AsyncIterator[tuple[Runtime, MessageReads]]:
    reads = MessageReads()
    async with running(settings, shop_bot, db_listeners=[reads]) as rt:
        yield rt, reads


async def test_the_escalation_takes_the_words_the_conversation_kept(watched: tuple[Runtime, MessageReads]) -> None:
    rt, reads = watched
    hub = rt.hub
    assert hub is not None
    thread = uuid.uuid4().hex
    await say(hub, thread, "What are your opening hours")
    conversation = await hub.store.conversations.find_one({"thread_key": thread})
    assert conversation is not None and {"opening", "hours"} <= set(conversation["words"])
    assert conversation["words_seq"] == 1
    await say(hub, thread, "The blue kettle arrived broken, I want to talk to a human")
    conversation = await hub.store.conversations.find_one({"thread_key": thread})
    assert conversation is not None and conversation["state"] == ConversationState.ESCALATED.value
    assert "words" not in conversation  # the ticket's from now on
    assert reads.filters == []  # no message read for the ticket's words
    ticket = await assert_same_as_refresh(hub, conversation["ticket_id"], "escalated from the kept words")
    assert {"kettle", "hours", "ana", "lima"} <= set(ticket["words"])
    assert not {"number", "queue"} & set(ticket["words"])  # the hub's own notice is no search word


async def test_past_its_cap_the_escalation_reads_the_messages(watched: tuple[Runtime, MessageReads]) -> None:
    rt, reads = watched
    hub = rt.hub
    assert hub is not None
    thread = uuid.uuid4().hex
    await say(hub, thread, "What are your opening hours")
    many = " ".join(f"w{n}" for n in range(MAX_CONVERSATION_WORDS))
    await say(hub, thread, f"opening hours {many}")
    conversation = await hub.store.conversations.find_one({"thread_key": thread})
    assert conversation is not None and "words" not in conversation  # bounded: dropped, not grown
    await say(hub, thread, "I want to talk to a human")
    conversation = await hub.store.conversations.find_one({"thread_key": thread})
    assert conversation is not None and conversation.get("ticket_id") is not None
    assert [f["conversation_id"] for f in reads.filters] == [conversation["_id"]]
    ticket = await assert_same_as_refresh(hub, conversation["ticket_id"], "escalated from the messages")
    assert {"w0", f"w{MAX_CONVERSATION_WORDS - 1}", "hours"} <= set(ticket["words"])


async def test_a_conversation_changed_since_it_was_read_makes_the_escalation_read(
        watched: tuple[Runtime, MessageReads]) -> None:
    """The handoff is written only on the words the escalation read (`words_seq`): words another message added
    meanwhile are not lost, the messages are read instead."""
    rt, reads = watched
    hub = rt.hub
    assert hub is not None
    thread = uuid.uuid4().hex
    await say(hub, thread, "What are your opening hours")
    stale = await hub.store.conversations.find_one({"thread_key": thread})
    assert stale is not None
    await say(hub, thread, "Do you ship the kettle abroad")  # moves words_seq on after `stale` was read
    message = await hub.store.messages.find_one({"conversation_id": stale["_id"], "text": {"$regex": "kettle"}})
    assert message is not None

    async def work(session: Any) -> dict[str, Any]:
        return await hub.tickets.escalate(stale, reason="test", queue=None, number=await hub.store.next_number(
            "ticket"), session=session, message={**message, "text": "a person please"})

    mark = len(reads.filters)
    ticket = await hub.store.run_in_transaction(work)
    assert [f["conversation_id"] for f in reads.filters[mark:]] == [stale["_id"]]
    assert {"kettle", "abroad", "hours"} <= set(ticket["words"])
    await assert_same_as_refresh(hub, ticket["_id"], "escalated from a stale copy")
