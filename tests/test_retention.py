"""Retention: closed conversations past a channel's limit are deleted or anonymised, once across two hubs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest

from hub.blobs import BlobStore
from hub.hub import Hub
from hub.models import InboundMessage, Sender, ThreadHints
from hub.privacy import ERASED_TEXT
from hub.retention import RetentionConfigError, RetentionRule, parse_rules
from hub.store import ObjectId, Store
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.privacy_helpers import customer_writes

RULES = [RetentionRule("widget", 30, "anonymise"), RetentionRule("sms", 30, "delete")]


@asynccontextmanager
async def second_hub(settings: Settings, bot: Any) -> AsyncIterator[Hub]:
    """Another hub process's view: its own client on the same database (its loops are not needed)."""
    assert settings.mongodb_uri is not None
    store = Store(settings.mongodb_uri, settings.db_name)
    hub = Hub(store, bot, {}, settings.queues, settings.default_queue, blobs=BlobStore(store))
    hub.retention.rules = RULES
    try:
        yield hub
    finally:
        await store.close()


async def _closed(runtime: Runtime, who: str, channel: str, text: str = "where is my order?") -> ObjectId:
    assert runtime.hub is not None
    result = await customer_writes(runtime, who, text, channel=channel, name=who,
                                   files=(("receipt.png", b"\x89PNG receipt of " + who.encode()),))
    conversation_id = ObjectId(result.conversation_id)
    assert await runtime.hub.end_conversation(conversation_id) == "closed"
    return conversation_id


async def test_old_closed_conversations_go_once_across_two_hubs(runtime: Runtime, shop_bot: Any) -> None:
    hub = runtime.hub
    assert hub is not None
    hub.retention.rules = RULES
    old_widget = await _closed(runtime, "+15550000001", "widget")
    old_sms = await _closed(runtime, "+15550000002", "sms")
    recent = await _closed(runtime, "+15550000003", "widget")
    still_open = ObjectId((await customer_writes(runtime, "+15550000004", "where is my order?")).conversation_id)
    other_channel = await _closed(runtime, "+15550000005", "telegram")
    # a widget customer whose ticket was solved long ago: its subject goes with the conversation
    helped = await customer_writes(runtime, "+15550000006", "I want to talk to a human")
    ticket = await hub.store.tickets.find_one({"contact_id": ObjectId(helped.contact_id)})
    assert ticket is not None and ticket["subject"]
    await hub.tickets.set_status(ticket["_id"], "solved", None)
    closed_at = (await hub.store.conversations.find_one({"_id": ObjectId(helped.conversation_id)}) or {})["closed_at"]
    # `recent` closed twenty days after the others (the clock is injected, not waited for)
    await hub.store.conversations.update_one({"_id": recent}, {"$set": {"closed_at": closed_at + timedelta(days=20)}})
    messages_before = await hub.store.messages.count_documents({"conversation_id": old_widget})
    now = closed_at + timedelta(days=31)

    async with second_hub(runtime.settings, shop_bot) as other:
        first, second = await asyncio.gather(hub.apply_retention(now), other.apply_retention(now))
        assert sorted([first.ran, second.ran]) == [False, True]  # both ticked, one did the work
        done = first if first.ran else second
        assert done.done["widget"]["conversations"] == 2 and done.done["sms"]["conversations"] == 1
        assert done.done["widget"]["tickets"] == 1
        assert done.done["widget"]["files"] == 1 and done.done["sms"]["files"] == 1
        # While the lease lasts the loser keeps losing; after it expires either may run, and finds nothing.
        loser = other if first.ran else hub
        assert not (await loser.apply_retention(now + timedelta(seconds=1))).ran
        late = await loser.apply_retention(now + timedelta(hours=1))
        assert late.ran and late.conversations == 0

    anonymised = await hub.store.messages.find({"conversation_id": old_widget}).to_list()
    assert len(anonymised) == messages_before and {m["text"] for m in anonymised} == {ERASED_TEXT}
    assert all(m["attachments"] == [] for m in anonymised)
    assert await hub.store.conversations.find_one({"_id": old_sms}) is None
    assert await hub.store.messages.count_documents({"conversation_id": old_sms}) == 0
    for kept in (recent, still_open, other_channel):
        texts = {m["text"] for m in await hub.store.messages.find({"conversation_id": kept}).to_list()}
        assert "where is my order?" in texts, kept
    files = await hub.store.db["attachments.files"].find({}, projection={"filename": 1}).to_list()
    assert len(files) == 2  # the recent widget and the telegram conversations keep theirs
    solved = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert solved is not None and solved["subject"] == ERASED_TEXT and solved["number"] == ticket["number"]
    runs = await hub.store.audit.find({"action": "retention.run"}).to_list()
    assert len(runs) == 1 and runs[0]["details"]["channels"]["sms"]["action"] == "delete"


