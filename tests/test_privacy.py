"""Data protection over real HTTP: export a contact as a zip, erase a contact (admin only, audited)."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.models import InboundMessage, Role, Sender, utcnow
from hub.privacy import ERASED_NAME, ERASED_TEXT, Redaction
from hub.store import ObjectId
from switchboard.bootstrap import Runtime
from tests.conftest import login
from tests.privacy_helpers import customer_writes

PHOTO = bytes(range(256)) * 40


async def _admin(runtime: Runtime, client: TestClient[Any, Any]) -> str:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("root", "a long admin password", name="Ada Admin", roles=[Role.ADMIN])
    return await login(client, "root", "a long admin password")


async def _dana(runtime: Runtime) -> ObjectId:
    """Dana asks for a human with a photo attached, so she has a ticket, messages and a file."""
    first = await customer_writes(runtime, "visitor-dana", "I want to talk to a human, my parcel is broken",
                                  files=(("parcel.png", PHOTO),))
    await customer_writes(runtime, "visitor-dana", "my address is 12 Elm Street")
    return ObjectId(first.contact_id)


async def test_export_holds_everything_about_the_contact(runtime: Runtime, client: TestClient[Any, Any]) -> None:
    assert runtime.hub is not None
    await _admin(runtime, client)
    contact_id = await _dana(runtime)
    await customer_writes(runtime, "visitor-other", "I want a human too", name="Someone Else")

    resp = await client.get(f"/api/admin/contacts/{contact_id}/export")
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
    document = json.loads(archive.read("contact.json"))
    assert document["contact"]["name"] == "Dana Scully"
    texts = [m["text"] for m in document["messages"]]
    assert "I want to talk to a human, my parcel is broken" in texts and "my address is 12 Elm Street" in texts
    assert not any("Someone" in json.dumps(m) for m in document["messages"])
    assert len(document["tickets"]) == 1 and document["tickets"][0]["subject"]
    assert all("token" not in c for c in document["conversations"])  # the visitor's credential stays home
    [photo] = document["files"]
    assert photo["filename"] == "parcel.png" and archive.read(photo["path"]) == PHOTO

    entries = await runtime.hub.store.audit.find({"action": "contact.exported"}).to_list()
    assert [e["target"]["id"] for e in entries] == [contact_id]
    assert entries[0]["actor"]["username"] == "root"
    assert (await client.get(f"/api/admin/contacts/{ObjectId()}/export")).status == 404
    assert (await client.get("/api/admin/contacts/not-an-id/export")).status == 404


async def test_erase_removes_content_keeps_counts_and_is_idempotent(
        runtime: Runtime, client: TestClient[Any, Any]) -> None:
    hub = runtime.hub
    assert hub is not None
    csrf = await _admin(runtime, client)
    contact_id = await _dana(runtime)
    ticket = await hub.store.tickets.find_one({"contact_id": contact_id})
    assert ticket is not None
    assert await hub.store.ticket_words.count_documents({"ticket_id": ticket["_id"]}) >= 1
    messages_before = await hub.store.messages.count_documents({"contact_id": contact_id})
    [blob_id] = [a["blob_id"] for m in await hub.store.messages.find({"contact_id": contact_id}).to_list()
                 for a in m["attachments"]]
    since = ticket["created_at"] - timedelta(hours=1)
    report_before = await hub.metrics.window(since, since + timedelta(hours=2))
    # the question a chat asked before it asked for a person, kept for the ticket's subject (hub.pipeline)
    await hub.store.conversations.update_many({"contact_id": contact_id},
                                              {"$set": {"bot.last_question": "my parcel is broken"}})
    # and what the ticket was called before the customer's message named it (hub.tickets)
    await hub.store.tickets.update_one({"_id": ticket["_id"]}, {"$set": {"subject_named": {
        "message_id": ticket["_id"], "was": "please a person, my parcel is broken"}}})

    refused = await client.post(f"/api/admin/contacts/{contact_id}/erase", json={}, headers={"X-CSRF-Token": csrf})
    assert refused.status == 400 and "confirm" in (await refused.json())["error"]
    resp = await client.post(f"/api/admin/contacts/{contact_id}/erase", json={"confirm": True},
                             headers={"X-CSRF-Token": csrf})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["already"] is False and body["removed"]["files"] == 1 and body["removed"]["tickets"] == 1

    contact = await hub.store.contacts.find_one({"_id": contact_id})
    assert contact is not None and contact["name"] == ERASED_NAME
    assert contact["emails"] == [] and contact["phones"] == []
    assert all(i["channel"] == "erased" for i in contact["identities"])
    messages = await hub.store.messages.find({"contact_id": contact_id}).to_list()
    assert len(messages) == messages_before  # documents and timestamps stay: counts add up
    assert {m["text"] for m in messages} == {ERASED_TEXT}
    assert all(m["attachments"] == [] and not m.get("subject") for m in messages)
    assert all(m["author"]["name"] == ERASED_NAME for m in messages if m["author"]["kind"] == "customer")
    assert await hub.blobs.get(blob_id) is None
    conversations = await hub.store.conversations.find({"contact_id": contact_id}).to_list()
    assert conversations and all(c["bot"]["last_question"] is None for c in conversations)
    erased_ticket = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert erased_ticket is not None and erased_ticket["subject"] == ERASED_TEXT
    assert "subject_named" not in erased_ticket
    assert erased_ticket["words"] == []  # and the search index's copy of them:
    assert await hub.store.ticket_words.count_documents({"ticket_id": ticket["_id"]}) == 0
    assert erased_ticket["number"] == ticket["number"] and erased_ticket["created_at"] == ticket["created_at"]
    report_after = await hub.metrics.window(since, since + timedelta(hours=2))
    assert report_after["overall"]["queued"] == report_before["overall"]["queued"] == 1
    # Erasure closes the escalated chat: it now counts among the closed bot conversations, as one the
    # bot did not contain (docs/metrics.md); nothing is lost and nothing counts as contained.
    assert report_after["bot"]["contained"] == report_before["bot"]["contained"] == 0
    assert report_after["bot"]["conversations"] == report_before["bot"]["conversations"] + 1
    dumped = json.dumps([await hub.store.contacts.find_one({"_id": contact_id}), messages,
                         await hub.store.conversations.find({"contact_id": contact_id}).to_list()], default=str)
    # the order number with its words: bare "4711" turned up inside a random ObjectId or timestamp of the dump
    for personal in ("Dana", "Elm Street", "visitor-dana", "parcel.png", "Order 4711"):
        assert personal not in dumped, personal

    again = await client.post(f"/api/admin/contacts/{contact_id}/erase", json={"confirm": True},
                              headers={"X-CSRF-Token": csrf})
    assert again.status == 200 and (await again.json())["already"] is True
    entries = await hub.store.audit.find({"action": "contact.erased"}).to_list()
    assert len(entries) == 1 and entries[0]["target"]["id"] == contact_id
    assert "Dana" not in json.dumps(entries, default=str)

    # The same visitor writing again is somebody new: the identity is gone.
    later = await customer_writes(runtime, "visitor-dana", "hello again")
    assert ObjectId(later.contact_id) != contact_id
    assert (await hub.store.contacts.find_one({"_id": ObjectId(later.contact_id)}) or {}).get("name") == "Dana Scully"


class WritesFirst:
    """A real step of the erasure (`step`), but before its first call the customer writes `text` again: an
    erasure of somebody who is still chatting, made to interleave the same way every run."""

    def __init__(self, runtime: Runtime, text: str, step: Any) -> None:
        self.runtime, self.text, self.step, self.written = runtime, text, step, False

    async def __call__(self, *args: Any) -> Any:
        if not self.written:
            self.written = True
            await customer_writes(self.runtime, "visitor-dana", self.text)
        return await self.step(*args)


async def test_a_message_written_while_the_erasure_runs_is_erased_too(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    contact_id = await _dana(runtime)
    before = await hub.store.messages.count_documents({"contact_id": contact_id})
    # the first file it deletes
    writer = WritesFirst(runtime, "one more thing, my phone is 555 0199", hub.blobs.delete)
    hub.blobs.delete = writer  # type: ignore[method-assign]
    await hub.privacy.erase(contact_id)
    assert writer.written
    messages = await hub.store.messages.find({"contact_id": contact_id}).to_list()
    assert len(messages) > before  # the late message (and the bot's answer) joined the conversation
    assert {m["text"] for m in messages} == {ERASED_TEXT}
    assert len({m["thread_key"] for m in messages}) == 1 and messages[0]["thread_key"].startswith("erased:")
    assert "555 0199" not in json.dumps(messages, default=str)


async def test_two_erased_contacts_do_not_collide(runtime: Runtime, client: TestClient[Any, Any]) -> None:
    assert runtime.hub is not None
    one = await customer_writes(runtime, "visitor-1", "hi", name="One")
    two = await customer_writes(runtime, "visitor-2", "hi", name="Two")
    for result in (one, two):
        erasure = await runtime.hub.erase_contact(ObjectId(result.contact_id), actor=None)
        assert not erasure.already


async def test_only_admins_export_or_erase(runtime: Runtime, client: TestClient[Any, Any]) -> None:
    assert runtime.hub is not None
    contact_id = await _dana(runtime)
    await runtime.hub.accounts.create("sup", "a long supervisor password", roles=[Role.SUPERVISOR, Role.AGENT])
    csrf = await login(client, "sup", "a long supervisor password")
    assert (await client.get(f"/api/admin/contacts/{contact_id}/export")).status == 403
    resp = await client.post(f"/api/admin/contacts/{contact_id}/erase", json={"confirm": True},
                             headers={"X-CSRF-Token": csrf})
    assert resp.status == 403
    contact = await runtime.hub.store.contacts.find_one({"_id": contact_id})
    assert contact is not None and contact["name"] == "Dana Scully"


async def test_erasure_clears_what_webhooks_would_send_or_sent_about_the_contact(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    """Webhook bodies hold the customer's text: queued ones are dropped, delivered ones emptied."""
    assert runtime.hub is not None
    await _admin(runtime, client)
    admin = await runtime.hub.store.agents.find_one({"username": "root"})
    assert admin is not None
    await runtime.hub.webhooks.register("http://127.0.0.1:9/hooks", ["message.created", "ticket.created"], admin)
    contact_id = await _dana(runtime)
    about_dana = {"kind": "webhook", "contact_id": contact_id}
    assert await runtime.hub.store.outbox.count_documents(about_dana) >= 2
    bodies = [e["body"] for e in await runtime.hub.store.outbox.find({"kind": "webhook"}).to_list()]
    assert any("12 Elm Street" in b for b in bodies)

    resp = await client.post(f"/api/admin/contacts/{contact_id}/erase", json={"confirm": True},
                             headers={"X-CSRF-Token": await login(client, "root", "a long admin password")})
    assert resp.status == 200, await resp.text()
    left = await runtime.hub.store.outbox.find({"kind": "webhook"}).to_list()
    assert not any("Elm Street" in e["body"] or "Dana" in e["body"] for e in left), left
    assert all(e["status"] != "pending" for e in left)  # nothing more about her leaves the hub


