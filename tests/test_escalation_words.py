"""An escalation gives the new ticket the words of the conversation's messages so far (the customer's and the
bot's, not the hub's own notices), read once; the conversation itself keeps no words.

From 2026-12-02 to 2026-12-03 a bot conversation kept its messages' words (hub.convwords) so that the
escalation need not read them. That made the conversation, which every message rewrites and the change stream
looks up, about 2.3 KB instead of about 430 bytes (docs/ingest.md, docs/performance.md)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hub.models import ConversationState
from hub.ticketindex import words_of
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import running
from tests.helpers import FindReads
from tests.test_ticket_index_incremental import assert_same_as_refresh, say


def message_reads() -> FindReads:
    """The hub's reads of a conversation's messages (`find` on messages by conversation_id)."""
    return FindReads("messages", lambda query: "conversation_id" in query)


@pytest.fixture
async def watched(settings: Settings, shop_bot: Any) -> AsyncIterator[tuple[Runtime, FindReads]]:
    reads = message_reads()
    async with running(settings, shop_bot, db_listeners=[reads]) as rt:
        yield rt, reads


async def test_the_escalation_reads_the_conversations_messages_once_for_the_tickets_words(
        watched: tuple[Runtime, FindReads]) -> None:
    rt, reads = watched
    hub = rt.hub
    assert hub is not None
    thread = uuid.uuid4().hex
    await say(hub, thread, "What are your opening hours")
    conversation = await hub.store.conversations.find_one({"thread_key": thread})
    assert conversation is not None and "words" not in conversation and "words_seq" not in conversation
    mark = len(reads.filters)
    await say(hub, thread, "The blue kettle arrived broken, I want to talk to a human")
    conversation = await hub.store.conversations.find_one({"thread_key": thread})
    assert conversation is not None and conversation["state"] == ConversationState.ESCALATED.value
    assert [f["conversation_id"] for f in reads.filters[mark:]] == [conversation["_id"]]  # one read
    # started ahead, beside the transaction's first statements rather than after them (hub.readsahead)
    assert reads.in_transaction[mark:] == [False]
    ticket = await assert_same_as_refresh(hub, conversation["ticket_id"], "escalated")
    bot_answer = await hub.store.messages.find_one({"conversation_id": conversation["_id"], "author.kind": "bot"})
    assert bot_answer is not None and words_of(bot_answer["text"])
    assert words_of(bot_answer["text"]) <= set(ticket["words"])  # the bot's answer's words
    assert {"kettle", "hours", "ana", "lima"} <= set(ticket["words"])  # the customer's, the contact's
    assert not {"number", "queue"} & set(ticket["words"])  # the hub's own notice is no search word


async def test_a_conversation_that_kept_words_before_loses_them_at_its_handoff(
        watched: tuple[Runtime, FindReads]) -> None:
    """A conversation opened by the release that kept words carries `words` and `words_seq`: the handoff drops them."""
    rt, _reads = watched
    hub = rt.hub
    assert hub is not None
    thread = uuid.uuid4().hex
    await say(hub, thread, "What are your opening hours")
    await hub.store.conversations.update_one({"thread_key": thread},
                                             {"$set": {"words": ["what", "are", "opening"], "words_seq": 1}})
    await say(hub, thread, "I want to talk to a human")
    conversation = await hub.store.conversations.find_one({"thread_key": thread})
    assert conversation is not None and conversation.get("ticket_id") is not None
    assert "words" not in conversation and "words_seq" not in conversation
    ticket = await assert_same_as_refresh(hub, conversation["ticket_id"], "escalated, words of an earlier release")
    assert {"opening", "hours", "human"} <= set(ticket["words"])
