"""A ticket's changes in its own timeline (hub.ticketlines): who took it, gave it, changed its priority and tags, set
it pending and solved it, routing's assignments and take-backs, the hub's own closing of an abandoned chat. Each is a
private line, named by people's names, that the desk reads with the ticket and the customer never receives; an
automation rule's run keeps its one line, a macro applied by an agent writes the lines a person's changes would."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from hub.automation import Actions
from hub.models import InboundMessage, Role, Sender, ThreadHints, utcnow
from hub.tickets import QueueConfig
from switchboard.bootstrap import Runtime
from tests.test_routing import _escalate
from tests.test_ticket_list import open_ticket

ANA = Sender("ana@example.com", display_name="Ana Lima", email="ana@example.com")


async def lines(runtime: Runtime, ticket: dict[str, Any]) -> list[str]:
    """The change lines of the ticket's timeline, oldest first (what the desk draws)."""
    assert runtime.hub is not None
    found = await runtime.hub.store.messages.find(
        {"conversation_id": {"$in": ticket["conversation_ids"]}, "metadata.change": {"$exists": True}},
        sort=[("created_at", 1), ("_id", 1)]).to_list()
    assert all(m["private"] and m["delivery"]["status"] == "internal" for m in found), found
    return [m["text"] for m in found]


