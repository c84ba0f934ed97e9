"""A reply to a closed ticket reopens it, or opens a new ticket linked to it: the queue decides."""

from __future__ import annotations

import dataclasses
from typing import Any

from hub.models import Role
from switchboard.config import Settings
from tests.conftest import _drop
from tests.email.conftest import EmailHub, TlsFiles, customer_mail, email_config, msgid, start_email_hub
from tests.email.relay import RelayStandIn


async def _closed_ticket(email_hub: EmailHub, relay: RelayStandIn, status: str) -> tuple[Any, Any, Any]:
    """A customer mails the bot-less `orders` mailbox, an agent answers and closes the ticket."""
    first = customer_mail("Order 48213", "The parcel never arrived.", to="orders@example.com")
    await email_hub.deliver(first)
    await email_hub.settle()
    await relay.next()  # the acknowledgement
    ticket = await email_hub.hub.store.tickets.find_one({})
    assert ticket is not None and ticket["queue"] == "orders"
    agent = await email_hub.hub.accounts.create("alice", "correct horse battery", name="Alice", roles=[Role.AGENT])
    await email_hub.hub.tickets.reply(ticket["_id"], agent, "We sent a new one.", then_status=status)
    answer = (await relay.next()).message
    closed = await email_hub.hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert closed is not None and closed["status"] == status
    return first, ticket, answer


async def test_reply_to_a_solved_ticket_reopens_it_by_default(email_hub: EmailHub, relay: RelayStandIn) -> None:
    first, ticket, answer = await _closed_ticket(email_hub, relay, "solved")
    reply = customer_mail("Re: Order 48213", "It still has not arrived.",
                          to=answer["Reply-To"].addresses[0].addr_spec)
    await email_hub.deliver(reply)
    await email_hub.settle()
    reopened = await email_hub.hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert reopened is not None and reopened["status"] == "open"
    assert await email_hub.hub.store.tickets.count_documents({}) == 1
    message = await email_hub.hub.store.messages.find_one({"external_id": msgid(reply)})
    original = await email_hub.hub.store.messages.find_one({"external_id": msgid(first)})
    assert message is not None and original is not None
    assert message["conversation_id"] == original["conversation_id"]
    conversation = await email_hub.hub.store.conversations.find_one({"_id": message["conversation_id"]})
    assert conversation is not None and conversation["open"] is True and conversation["state"] == "escalated"
    assert await email_hub.hub.store.events.count_documents({"type": "ticket.reopened"}) == 1


async def test_queue_set_to_new_opens_a_linked_ticket_and_keeps_the_old_one_closed(
    settings: Settings, relay: RelayStandIn, tls_files: TlsFiles, shop_bot: Any
) -> None:
    settings.queues["orders"] = dataclasses.replace(settings.queues["orders"], on_reply_after_close="new")
    settings.channels["email"] = email_config(relay.port, tls_files.cert)
    email_hub = await start_email_hub(settings, shop_bot)
    try:
        first, ticket, answer = await _closed_ticket(email_hub, relay, "closed")
        store = email_hub.hub.store
        reply = customer_mail("Re: Order 48213", "It still has not arrived.", in_reply_to=str(answer["Message-ID"]))
        await email_hub.deliver(reply)
        await email_hub.deliver(reply)  # a retried delivery joins the same follow-up
        second = customer_mail("Re: Order 48213", "Hello?", to=answer["Reply-To"].addresses[0].addr_spec)
        await email_hub.deliver(second)
        await email_hub.settle()
        old = await store.tickets.find_one({"_id": ticket["_id"]})
        assert old is not None and old["status"] == "closed"
        new = await store.tickets.find_one({"_id": {"$ne": ticket["_id"]}})
        assert new is not None
        assert new["follows_ticket_id"] == ticket["_id"] and new["number"] > ticket["number"]
        assert new["queue"] == "orders" and new["reason"] == "reply_after_close" and new["status"] == "new"
        message = await store.messages.find_one({"external_id": msgid(reply)})
        original = await store.messages.find_one({"external_id": msgid(first)})
        assert message is not None and original is not None
        assert message["conversation_id"] != original["conversation_id"]
        follow_up = await store.conversations.find_one({"_id": message["conversation_id"]})
        assert follow_up is not None
        assert follow_up["follows_conversation_id"] == original["conversation_id"]
        assert follow_up["ticket_id"] == new["_id"] and new["conversation_ids"] == [follow_up["_id"]]
        again = await store.messages.find_one({"external_id": msgid(second)})
        assert again is not None and again["conversation_id"] == follow_up["_id"]
        assert await store.tickets.count_documents({}) == 2
        assert await store.conversations.count_documents({}) == 2
        old_conv = await store.conversations.find_one({"_id": original["conversation_id"]})
        assert old_conv is not None and old_conv["open"] is False
    finally:
        await email_hub.runtime.stop()
        await _drop(settings)