async def test_what_the_customer_writes_until_the_tombstone_is_erased_too(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    contact_id = await _dana(runtime)
    # the step before the tombstone: by then her thread is cut from her conversation (a new one opens) and her
    # ticket is closed (a new one opens), while her identity still finds her contact
    writer = WritesFirst(runtime, "I want a human again, call me on 555 0199", hub.privacy._forget_webhook_bodies)
    hub.privacy._forget_webhook_bodies = writer  # type: ignore[method-assign]
    erasure = await hub.privacy.erase(contact_id)
    assert writer.written
    assert erasure.removed.tickets == 2 and erasure.removed.conversations == 2  # the late chat and its ticket
    conversations = await hub.store.conversations.find({"contact_id": contact_id}).to_list()
    assert len(conversations) == 2 and all(c["thread_key"].startswith("erased:") and not c["open"]
                                           for c in conversations)
    messages = await hub.store.messages.find({"contact_id": contact_id}).to_list()
    assert {m["text"] for m in messages} == {ERASED_TEXT}
    tickets = await hub.store.tickets.find({"contact_id": contact_id}).to_list()
    assert len(tickets) == 2 and {(t["status"], t["subject"]) for t in tickets} == {("closed", ERASED_TEXT)}
    assert await hub.store.ticket_words.count_documents({"ticket_id": {"$in": [t["_id"] for t in tickets]}}) == 0
    dumped = json.dumps([conversations, messages, tickets], default=str)
    for personal in ("555 0199", "Dana", "visitor-dana"):
        assert personal not in dumped, personal


async def test_a_message_processed_after_the_erasure_leaves_the_ticket_closed(runtime: Runtime) -> None:
    """A message stored before the erasure and processed after it (its conversation read before): the ticket
    is not reopened and gets no search words back."""
    hub = runtime.hub
    assert hub is not None
    contact_id = await _dana(runtime)
    [conversation] = await hub.store.conversations.find({"contact_id": contact_id}).to_list()
    assert conversation["ticket_id"] is not None
    await hub.privacy.erase(contact_id)

    async def work(session: Any) -> Any:
        return await hub.tickets.on_customer_message(conversation, session, message={"text": "parcel 4711 again"})

    assert await hub.store.run_in_transaction(work) is None
    ticket = await hub.store.tickets.find_one({"_id": conversation["ticket_id"]})
    assert ticket is not None and ticket["status"] == "closed" and ticket["erased"] is True
    assert await hub.store.ticket_words.count_documents({"ticket_id": ticket["_id"]}) == 0


async def test_the_history_counts_what_the_erasure_closed(runtime: Runtime) -> None:
    """The supervisor's history (its aggregates, from the event log) agrees with the records after an erasure
    closes a waiting customer's ticket and a bot chat: the ticket closed unanswered counts as abandoned."""
    hub = runtime.hub
    assert hub is not None
    dana = await _dana(runtime)
    carl = await customer_writes(runtime, "visitor-carl", "what are your opening hours?", name="Carl")
    start, end = utcnow() - timedelta(hours=3), utcnow() + timedelta(hours=1)
    keys = ("opened", "escalated", "solved", "abandoned", "abandoned_by_reason", "bot_closed", "bot_contained")
    await hub.aggregates.catch_up(until=utcnow() + timedelta(seconds=1), fenced=False)
    before = (await hub.history.raw(start, end))["totals"]
    for contact_id in (dana, ObjectId(carl.contact_id)):
        await hub.privacy.erase(contact_id)
    await hub.aggregates.catch_up(until=utcnow() + timedelta(seconds=1), fenced=False)
    raw, shown = (await hub.history.raw(start, end))["totals"], (await hub.history.query(start, end))["totals"]
    assert {k: shown[k] for k in keys} == {k: raw[k] for k in keys}
    assert (raw["solved"], raw["abandoned"], raw["bot_closed"]) == \
        (before["solved"] + 1, before["abandoned"] + 1, before["bot_closed"] + 2)
    assert raw["abandoned_by_reason"]["closed_unanswered"] == 1


async def test_no_event_holds_the_address_of_a_customer_on_sms(runtime: Runtime) -> None:
    """The event log is not rewritten by an erasure: a handoff event names the thread only for the chat widget,
    whose sockets follow it; an SMS thread key holds the customer's number."""
    hub = runtime.hub
    assert hub is not None
    texted = await customer_writes(runtime, "+15550100|+15550199", "I want to talk to a human", channel="sms",
                                   name="Sam")
    chatted = await customer_writes(runtime, "visitor-wendy", "I want to talk to a human", name="Wendy")
    handoffs = {e["channel"]: e for e in await hub.store.events.find({"type": "conversation.handoff"}).to_list()}
    assert "thread_key" not in handoffs["sms"] and handoffs["widget"]["thread_key"] == "visitor-wendy"
    await hub.waits.announce()  # a pass of the wait announcements: what each waiting customer was told
    notices = {n["channel"]: n for n in await hub.store.wait_notices.find({}).to_list()}
    assert set(notices) == {"sms", "widget"}
    await hub.privacy.erase(ObjectId(texted.contact_id))
    logged = json.dumps(await hub.store.events.find({}).to_list(), default=str)
    assert "5550100" not in logged and "5550199" not in logged
    assert [n["channel"] for n in await hub.store.wait_notices.find({}).to_list()] == ["widget"]
    assert chatted.contact_id != texted.contact_id


@pytest.mark.parametrize("thread", ["open", "new"])
async def test_a_message_stored_after_the_erasure_looked_is_erased_by_its_follow_up(runtime: Runtime,
                                                                                    thread: str) -> None:
    """The customer's delivery reads her contact before the tombstone and stores its message after the erasure's
    last look (held here between the two): the follow-up that every hub runs finds it and erases it.

    `open`: a follow-up on her open thread reads the conversation with its contact (one read), so the message
    lands in the conversation the erasure has just emptied and cut from its thread. `new`: a message on a thread
    of hers with no open conversation reads the contact alone, and opens a new conversation after the erasure."""
    hub = runtime.hub
    assert hub is not None
    contact_id = await _dana(runtime)
    admin = await hub.accounts.create("root", "a long admin password", name="Ada Admin", roles=[Role.ADMIN])
    await hub.webhooks.register("http://127.0.0.1:9/hooks", ["message.created"], admin)
    read_contact, erased = asyncio.Event(), asyncio.Event()
    owner: Any = hub.pipeline.conversations if thread == "open" else hub.pipeline.contacts
    name = "open_with_contact" if thread == "open" else "resolve_new"
    read = getattr(owner, name)

    async def held(*args: Any) -> Any:  # ingest's read of the contact, held once it is made
        found = await read(*args)
        read_contact.set()
        await erased.wait()
        return found

    setattr(owner, name, held)
    text = "one more thing, my phone is 555 0199"
    if thread == "open":
        late = asyncio.create_task(customer_writes(runtime, "visitor-dana", text))
    else:
        late = asyncio.create_task(hub.ingest(InboundMessage(
            channel="widget", external_id=uuid.uuid4().hex, thread_key="visitor-dana:another-tab",
            sender=Sender("visitor-dana", display_name="Dana Scully"), text=text)))
    await read_contact.wait()
    await hub.privacy.erase(contact_id)
    erased.set()
    stored = await late
    await hub.pipeline.drain()
    assert ObjectId(stored.contact_id) == contact_id  # stored on the erased contact
    assert await hub.store.messages.count_documents({"contact_id": contact_id, "text": {"$ne": ERASED_TEXT}}) >= 1
    landed = await hub.store.conversations.find_one({"_id": ObjectId(stored.conversation_id)})
    assert landed is not None
    assert str(landed["thread_key"]).startswith("erased:") == (thread == "open")

    async def hooked() -> str:  # what webhook deliveries hold
        return json.dumps([e.get("body") for e in await hub.store.outbox.find({"kind": "webhook"}).to_list()])

    assert "555 0199" in await hooked()  # the late message's webhook too

    too_late = await hub.privacy.follow_up(utcnow() + timedelta(minutes=11))  # it looks back ten minutes
    assert (too_late.conversations, too_late.messages) == (0, 0)
    found = await hub.privacy.follow_up()
    # a conversation is counted once: the emptied one by the erasure, a new one by the follow-up
    assert found.conversations == (0 if thread == "open" else 1) and found.messages >= 1
    messages = await hub.store.messages.find({"contact_id": contact_id}).to_list()
    assert {m["text"] for m in messages} == {ERASED_TEXT}
    assert "555 0199" not in json.dumps(await hub.store.conversations.find({"contact_id": contact_id}).to_list()
                                        + messages, default=str)
    assert "555 0199" not in await hooked()
    [entry] = await hub.store.audit.find({"action": "contact.erased_late"}).to_list()
    assert entry["target"]["id"] == contact_id and entry["details"]["messages"] == found.messages
    again = await hub.privacy.follow_up()  # nothing left: it writes nothing
    assert again.as_dict() == Redaction().as_dict()
    assert await hub.store.audit.count_documents({"action": "contact.erased_late"}) == 1
