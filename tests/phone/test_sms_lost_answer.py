"""A reply Twilio took whose answer was lost is not sent again; the lookup that decides never takes
an earlier reply with the same text for it (channels/phone/sms_sender.py, docs/ingest.md)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.helpers import eventually
from tests.phone.test_sms import OPENING_HOURS_SMS, delivered, sms, text_in
from tests.phone.twilio_standin import Answer, TwilioStandIn, fixture
from tests.phone.twilio_webhooks import CUSTOMER, OUR_NUMBER


def outage(*, after_accepting: bool) -> Answer:
    """Twilio's 503, retried after a second: with the message taken before it, or not."""
    return Answer(503, fixture("api_error_503.json"), {"Retry-After": "1"}, after_accepting=after_accepting)


async def test_a_reply_twilio_took_whose_answer_was_lost_is_not_sent_again(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    twilio_api.script = [outage(after_accepting=True)]
    await text_in(phone, fixture("sms_incoming.json"))
    reply = await delivered(phone_runtime)
    assert [r.answered for r in twilio_api.requests] == [503]  # never sent a second time
    [taken] = twilio_api.created
    assert taken.form["Body"] == OPENING_HOURS_SMS
    assert reply["provider_id"] == taken.sid  # so Twilio's later status callbacks find the reply
    assert reply["delivery"]["attempts"] == 2
    [lookup] = twilio_api.lookups
    assert (lookup["To"], lookup["From"]) == (CUSTOMER, OUR_NUMBER)


async def test_an_earlier_reply_with_the_same_text_is_not_taken_for_the_lost_one(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    """The same question twice: the second answer's first attempt is refused before Twilio took it, so the
    lookup finds only the first answer's text, whose SID the hub holds, and sends the second."""
    await text_in(phone, fixture("sms_incoming.json"))
    first = await delivered(phone_runtime)
    twilio_api.script = [outage(after_accepting=False)]
    await text_in(phone, sms("What are your opening hours?", "SM" + "a1" * 16))
    hub = phone_runtime.hub
    assert hub is not None

    async def second() -> dict[str, Any] | None:
        return await hub.store.messages.find_one({"channel": "sms", "direction": "out", "_id": {"$ne": first["_id"]},
                                                  "delivery.status": "sent"})

    answer = await eventually(second, what="the second answer sent")
    assert answer["text"] == first["text"]
    assert [r.answered for r in twilio_api.requests] == [201, 503, 201]
    assert [r.form["Body"] for r in twilio_api.created] == [OPENING_HOURS_SMS, OPENING_HOURS_SMS]
    assert (first["provider_id"], answer["provider_id"]) == (twilio_api.created[0].sid, twilio_api.created[1].sid)
    assert len(twilio_api.lookups) == 1  # it looked, and found the text only under a SID already held


async def test_a_lookup_twilio_refuses_sends_again_and_says_so(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """An API key that may send but not read the list: the retry sends again (at least once), with a warning."""
    twilio_api.script = [outage(after_accepting=True)]
    twilio_api.lookup_script = [Answer(403, {"code": 20403, "status": 403, "message": "Forbidden",
                                             "more_info": "https://www.twilio.com/docs/errors/20403"})]
    with caplog.at_level(logging.WARNING, logger="channels.phone.sms_sender"):
        await text_in(phone, fixture("sms_incoming.json"))
        reply = await delivered(phone_runtime)
    assert [r.answered for r in twilio_api.requests] == [503, 201]
    assert reply["provider_id"] == twilio_api.created[1].sid
    assert any("cannot check whether" in r.getMessage() and "sending again" in r.getMessage() for r in caplog.records)


async def test_a_long_reply_whose_part_twilio_took_unanswered_resumes_after_it(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    """Part 2 of 3 taken, its answer lost: the retry finds it, records it, and sends part 3 only."""
    hub = phone_runtime.hub
    assert hub is not None
    await text_in(phone, sms("I want to talk to a human", "SM" + "f7" * 16))
    handoff = await twilio_api.next_request()
    ticket = await hub.store.tickets.find_one({})
    assert ticket is not None
    agent = await hub.accounts.create("dana", "correct horse battery", name="Dana", roles=[Role.AGENT])
    long_reply = " ".join(f"step{i}" for i in range(500))  # about 3400 characters: three parts
    twilio_api.script = [Answer(201), outage(after_accepting=True)]
    message = await hub.tickets.reply(ticket["_id"], agent, long_reply)

    async def sent() -> dict[str, Any] | None:
        return await hub.store.messages.find_one({"_id": message["_id"], "delivery.status": "sent"})

    done = await eventually(sent, what="the long agent reply to be sent")
    parts = [r for r in twilio_api.created if r.sid != handoff.sid]
    assert len(parts) == 3 and " ".join(r.form["Body"] for r in parts) == long_reply  # each part once
    assert [r.answered for r in twilio_api.requests[1:]] == [201, 503, 201]
    assert len(twilio_api.lookups) == 1  # only the part in doubt was looked for
    recorded = await hub.store.db["sms_parts"].find({"message_id": str(message["_id"])}, sort=[("part", 1)]).to_list()
    assert [d["sid"] for d in recorded] == [r.sid for r in parts]
    assert done["provider_id"] == parts[0].sid


async def test_a_lookup_that_fails_for_a_while_is_retried_before_anything_is_sent(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    twilio_api.script = [outage(after_accepting=True)]
    twilio_api.lookup_script = [outage(after_accepting=False)]
    await text_in(phone, fixture("sms_incoming.json"))
    reply = await delivered(phone_runtime)
    assert [r.answered for r in twilio_api.requests] == [503]  # the list's outage sent nothing
    assert len(twilio_api.lookups) == 2
    assert reply["provider_id"] == twilio_api.created[0].sid and reply["delivery"]["attempts"] == 3
