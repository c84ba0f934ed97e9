"""Outbound mail: the bot's and agents' replies through the relay, threading headers, retries, failures."""

from __future__ import annotations

from typing import Any

from hub.models import Role
from hub.store import ObjectId
from switchboard.config import Settings
from tests.conftest import _drop
from tests.email.conftest import EmailHub, TlsFiles, customer_mail, email_config, msgid, start_email_hub
from tests.email.relay import RelayStandIn
from tests.helpers import eventually


async def _conversation(email_hub: EmailHub, mail_id: str) -> dict[str, Any]:
    message = await email_hub.hub.store.messages.find_one({"channel": "email", "external_id": mail_id})
    assert message is not None
    conversation = await email_hub.hub.store.conversations.find_one({"_id": message["conversation_id"]})
    assert conversation is not None
    return conversation


async def test_the_bot_answers_a_faq_mail_with_a_well_formed_threaded_reply(
    email_hub: EmailHub, relay: RelayStandIn
) -> None:
    question = customer_mail("Opening hours?", "Hi,\n\nwhat are your opening hours?\n\nThanks\nDana")
    await email_hub.deliver(question)
    await email_hub.settle()
    relayed = await relay.next()
    reply = relayed.message
    conversation = await _conversation(email_hub, msgid(question))
    answer = await email_hub.hub.store.messages.find_one({"conversation_id": conversation["_id"], "direction": "out"})
    assert answer is not None and answer["author"]["kind"] == "bot"
    # Envelope and relay session: authenticated, over STARTTLS, to the customer only.
    assert relayed.rcpt_tos == ("dana@example.org",)
    assert relayed.mail_from == "support@example.com"
    assert relayed.authenticated_as == "hub" and relayed.tls
    # Threading headers.
    assert reply["Message-ID"] == f"<sb-{answer['_id']}@example.com>"
    assert reply["In-Reply-To"] == str(question["Message-ID"])
    assert reply["References"] == str(question["Message-ID"])
    assert reply["Reply-To"].addresses[0].addr_spec == f"support+{conversation['token']}@example.com"
    assert reply["From"].addresses[0].addr_spec == "support@example.com"
    assert reply["From"].addresses[0].display_name == "Example Support"
    assert reply["Subject"] == "Re: Opening hours?"
    assert reply["Auto-Submitted"] == "auto-replied"
    # Plain text and an HTML alternative carrying the same (escaped) text.
    assert reply.get_content_type() == "multipart/alternative"
    plain = reply.get_body(("plain",))
    html = reply.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().strip() == answer["text"].strip()
    assert "<p>" in html.get_content()
    # The hub recorded the provider id a reply will reference.
    await eventually(lambda: _sent(email_hub, answer["_id"]), what="delivery recorded")
    stored = await email_hub.hub.store.messages.find_one({"_id": answer["_id"]})
    assert stored is not None and stored["provider_id"] == f"sb-{answer['_id']}@example.com"


async def _sent(email_hub: EmailHub, message_id: ObjectId) -> bool:
    doc = await email_hub.hub.store.messages.find_one({"_id": message_id})
    return doc is not None and doc["delivery"]["status"] == "sent"


async def test_agent_reply_carries_the_ticket_number_and_escapes_html(
    email_hub: EmailHub, relay: RelayStandIn
) -> None:
    first = customer_mail("Broken chair", "I want to talk to a human please")
    await email_hub.deliver(first)
    await email_hub.settle()
    handoff = (await relay.next()).message
    ticket = await email_hub.hub.store.tickets.find_one({})
    assert ticket is not None
    assert handoff["Subject"] == f"Re: Broken chair [#{ticket['number']}]"
    agent = await email_hub.hub.accounts.create("alice", "correct horse battery", name="Alice", roles=[Role.AGENT])
    await email_hub.hub.tickets.reply(ticket["_id"], agent, "Sorry! Use <b>code</b> 5 & we'll fix it.")
    reply = (await relay.next()).message
    assert reply["Subject"] == f"Re: Broken chair [#{ticket['number']}]"
    assert reply["Auto-Submitted"] is None  # a person wrote this one
    assert reply["X-Switchboard-Ticket"] == str(ticket["number"])
    references = reply["References"].split()
    assert references[0] == str(first["Message-ID"])
    assert references[-1] == handoff["Message-ID"]
    assert reply["In-Reply-To"] == str(first["Message-ID"])  # the customer's mail, not our own notice
    html = reply.get_body(("html",))
    assert html is not None
    assert "Use &lt;b&gt;code&lt;/b&gt; 5 &amp; we&#x27;ll fix it." in html.get_content()