async def test_a_ticket_tells_who_changed_what(client: TestClient[Any, Any], agent: dict[str, Any],
                                               runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    csrf = {"X-CSRF-Token": agent["csrf"]}
    sam = await hub.accounts.create("sam", "sam's long password", name="Sam Lead", roles=[Role.SUPERVISOR])
    bob = await hub.accounts.create("bob", "bob's long password", name="Bob", roles=[Role.AGENT])
    ticket = await open_ticket(runtime, "email", ANA, "Refund for order 5521")
    tid = ticket["_id"]

    assert (await client.post(f"/api/tickets/{tid}/assign", json={"agent_id": "me"}, headers=csrf)).status == 200
    edited = await client.patch(f"/api/tickets/{tid}", json={"priority": "urgent", "tags": ["vip", "refund"]},
                                headers=csrf)
    assert edited.status == 200, await edited.text()
    assert (await client.patch(f"/api/tickets/{tid}", json={"priority": "urgent"}, headers=csrf)).status == 200
    until = (utcnow() + timedelta(days=30)).replace(hour=9, minute=0, second=0, microsecond=0)
    pending = await client.post(f"/api/tickets/{tid}/status", json={"status": "pending",
                                                                    "pending_until": until.isoformat()}, headers=csrf)
    assert pending.status == 200, await pending.text()
    await hub.tickets.assign(tid, bob["_id"], sam)
    await hub.tickets.assign(tid, None, bob, if_assigned_to=bob["_id"])
    solved = await client.post(f"/api/tickets/{tid}/reply", json={"text": "Refunded today.", "status": "solved"},
                               headers=csrf)
    assert solved.status == 201, await solved.text()

    assert await lines(runtime, ticket) == [
        "Alice took the ticket.",
        "Alice added the tags refund, vip; changed the priority from normal to urgent.",  # the same again: nothing
        f"Alice set the ticket to pending until {until:%Y-%m-%d} 09:00 UTC.",
        "Sam Lead gave the ticket to Bob (it was Alice's).",
        "Bob handed the ticket back to its queue.",
        "Alice took the ticket by answering it and solved the ticket.",  # nobody held it: answering makes it hers
    ]
    # the desk reads them with the ticket, with what changed; the customer got the reply and no line
    view = await client.get(f"/api/tickets/{tid}")
    assert view.status == 200
    drawn = [m for m in (await view.json())["messages"] if (m.get("metadata") or {}).get("change")]
    assert [m["metadata"]["change"]["by"] for m in drawn] == ["Alice", "Alice", "Alice", "Sam Lead", "Bob", "Alice"]
    assert drawn[2]["metadata"]["change"]["items"][0]["until"].startswith(f"{until:%Y-%m-%d}T09:00")
    assert all(str(bob["_id"]) not in m["text"] for m in drawn)  # names, never ids
    line_ids = [m["_id"] for m in await hub.store.messages.find({"metadata.change": {"$exists": True}}).to_list()]
    assert len(line_ids) == 6 and await hub.store.outbox.count_documents({"message_id": {"$in": line_ids}}) == 0
    sent = await hub.store.outbox.find({"conversation_id": {"$in": ticket["conversation_ids"]}}).to_list()
    # the customer's mail: the bot's answer, the handoff notice, the reply and the rating request, no line
    assert len(sent) == 4


async def test_routing_and_the_hub_say_what_they_did(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    hub.tickets.queues["general"] = QueueConfig(name="general", routing="least_busy", auto_transfer_seconds=60)
    amy = await hub.accounts.create("amy", "amy's password", name="Amy", roles=[Role.AGENT], capacity=1)
    await hub.presence.connect(amy["_id"])
    routed = await _escalate(runtime, "demo:visitor:r1")
    assert await lines(runtime, routed) == ["Routing gave the ticket to Amy."]
    assert await hub.router.transfer_unanswered(utcnow() + timedelta(seconds=120)) == 1
    assert (await lines(runtime, routed))[1:] == ["Routing took the ticket from Amy: no answer within 1 minute."]

    hub.tickets.queues["general"] = QueueConfig(name="general")
    left = await _escalate(runtime, "demo:visitor:r2")
    assert await hub.tickets.abandon(left["_id"], "left")
    assert await lines(runtime, left) == [
        "Switchboard closed the ticket: the customer left the page before anyone answered."]


async def test_a_rule_keeps_its_one_line_and_a_macro_writes_each_change(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    alice = await hub.accounts.create("alice2", "alice's password", name="Alice", roles=[Role.AGENT])
    ticket = await open_ticket(runtime, "email", ANA, "Where is my parcel?")
    before = await hub.store.messages.count_documents({"conversation_id": {"$in": ticket["conversation_ids"]}})
    done = await hub.automation.execute(ticket["_id"], Actions(tags=["parcel"], priority="high", status="pending"),
                                        alice, any_ticket=True, send_response=False)
    assert done.done and not done.failed
    assert await lines(runtime, ticket) == []  # the rule's run writes its own summary line (hub.automation)
    after = await hub.store.messages.count_documents({"conversation_id": {"$in": ticket["conversation_ids"]}})
    assert after == before

    done = await hub.automation.execute(ticket["_id"], Actions(priority="low", status="open"), alice,
                                        any_ticket=True, send_response=False, lines=True)
    assert done.done and not done.failed
    assert await lines(runtime, ticket) == ["Alice changed the priority from high to low.",
                                            "Alice set the status to open."]


async def test_an_answer_and_the_customers_messages_say_what_they_changed(runtime: Runtime) -> None:
    """Answering a ticket nobody holds makes it the agent's; the customer's message wakes a pending or solved ticket.
    Both are changes an agent reading the ticket later asks about ("why is it mine?", "why is it open again?")."""
    hub = runtime.hub
    assert hub is not None
    alice = await hub.accounts.create("alice3", "alice's password", name="Alice", roles=[Role.AGENT])
    ticket = await open_ticket(runtime, "email", ANA, "Where is my parcel?")
    tid = ticket["_id"]
    thread = (await hub.store.conversations.find_one({"_id": ticket["conversation_ids"][-1]}))["thread_key"]

    async def customer_writes(text: str, automated: bool = False) -> None:  # a reply to "[#N]": the ticket's thread
        await hub.ingest(InboundMessage(channel="email", external_id=uuid.uuid4().hex, thread_key=thread,
                                        sender=ANA, text=text, automated=automated,
                                        hints=ThreadHints(ticket_number=ticket["number"])))
        await hub.pipeline.drain()

    await hub.tickets.reply(tid, alice, "Looking into it.")
    await hub.tickets.reply(tid, alice, "Carrier asked.", private=True)  # a note: hers already, nothing new
    await hub.tickets.set_status(tid, "pending", alice)
    await customer_writes("I am away until Monday.", automated=True)  # leaves the ticket pending: no line
    assert (await hub.tickets.get(tid))["status"] == "pending"
    await customer_writes("Any news?")
    await hub.tickets.set_status(tid, "solved", alice)
    await customer_writes("It came, but the box is damaged.")
    ticket = await hub.tickets.get(tid)
    assert ticket["status"] == "open", ticket["status"]

    assert await lines(runtime, ticket) == [
        "Alice took the ticket by answering it.",
        "Alice set the ticket to pending.",
        "The customer replied: the ticket is no longer pending.",
        "Alice solved the ticket.",
        "The customer wrote again and reopened the ticket.",
    ]
    # each line right after the message that made the change
    timeline = await hub.store.messages.find({"conversation_id": {"$in": ticket["conversation_ids"]}},
                                             sort=[("created_at", 1), ("_id", 1)]).to_list()
    texts = [m["text"] for m in timeline]
    assert texts[texts.index("Looking into it.") + 1] == "Alice took the ticket by answering it."
    assert texts[texts.index("Any news?") + 1] == "The customer replied: the ticket is no longer pending."
    assert texts[-1] == "The customer wrote again and reopened the ticket."
    assert all("Ana" not in t for t in texts if t.startswith("The customer"))  # no name an erasure cannot reach
