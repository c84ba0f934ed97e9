"""Least-busy routing within capacity, queue position and estimated wait for waiting customers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.models import InboundMessage, Role, Sender, utcnow
from hub.tickets import QueueConfig
from switchboard.bootstrap import Runtime
from tests.test_ticket_list import assert_list_fields_current


async def _escalate(runtime: Runtime, who: str) -> dict[str, Any]:
    assert runtime.hub is not None
    result = await runtime.hub.ingest(InboundMessage(channel="widget", external_id=f"{who}:1", thread_key=who,
                                                     sender=Sender(who, who.title()), text="I want a human"))
    await runtime.hub.pipeline.drain()
    ticket = await runtime.hub.store.tickets.find_one({"conversation_ids": {"$in": [_oid(result.conversation_id)]}})
    assert ticket is not None
    return ticket


def _oid(value: str) -> Any:
    from bson import ObjectId

    return ObjectId(value)


async def test_least_busy_routing_respects_capacity(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    hub.tickets.queues["general"] = QueueConfig(name="general", routing="least_busy")
    a = await hub.accounts.create("ann", "ann's password", roles=[Role.AGENT], capacity=1)
    b = await hub.accounts.create("ben", "ben's password", roles=[Role.AGENT], capacity=1)
    await hub.accounts.create("off", "off's password", roles=[Role.AGENT], capacity=5)  # never online
    for agent in (a, b):
        await hub.presence.connect(agent["_id"])

    first, second, third = [await _escalate(runtime, f"demo:visitor:{n}") for n in ("x1", "x2", "x3")]
    tickets = {t["_id"]: t for t in await hub.store.tickets.find({}).to_list()}
    assignees = [tickets[t["_id"]].get("assignee_id") for t in (first, second, third)]
    assert set(assignees[:2]) == {a["_id"], b["_id"]}
    assert assignees[2] is None  # both agents at capacity: the third waits

    await hub.tickets.set_status(first["_id"], "solved", None)
    third_now = await hub.store.tickets.find_one({"_id": third["_id"]})
    assert third_now is not None and third_now["assignee_id"] == tickets[first["_id"]]["assignee_id"]
    assert await hub.store.events.count_documents({"type": "ticket.assigned"}) == 3
    await assert_list_fields_current(hub)  # the desk list shows who the router assigned


async def test_waiting_customer_is_told_position_and_estimated_wait(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    earlier = await _escalate(runtime, "demo:visitor:early")
    # History for the estimate: the earlier ticket was answered 4 minutes after handoff.
    await hub.store.tickets.update_one({"_id": earlier["_id"]}, {"$set": {
        "status": "open", "first_agent_reply_at": earlier["handoff_at"] + timedelta(minutes=4)}})
    await _escalate(runtime, "demo:visitor:a")
    await _escalate(runtime, "demo:visitor:b")
    notices = [m["text"] for m in await hub.store.messages.find({"author.kind": "system"}, sort=[("created_at", 1)])
               .to_list()]
    assert "You are number 1 in the queue." in notices[0] and "Estimated" not in notices[0]
    assert "You are number 1 in the queue. Estimated wait: about 4 minutes." in notices[1]
    assert "You are number 2 in the queue. Estimated wait: about 8 minutes." in notices[2]


async def test_unanswered_assignment_moves_to_another_agent(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    hub.tickets.queues["general"] = QueueConfig(name="general", routing="least_busy", auto_transfer_seconds=60)
    a = await hub.accounts.create("amy", "amy's password", roles=[Role.AGENT], capacity=1)
    b = await hub.accounts.create("bob", "bob's password", roles=[Role.AGENT], capacity=1)
    for who in (a, b):
        await hub.presence.connect(who["_id"])
    ticket = await _escalate(runtime, "demo:visitor:t1")
    first = (await hub.store.tickets.find_one({"_id": ticket["_id"]}) or {})["assignee_id"]
    assert first in (a["_id"], b["_id"])
    other = b["_id"] if first == a["_id"] else a["_id"]

    assert await hub.router.transfer_unanswered(utcnow() + timedelta(seconds=30)) == 0  # not yet due
    assert await hub.router.transfer_unanswered(utcnow() + timedelta(seconds=120)) == 1
    moved = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert moved is not None and moved["assignee_id"] == other and moved["passed_by"] == [first]

    # The second agent lets it pass too: nobody left who has not, so it waits in the queue.
    assert await hub.router.transfer_unanswered(utcnow() + timedelta(seconds=240)) == 1
    waiting = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert waiting is not None and waiting["assignee_id"] is None
    assert set(waiting["passed_by"]) == {a["_id"], b["_id"]}
    await assert_list_fields_current(hub)
    # A third agent coming online gets it.
    c = await hub.accounts.create("cid", "cid's password", roles=[Role.AGENT], capacity=1)
    await hub.presence.connect(c["_id"])
    await hub.router.route_all()
    taken = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert taken is not None and taken["assignee_id"] == c["_id"]
    # Once answered, a ticket is never taken away.
    await hub.tickets.reply(ticket["_id"], c, "Hello!")
    assert await hub.router.transfer_unanswered(utcnow() + timedelta(days=1)) == 0
    assert await hub.store.events.count_documents({"type": "ticket.transferred"}) == 2
