"""SMS text handling: keywords, numbered options in and out, long replies split without resending parts."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from channels.phone.options import with_numbered_options
from channels.phone.optouts import Keyword, keyword_of
from channels.text import split_text
from hub.models import AuthorKind, QuickReply, Role
from switchboard.bootstrap import Runtime
from tests.helpers import eventually
from tests.phone.test_sms import THREAD, delivered, sms, text_in
from tests.phone.twilio_standin import Answer, TwilioStandIn, fixture


@pytest.mark.parametrize(("body", "expected"), [
    ("STOP", Keyword.OPT_OUT), ("  stop ", Keyword.OPT_OUT), ("Unsubscribe", Keyword.OPT_OUT),
    ("quit.", Keyword.OPT_OUT), ("STOPALL", Keyword.OPT_OUT), ("cancel", Keyword.OPT_OUT),
    ("start", Keyword.OPT_IN), ("YES", Keyword.OPT_IN), ("unstop", Keyword.OPT_IN),
    ("please stop texting me", None), ("I want to cancel my order", None), ("", None),
])
def test_keywords_are_whole_messages(body: str, expected: Keyword | None) -> None:
    assert keyword_of(body) is expected


def test_twilios_own_opt_out_type_wins() -> None:
    assert keyword_of("Arrête", "STOP") is Keyword.OPT_OUT
    assert keyword_of("HELP", "HELP") is None


def test_long_text_is_split_at_word_boundaries_within_the_limit() -> None:
    text = " ".join(f"word{i}" for i in range(600))
    parts = split_text(text, 1600)
    assert len(parts) == 3
    assert all(len(p) <= 1600 for p in parts)
    assert " ".join(parts) == text
    assert split_text("short", 1600) == ["short"]


def test_numbered_options_replace_buttons() -> None:
    replies = (QuickReply("Yes", "/affirm"), QuickReply("No", "/deny"))
    assert with_numbered_options("Did that help?", replies) == "Did that help?\n\nReply 1 for Yes, 2 for No."
    assert with_numbered_options("Did that help?", replies, spoken=True) == (
        "Did that help? Press 1 or say Yes. Press 2 or say No.")
    listed = "Which one?\n1. Yes\n2. No"
    assert with_numbered_options(listed, replies) == listed


async def test_a_numbered_answer_is_taken_as_the_option_it_names(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    assert phone_runtime.hub is not None
    hub = phone_runtime.hub
    await text_in(phone, fixture("sms_incoming.json"))
    await delivered(phone_runtime)
    await twilio_api.next_request()
    conversation = await hub.store.conversations.find_one({"channel": "sms", "thread_key": THREAD})
    assert conversation is not None
    await hub.outbox.post(conversation, AuthorKind.BOT, "Did that help?", author_name="Bot",
                          quick_replies=(QuickReply("Yes", "/affirm"), QuickReply("No", "/deny")))
    hub.outbox.wake()
    request = await twilio_api.next_request()
    assert request.form["Body"] == "Did that help?\n\nReply 1 for Yes, 2 for No."

    await text_in(phone, sms("2", "SM" + "e5" * 16))
    stored = await hub.store.messages.find_one({"external_id": "SM" + "e5" * 16})
    assert stored is not None
    assert stored["text"] == "/deny" and stored["metadata"]["typed"] == "2"


async def test_a_long_reply_is_split_and_a_retry_does_not_resend_accepted_parts(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    assert phone_runtime.hub is not None
    hub = phone_runtime.hub
    await text_in(phone, sms("I want to talk to a human", "SM" + "f6" * 16))
    handoff = await twilio_api.next_request()
    assert "ticket number" in handoff.form["Body"]
    ticket = await hub.store.tickets.find_one({})
    assert ticket is not None
    agent = await hub.accounts.create("carol", "correct horse battery", name="Carol", roles=[Role.AGENT])
    long_reply = " ".join(f"step{i}" for i in range(500))  # about 3400 characters: three parts
    # Part 1 is accepted, part 2 hits a Twilio outage once, then everything goes through.
    twilio_api.script = [Answer(201), Answer(503, fixture("api_error_503.json"))]
    message = await hub.tickets.reply(ticket["_id"], agent, long_reply)

    async def sent() -> dict[str, Any] | None:
        return await hub.store.messages.find_one({"_id": message["_id"], "delivery.status": "sent"})

    done = await eventually(sent, what="the long agent reply to be sent")
    bodies = [r.form["Body"] for r in twilio_api.created if r.form["Body"] != handoff.form["Body"]]
    assert len(bodies) == 3 and " ".join(bodies) == long_reply
    assert [r.answered for r in twilio_api.requests[1:]] == [201, 503, 201, 201]
    assert done["delivery"]["attempts"] == 2
    assert done["provider_id"] == twilio_api.created[1].sid  # the first part's SID


async def test_a_late_replay_of_an_old_stop_does_not_undo_a_later_start(
    phone: TestClient[Any, Any], phone_runtime: Runtime
) -> None:
    assert phone_runtime.hub is not None
    store = phone_runtime.hub.store
    stop = sms("STOP", "SM" + "07" * 16)
    await text_in(phone, stop)
    await text_in(phone, sms("START", "SM" + "08" * 16))
    await text_in(phone, stop)  # Twilio redelivering the old STOP
    optout = await store.db["sms_optouts"].find_one({"_id": THREAD})
    assert optout is not None and optout["opted_out"] is False
    assert await store.messages.count_documents({"external_id": stop["MessageSid"]}) == 1
    contact = await store.contacts.find_one({"phones": "+14155550123"})
    assert contact is not None and contact["attributes"]["sms_opted_out"] is False