async def test_each_run_starts_where_the_last_stopped_and_a_reopened_chat_waits_for_its_new_close(
        runtime: Runtime, shop_bot: Any) -> None:
    hub = runtime.hub
    assert hub is not None
    hub.retention.rules = [RetentionRule("widget", 30, "anonymise")]
    first = await _closed(runtime, "+15550000011", "widget")
    back = await _closed(runtime, "+15550000012", "widget")
    closed_at = (await hub.store.conversations.find_one({"_id": first}) or {})["closed_at"]
    # `back` was reopened by its customer before the run: still open, its old `closed_at` kept
    await hub.store.conversations.update_one({"_id": back}, {"$set": {"open": True}})
    now = closed_at + timedelta(days=31)
    assert (await hub.apply_retention(now)).conversations == 1
    mark = await hub.store.settings.find_one({"_id": "retention"})
    assert mark is not None and mark["done_before"]["widget"] == now - timedelta(days=30)
    # it closes again 10 days later: the next run past its new cutoff retains it, and only it
    await hub.store.conversations.update_one({"_id": back}, {"$set": {
        "open": False, "closed_at": closed_at + timedelta(days=10)}})
    assert (await hub.apply_retention(now + timedelta(days=5))).conversations == 0
    later = await hub.apply_retention(now + timedelta(days=10))
    assert later.conversations == 1
    texts = {m["text"] for m in await hub.store.messages.find({"conversation_id": back}).to_list()}
    assert texts == {ERASED_TEXT}


async def test_a_conversation_a_reply_reopens_while_retention_runs_keeps_the_reply(
        runtime: Runtime, shop_bot: Any) -> None:
    """The day's conversations are read once, then retained a batch at a time: a customer's reply that
    reopens one of them before its batch (an answer to the old thread) keeps it, and the reply, whole."""
    hub = runtime.hub
    assert hub is not None
    hub.retention.rules = [RetentionRule("sms", 30, "delete")]
    hub.retention.batch = 1
    first = await _closed(runtime, "+15550000021", "sms")
    second = await _closed(runtime, "+15550000022", "sms")
    closed_at = (await hub.store.conversations.find_one({"_id": first}) or {})["closed_at"]
    privacy, reopened = hub.retention.privacy, []
    redact_tickets = privacy.redact_closed_tickets_of

    async def a_reply_during_the_first_batch(ids: list[ObjectId]) -> int:
        if not reopened:  # the first batch: the other conversation's customer answers its old thread
            other = await hub.store.conversations.find_one({"_id": second if ids == [first] else first})
            assert other is not None
            await hub.ingest(InboundMessage(
                channel="sms", external_id=uuid.uuid4().hex, thread_key=other["thread_key"],
                sender=Sender(external_id=other["thread_key"], display_name="Back Again"),
                text="one more question about that order", hints=ThreadHints(conversation_token=other["token"])))
            await hub.pipeline.drain()
            reopened.append(other["_id"])
        return await redact_tickets(ids)

    privacy.redact_closed_tickets_of = a_reply_during_the_first_batch  # type: ignore[method-assign]
    run = await hub.apply_retention(closed_at + timedelta(days=31))
    assert run.conversations == 1 and len(reopened) == 1
    [kept] = reopened
    gone = first if kept == second else second
    assert await hub.store.conversations.count_documents({"_id": gone}) == 0
    assert await hub.store.messages.count_documents({"conversation_id": gone}) == 0
    conversation = await hub.store.conversations.find_one({"_id": kept})
    assert conversation is not None and conversation["open"]
    texts = [m["text"] for m in await hub.store.messages.find({"conversation_id": kept}).to_list()]
    assert "where is my order?" in texts and "one more question about that order" in texts
    assert ERASED_TEXT not in texts


def test_bad_retention_config_is_one_clear_error() -> None:
    assert parse_rules({"widget": {"days": 7, "action": "delete"}}) == [RetentionRule("widget", 7, "delete")]
    for raw, says in (({"widget": {"days": 0}}, "days"), ({"widget": {"days": 7, "action": "shred"}}, "action"),
                      ({"widget": 7}, "mapping"), ({"widget": {"days": True}}, "days")):
        with pytest.raises(RetentionConfigError, match=says):
            parse_rules(raw)
