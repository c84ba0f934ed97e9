"""Least-busy routing within capacity, queue position and estimated wait for waiting customers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.models import InboundMessage, Role, Sender
from hub.tickets import QueueConfig
from switchboard.bootstrap import Runtime


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
        await hub.accounts.set_presence(agent["_id"], "online")

    first, second, third = [await _escalate(runtime, f"demo:visitor:{n}") for n in ("x1", "x2", "x3")]
    tickets = {t["_id"]: t for t in await hub.store.tickets.find({}).to_list()}
    assignees = [tickets[t["_id"]].get("assignee_id") for t in (first, second, third)]
    assert set(assignees[:2]) == {a["_id"], b["_id"]}
    assert assignees[2] is None  # both agents at capacity: the third waits

    await hub.tickets.set_status(first["_id"], "solved", None)
    third_now = await hub.store.tickets.find_one({"_id": third["_id"]})
    assert third_now is not None and third_now["assignee_id"] == tickets[first["_id"]]["assignee_id"]
    assert await hub.store.events.count_documents({"type": "ticket.assigned"}) == 3


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