async def test_a_relay_that_is_down_then_back_delivers_everything_exactly_once(
    settings: Settings, relay: RelayStandIn, tls_files: TlsFiles, shop_bot: Any
) -> None:
    settings.outbox = {"base_seconds": 0.05, "max_seconds": 0.2, "max_attempts": 1000}
    settings.channels["email"] = email_config(relay.port, tls_files.cert)
    await relay.stop()  # the relay is down before anything is sent
    email_hub = await start_email_hub(settings, shop_bot)
    try:
        questions = [customer_mail(f"Question {i}", "what are your opening hours?",
                                   sender=f"Customer {i} <customer{i}@example.org>") for i in range(3)]
        for mail in questions:
            await email_hub.deliver(mail, sender=f"customer{questions.index(mail)}@example.org")
        await email_hub.settle()
        outbox = email_hub.hub.store.outbox

        async def all_retrying() -> bool:
            return await outbox.count_documents({"attempts": {"$gte": 2}, "status": {"$ne": "sent"}}) == 3

        await eventually(all_retrying, what="three replies failing against the dead relay")
        failing = await email_hub.hub.store.messages.find_one({"direction": "out"})
        assert failing is not None and failing["delivery"]["status"] == "retrying"
        assert "relay unreachable" in failing["delivery"]["error"]
        await relay.start()  # same port: the relay is back

        async def all_sent() -> bool:  # the message is marked last, after its outbox entry
            return await email_hub.hub.store.messages.count_documents({"delivery.status": "sent"}) == 3

        await eventually(all_sent, what="the three replies delivered")
        assert len(relay.received) == 3
        ids = [r.message["Message-ID"] for r in relay.received]
        assert len(set(ids)) == 3
        assert sorted(r.rcpt_tos[0] for r in relay.received) == [f"customer{i}@example.org" for i in range(3)]
        assert await outbox.count_documents({"status": "sent"}) == 3
        sent = await email_hub.hub.store.messages.find({"direction": "out"}).to_list()
        assert sorted(f"<{m['provider_id']}>" for m in sent) == sorted(ids)
        assert all(m["delivery"]["status"] == "sent" for m in sent)
    finally:
        await email_hub.runtime.stop()
        await _drop(settings)


async def test_a_permanent_refusal_marks_the_reply_failed_for_agents(
    email_hub: EmailHub, relay: RelayStandIn
) -> None:
    relay.refuse["gone@example.org"] = "550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown"
    await email_hub.deliver(customer_mail("Hours", "what are your opening hours?", sender="gone@example.org"),
                            sender="gone@example.org")
    await email_hub.settle()

    async def failed_event() -> dict[str, Any] | None:  # written last, after the message and its outbox entry
        return await email_hub.hub.store.events.find_one({"type": "message.failed"})

    event = await eventually(failed_event, what="the refused reply reported failed")
    message = await email_hub.hub.store.messages.find_one({"_id": event["message_id"]})
    assert message is not None and message["direction"] == "out" and message["delivery"]["status"] == "failed"
    assert "550" in message["delivery"]["error"] and "User unknown" in message["delivery"]["error"]
    entry = await email_hub.hub.store.outbox.find_one({"message_id": message["_id"]})
    assert entry is not None and entry["status"] == "failed" and entry["attempts"] == 1  # no pointless retries
    assert relay.received == []


