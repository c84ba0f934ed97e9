"""Blocking a contact (hub.contactbook.block): what a blocked customer sends is kept on their record, but no bot
answers it, it reopens no ticket, is nobody's news and fires no webhook; a new conversation of theirs opens no
ticket; unblocked, they are answered again. Agents block and unblock, audited; the contact page says who did."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import InboundMessage, Role, Sender
from hub.ticketfields import FieldDef
from switchboard.bootstrap import Runtime
from tests.conftest import login
from tests.test_ticket_list import open_ticket

BEA = Sender("bea@example.org", display_name="Bea Spammer", email="bea@example.org")


async def write(runtime: Runtime, text: str, thread: str) -> None:
    assert runtime.hub is not None
    await runtime.hub.ingest(InboundMessage(channel="email", external_id=uuid.uuid4().hex, thread_key=thread,
                                            sender=BEA, text=text))
    await runtime.hub.pipeline.drain()


async def test_a_blocked_contacts_messages_are_kept_and_left_alone(client: TestClient[Any, Any],
                                                                   runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    ticket = await open_ticket(runtime, "email", BEA, "Buy cheap watches")
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice Ng", roles=[Role.AGENT])
    await hub.tickets.assign(ticket["_id"], alice["_id"], None)
    csrf = {"X-CSRF-Token": await login(client, "alice", "alice's long password")}
    cid = str(ticket["contact_id"])

    resp = await client.post(f"/api/contacts/{cid}/block", json={"blocked": True}, headers=csrf)
    assert resp.status == 200, await resp.text()
    blocked = (await resp.json())["contact"]["blocked"]
    assert blocked["by_name"] == "Alice Ng" and blocked["at"]
    assert (await client.post(f"/api/contacts/{cid}/block", json={"blocked": "yes"}, headers=csrf)).status == 422
    seen = await (await client.get(f"/api/tickets/{ticket['_id']}")).json()
    assert seen["contact"]["blocked"]["by_name"] == "Alice Ng"  # the ticket's card says so too

    # on the open ticket's thread: kept, the ticket untouched, no news for the agent who holds it
    before = await hub.tickets.get(ticket["_id"])
    unread = await hub.reads.unread(alice["_id"])
    thread = (await hub.store.conversations.find_one({"_id": ticket["conversation_ids"][-1]}))["thread_key"]
    await write(runtime, "Cheap watches again", thread)
    kept = await hub.store.messages.find_one({"text": "Cheap watches again"})
    assert kept is not None and kept["blocked"] is True and "pending_bot" not in kept
    after = await hub.tickets.get(ticket["_id"])
    assert (after["status"], after.get("last_customer_message_at"), after["updated_at"]) == (
        before["status"], before.get("last_customer_message_at"), before["updated_at"])
    assert await hub.reads.unread(alice["_id"]) == unread

    # a new conversation: no bot answer, no ticket
    tickets, answers = await hub.store.tickets.count_documents({}), await hub.store.messages.count_documents(
        {"author.kind": "bot"})
    fresh = uuid.uuid4().hex
    await write(runtime, "What are your opening hours?", fresh)
    await write(runtime, "I want to talk to a human", fresh)
    assert await hub.store.tickets.count_documents({}) == tickets
    assert await hub.store.messages.count_documents({"author.kind": "bot"}) == answers
    assert await hub.store.messages.count_documents({"thread_key": fresh, "blocked": True}) == 2

    # unblocked: the bot answers again, and a request for a person reaches agents
    resp = await client.post(f"/api/contacts/{cid}/block", json={"blocked": False}, headers=csrf)
    assert resp.status == 200 and (await resp.json())["contact"]["blocked"] is None
    again = uuid.uuid4().hex
    await write(runtime, "What are your opening hours?", again)
    assert await hub.store.messages.count_documents({"author.kind": "bot"}) > answers
    await write(runtime, "I want to talk to a human", again)
    reached = await hub.store.conversations.find_one({"thread_key": again})
    assert reached is not None and reached.get("ticket_id") == ticket["_id"]  # joins the customer's open ticket
    actions = [e["action"] async for e in hub.store.audit.find({"target.type": "contact"}, sort=[("at", 1)])]
    assert actions == ["contact.blocked", "contact.unblocked"]


async def test_only_desk_users_who_work_contacts_block(client: TestClient[Any, Any], runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    ticket = await open_ticket(runtime, "email", BEA, "Buy cheap watches")
    await hub.accounts.create("tess", "tess's long password", name="Tess", roles=[Role.TRAINER])
    csrf = {"X-CSRF-Token": await login(client, "tess", "tess's long password")}
    resp = await client.post(f"/api/contacts/{ticket['contact_id']}/block", json={"blocked": True}, headers=csrf)
    assert resp.status == 403
    stored = await hub.store.contacts.find_one({"_id": ticket["contact_id"]})
    assert stored is not None and "blocked" not in stored


async def test_a_merge_keeps_the_block(runtime: Runtime) -> None:
    """Merged into another record, a blocked spammer's addresses stay blocked: the survivor is blocked too (one
    person), so what they send from either address is kept and left alone."""
    hub = runtime.hub
    assert hub is not None
    spam = await open_ticket(runtime, "email", BEA, "Buy cheap watches")
    other = Sender("bea.s@example.net", display_name="Bea S", email="bea.s@example.net")
    kept = await open_ticket(runtime, "email", other, "Where is my order 12?")
    sam = {"name": "Sam Boss", "username": "sam"}
    await hub.contactbook.block(spam["contact_id"], sam)
    merged = await hub.merges.merge(kept["contact_id"], spam["contact_id"], sam)
    assert merged.survivor["blocked"]["by_name"] == "Sam Boss"
    await write(runtime, "Watches, 95% off", uuid.uuid4().hex)  # from the spammer's address, now the survivor's
    stored = await hub.store.messages.find_one({"text": "Watches, 95% off"})
    assert stored is not None and stored["contact_id"] == kept["contact_id"] and stored["blocked"] is True
    assert await hub.store.tickets.count_documents({}) == 2
    # the survivor's own block wins over the one merged in
    await hub.contactbook.block(kept["contact_id"], sam, on=False)
    await hub.contactbook.block(kept["contact_id"], {"name": "Alice Ng"})
    third = await open_ticket(runtime, "email", Sender("bea3@example.com", display_name="B3", email="bea3@example.com"),
                              "hello")
    await hub.contactbook.block(third["contact_id"], sam)
    again = await hub.merges.merge(kept["contact_id"], third["contact_id"], sam)
    assert again.survivor["blocked"]["by_name"] == "Alice Ng"


async def test_a_block_can_close_the_spammers_tickets(client: TestClient[Any, Any], runtime: Runtime) -> None:
    """Blocking with `close_tickets` closes the contact's active tickets as an agent's close does (no rating
    request), names one the hub will not close (a required field is empty) with the reason, leaves a
    solved one and everyone else's alone, and is audited with the numbers."""
    hub = runtime.hub
    assert hub is not None
    first = await open_ticket(runtime, "email", BEA, "Buy cheap watches")
    await hub.tickets.set_status(first["_id"], "solved", None)
    pills = await open_ticket(runtime, "email", BEA, "Cheap pills")
    crypto = await hub.store.messages.find_one({"conversation_id": pills["conversation_ids"][-1],
                                                "text": "Cheap pills"})
    assert crypto is not None
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice Ng", roles=[Role.AGENT])
    split, pills = await hub.ticket_merges.split(pills["_id"], crypto["_id"], alice)
    spam = [pills, split]  # two active tickets of hers
    other = await open_ticket(runtime, "email", Sender("cy@example.org", display_name="Cy"), "My order is late")
    await hub.tickets.fields.save(FieldDef("order_number", "Order number", "text", required=True, queues=("returns",)))
    await hub.store.tickets.update_one({"_id": spam[1]["_id"]}, {"$set": {"queue": "returns"}})
    csrf = {"X-CSRF-Token": await login(client, "alice", "alice's long password")}
    asked = await hub.store.messages.count_documents({"text": {"$regex": "How happy"}})

    resp = await client.post(f"/api/contacts/{spam[0]['contact_id']}/block",
                             json={"blocked": True, "close_tickets": True}, headers=csrf)
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert answer["contact"]["blocked"]["by_name"] == "Alice Ng"
    assert answer["closed"] == [spam[0]["number"]]
    assert answer["not_closed"] == [{"number": spam[1]["number"],
                                     "reason": "fill in Order number before closing the ticket"}]
    status = {t["number"]: t["status"] async for t in hub.store.tickets.find({})}
    assert status[first["number"]] == "solved" and status[spam[0]["number"]] == "closed"
    assert status[spam[1]["number"]] in ("new", "open") and status[other["number"]] in ("new", "open")
    assert await hub.store.messages.count_documents({"text": {"$regex": "How happy"}}) == asked  # no rating request
    audited = await hub.store.audit.find_one({"action": "contact.tickets_closed"})
    assert audited is not None and audited["details"]["closed"] == [spam[0]["number"]]

    unblocked = await client.post(f"/api/contacts/{spam[0]['contact_id']}/block",
                                  json={"blocked": False, "close_tickets": True}, headers=csrf)
    assert unblocked.status == 200 and "closed" not in await unblocked.json()  # an unblock closes nothing
    bad = await client.post(f"/api/contacts/{spam[0]['contact_id']}/block", json={"blocked": True,
                                                                                  "close_tickets": "yes"},
                            headers=csrf)
    assert bad.status == 422 and "close_tickets" in await bad.text()
