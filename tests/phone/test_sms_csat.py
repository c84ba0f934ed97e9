"""CSAT by SMS: the request says "Reply 1-5"; a bare digit while the rating is pending is the rating, once."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.phone.test_sms import sms, text_in
from tests.phone.twilio_standin import TwilioStandIn


async def sent_body(twilio_api: TwilioStandIn, containing: str) -> str:
    """The next SMS the hub sends through the Messages API whose text contains `containing`."""
    while True:
        body = (await twilio_api.next_request()).form.get("Body", "")
        if containing in body:
            return str(body)


async def test_a_digit_reply_to_the_rating_request_is_the_rating_and_a_second_is_refused(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    hub = phone_runtime.hub
    assert hub is not None
    store = hub.store
    await text_in(phone, sms("I want to talk to a human please", "SM" + "a" * 32))
    await hub.pipeline.drain()
    ticket = await store.tickets.find_one({})
    assert ticket is not None
    # While the ticket is open a digit is an ordinary message (nothing asked for a rating).
    await text_in(phone, sms("2", "SM" + "b" * 32))
    await hub.pipeline.drain()
    assert await store.messages.find_one({"channel": "sms", "direction": "in", "text": "2"}) is not None
    open_ticket = await store.tickets.find_one({"_id": ticket["_id"]})
    assert open_ticket is not None and open_ticket.get("csat") is None

    agent = await hub.accounts.create("alice", "correct horse battery", name="Alice", roles=[Role.AGENT])
    await hub.tickets.reply(ticket["_id"], agent, "Your parcel is on its way.", then_status="solved")
    request = await sent_body(twilio_api, "How happy are you")
    assert "Reply with a number from 1 to 5" in request and "Reply 1 for" not in request
    inbound_before = await store.messages.count_documents({"channel": "sms", "direction": "in"})

    await text_in(phone, sms(" 4. ", "SM" + "c" * 32))
    rated = await store.tickets.find_one({"_id": ticket["_id"]})
    assert rated is not None and rated["status"] == "solved"  # not reopened
    assert (rated["csat"]["score"], rated["csat"]["channel"]) == (4, "sms")
    assert await sent_body(twilio_api, "Thank you") == "Thank you for your rating!"

    await text_in(phone, sms("1", "SM" + "d" * 32))
    assert "rated already" in await sent_body(twilio_api, "rated")
    still = await store.tickets.find_one({"_id": ticket["_id"]})
    assert still is not None and still["csat"]["score"] == 4 and still["status"] == "solved"
    assert await store.messages.count_documents({"channel": "sms", "direction": "in"}) == inbound_before

    # Anything else after the rating is an ordinary message again.
    await text_in(phone, sms("It arrived broken", "SM" + "e" * 32))
    await hub.pipeline.drain()
    assert await store.messages.find_one({"channel": "sms", "direction": "in", "text": "It arrived broken"})
    # ... and so is a digit from then on: it answers the newer conversation, not the rated ticket.
    await text_in(phone, sms("3", "SM" + "f" * 32))
    await hub.pipeline.drain()
    assert await store.messages.find_one({"channel": "sms", "direction": "in", "text": "3"}) is not None
    final = await store.tickets.find_one({"_id": ticket["_id"]})
    assert final is not None and final["csat"]["score"] == 4