async def test_mailbox_without_bot_opens_a_ticket_and_acknowledges_it_once(
    email_hub: EmailHub, relay: RelayStandIn
) -> None:
    mail = customer_mail("Order 48213 missing", "what are your opening hours?", to="orders@example.com")
    await email_hub.deliver(mail)
    await email_hub.deliver(mail)  # a retried delivery must not open or acknowledge twice
    await email_hub.settle()
    tickets = await email_hub.hub.store.tickets.find({}).to_list()
    assert len(tickets) == 1
    ticket = tickets[0]
    assert ticket["queue"] == "orders" and ticket["reason"] == "email" and ticket["subject"] == "Order 48213 missing"
    ack = (await relay.next()).message
    assert ack["Subject"] == f"Re: Order 48213 missing [#{ticket['number']}]"
    assert f"ticket #{ticket['number']}" in ack.get_body(("plain",)).get_content()
    assert ack["From"].addresses[0].addr_spec == "orders@example.com"
    assert ack["Auto-Submitted"] == "auto-replied"
    # The bot never answered (the question was an FAQ it knows).
    assert await email_hub.hub.store.messages.count_documents({"author.kind": "bot"}) == 0
    # A follow-up in the same thread is not acknowledged again.
    follow = customer_mail("Re: Order 48213 missing", "any news?", to="orders@example.com",
                           in_reply_to=str(mail["Message-ID"]), references=[str(mail["Message-ID"])])
    await email_hub.deliver(follow)
    await email_hub.settle()
    # Outbound mail is queued in the same transaction as its cause: the count is final here.
    assert await email_hub.hub.store.outbox.count_documents({}) == 1
    assert await email_hub.hub.store.tickets.count_documents({}) == 1


async def test_relay_over_implicit_tls(settings: Settings, tls_files: TlsFiles, shop_bot: Any) -> None:
    relay = RelayStandIn(tls_files.server_context(), username="hub", password="relay-secret")
    await relay.start(implicit_tls=True)
    config = email_config(relay.port, tls_files.cert)
    config["relay"]["security"] = "tls"
    settings.channels["email"] = config
    email_hub = await start_email_hub(settings, shop_bot)
    try:
        await email_hub.deliver(customer_mail("Hours", "what are your opening hours?"))
        await email_hub.settle()
        relayed = await relay.next()
        assert relayed.tls and relayed.authenticated_as == "hub"
        assert relayed.message["Subject"] == "Re: Hours"
    finally:
        await email_hub.runtime.stop()
        await relay.stop()
        await _drop(settings)


async def test_agent_files_go_out_as_mime_attachments(email_hub: EmailHub, relay: RelayStandIn) -> None:
    await email_hub.deliver(customer_mail("Return", "I want to talk to a human please"))
    await email_hub.settle()
    await relay.next()  # the handoff notice
    hub = email_hub.hub
    ticket = await hub.store.tickets.find_one({})
    assert ticket is not None
    agent = await hub.accounts.create("alice", "correct horse battery", name="Alice", roles=[Role.AGENT])
    label = b"%PDF-1.4 return label \x00\xff"
    blob_id = await hub.blobs.put("return label.pdf", "application/pdf", label, ticket_id=ticket["_id"])
    await hub.tickets.reply(ticket["_id"], agent, "Your return label is attached.", attachments=[
        {"filename": "return label.pdf", "content_type": "application/pdf", "size": len(label), "blob_id": blob_id}])
    mail = (await relay.next()).message
    files = list(mail.iter_attachments())
    assert [(f.get_filename(), f.get_content_type(), f.get_content()) for f in files] == [
        ("return label.pdf", "application/pdf", label)]
    plain = mail.get_body(("plain",))
    assert plain is not None and "Your return label is attached." in plain.get_content()

    # A file removed from storage before delivery fails that reply for good, with the reason.
    gone = await hub.blobs.put("gone.txt", "text/plain", b"bye", ticket_id=ticket["_id"])
    await hub.blobs.bucket.delete(ObjectId(gone))
    message = await hub.tickets.reply(ticket["_id"], agent, "Here it is", attachments=[
        {"filename": "gone.txt", "content_type": "text/plain", "size": 3, "blob_id": gone}])

    async def failed() -> dict[str, Any] | None:
        found = await hub.store.messages.find_one({"_id": message["_id"], "delivery.status": "failed"})
        return found

    failure = await eventually(failed, what="the reply with a vanished file failed")
    assert "'gone.txt' is no longer stored" in failure["delivery"]["error"]
