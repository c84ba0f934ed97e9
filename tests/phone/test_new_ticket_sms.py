"""An agent texts a customer first (hub.outbound, `channels.phone.sms_from`): a new ticket held by the agent, the
text sent through the Messages API stand-in from that number, and the customer's answer, a Twilio webhook, threads
into the ticket without the bot; a number typed with spaces or 00 is the number; a number without its country code,
a number that sent STOP and a customer whose texts are already open on a ticket are refused, naming why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.models import Role
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import http_client, login, running
from tests.phone.test_sms import sms, text_in
from tests.phone.twilio_standin import TwilioStandIn
from tests.phone.twilio_webhooks import ACCOUNT_SID, AUTH_TOKEN, CUSTOMER, OUR_NUMBER, PUBLIC_URL

WRITE = {"channel": "sms", "to": "00 1 (415) 555-0123", "name": "Rosa Diaz", "subject": "Your repair is ready",
         "text": "Hello Rosa, your kettle is repaired. Reply here to choose a delivery day."}


@pytest.fixture
async def phone_runtime(settings: Settings, shop_bot: Any, twilio_api: TwilioStandIn) -> AsyncIterator[Runtime]:
    """The phone channel with a number agents text from."""
    settings.channels["phone"] = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "public_url": PUBLIC_URL,
                                  "api_base_url": twilio_api.url, "timeout_seconds": 5, "sms_from": OUR_NUMBER}
    async with running(settings, shop_bot) as rt:
        yield rt


async def test_an_agent_texts_first_and_the_answer_threads_into_the_ticket(
        phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn) -> None:
    hub = phone_runtime.hub
    assert hub is not None
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice Ng", roles=[Role.AGENT])
    async with http_client(phone_runtime) as client:
        csrf = {"X-CSRF-Token": await login(client, "alice", "alice's long password")}
        assert (await (await client.get("/api/new-ticket")).json()) == {"channels": ["sms"]}
        for to in ("415 555 0123", "+1 41"):
            refused = await client.post("/api/tickets", json={**WRITE, "to": to}, headers=csrf)
            assert refused.status == 400
            assert "is not a phone number with its country code" in (await refused.json())["error"]
        resp = await client.post("/api/tickets", json=WRITE, headers=csrf)
        assert resp.status == 201, await resp.text()
        ticket = (await resp.json())["ticket"]
        assert ticket["assignee_id"] == str(alice["_id"]) and ticket["reason"] == "outbound"

        request = await twilio_api.next_request()  # the text, from the number set for it, unsigned
        assert (request.form["To"], request.form["From"]) == (CUSTOMER, OUR_NUMBER)
        assert request.form["Body"] == WRITE["text"]
        stored = await hub.store.tickets.find_one({"number": ticket["number"]})
        assert stored is not None
        contact = await hub.store.contacts.find_one({"_id": stored["contact_id"]})
        assert contact is not None and contact["name"] == "Rosa Diaz" and contact["phones"] == [CUSTOMER]

        # her answer is a text to that number: it continues the conversation, with no bot answer
        await text_in(phone, sms("Thursday please", "SM" + "a" * 32))
        await hub.pipeline.drain()
        assert await hub.store.tickets.count_documents({}) == 1
        texts = [m["text"] async for m in hub.store.messages.find(
            {"conversation_id": {"$in": stored["conversation_ids"]}}, sort=[("created_at", 1), ("_id", 1)])]
        assert texts == ["Alice Ng started the ticket by writing to the customer.", WRITE["text"], "Thursday please"]
        assert twilio_api.pending() == 0  # the bot sent nothing

        # her texts are open on this ticket: a second "New ticket" to her number is refused, naming it
        again = await client.post("/api/tickets", json={**WRITE, "to": CUSTOMER}, headers=csrf)
        assert again.status == 400
        assert f"open on ticket #{ticket['number']}" in (await again.json())["error"]

        # a number that sent STOP is refused before anything is written
        stop = sms("STOP", "SM" + "b" * 32, From="+14155550199")
        await text_in(phone, stop)
        await hub.pipeline.drain()
        tickets_before = await hub.store.tickets.count_documents({})
        refused = await client.post("/api/tickets", json={**WRITE, "to": "+14155550199"}, headers=csrf)
        assert refused.status == 400 and "opted out" in (await refused.json())["error"]
        assert await hub.store.tickets.count_documents({}) == tickets_before


async def test_without_a_number_to_text_from_agents_cannot_text_first(
        settings: Settings, shop_bot: Any, twilio_api: TwilioStandIn) -> None:
    """Without `sms_from`, SMS is not offered, and a request for it is refused."""
    settings.channels["phone"] = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "public_url": PUBLIC_URL,
                                  "api_base_url": twilio_api.url}
    async with running(settings, shop_bot) as rt:
        assert rt.hub is not None
        await rt.hub.accounts.create("alice", "alice's long password", name="Alice Ng", roles=[Role.AGENT])
        async with http_client(rt) as client:
            csrf = {"X-CSRF-Token": await login(client, "alice", "alice's long password")}
            assert (await (await client.get("/api/new-ticket")).json()) == {"channels": []}
            refused = await client.post("/api/tickets", json={**WRITE, "to": CUSTOMER}, headers=csrf)
            assert refused.status == 400 and "cannot write first on sms" in (await refused.json())["error"]
