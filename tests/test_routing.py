"""Least-busy routing within capacity, queue position and estimated wait for waiting customers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.models import InboundMessage, Role, Sender, utcnow
from hub.tickets import QueueConfig
from switchboard.bootstrap import Runtime
from tests.helpers import eventually
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

    # "Send and solve" frees the slot too: the next customer waiting goes to that agent
    fourth = await _escalate(runtime, "demo:visitor:x4")
    holder = next(agent for agent in (a, b) if agent["_id"] == tickets[second["_id"]]["assignee_id"])
    await hub.tickets.reply(second["_id"], holder, "All done, bye!", then_status="solved")
    fourth_now = await hub.store.tickets.find_one({"_id": fourth["_id"]})
    assert fourth_now is not None and fourth_now["assignee_id"] == holder["_id"]


async def test_waiting_customer_is_told_position_and_an_estimate_from_the_agents_online(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    hub.router.snapshot_seconds = 0  # every escalation sees the desk as it is now
    early = await _escalate(runtime, "demo:visitor:early")  # nobody online yet
    # The queue's pace: answered 60 s after assignment, solved 10 minutes after it.
    handoff = early["handoff_at"]
    await hub.store.tickets.update_one({"_id": early["_id"]}, {"$set": {
        "status": "solved", "assigned_at": handoff, "first_agent_reply_at": handoff + timedelta(seconds=60),
        "solved_at": handoff + timedelta(minutes=10)}})
    ann = await hub.accounts.create("ann", "ann's password", roles=[Role.AGENT], capacity=2)
    await hub.presence.connect(ann["_id"])
    free = await _escalate(runtime, "demo:visitor:free")  # Ann has a free slot: her reaction time
    busy = await _escalate(runtime, "demo:visitor:busy")
    for ticket in (free, busy):  # now Ann works both: no slot free
        await hub.tickets.assign(ticket["_id"], ann["_id"], ann)
    await _escalate(runtime, "demo:visitor:a")
    await _escalate(runtime, "demo:visitor:b")
    notices = [m["text"] for m in await hub.store.messages.find({"author.kind": "system", "private": False},
                                                                sort=[("created_at", 1)]).to_list()]
    assert "You are number 1 in the queue. No agent is online right now" in notices[0]
    assert "You are number 1 in the queue. Estimated wait: about 1 minute." in notices[1]
    # 2 slots turning over every 10 minutes free one every 5: 1st in line 5 + 1, 2nd 10 + 1 minutes.
    assert "You are number 1 in the queue. Estimated wait: about 6 minutes." in notices[3]
    assert "You are number 2 in the queue. Estimated wait: about 11 minutes." in notices[4]


async def test_the_cached_capacity_follows_agents_and_assignments(runtime: Runtime) -> None:
    """The estimate's serving capacity is cached (a minute at most) but dropped as soon as it changes: an agent
    coming online or leaving (agents.changed), their settings edited, a ticket of theirs assigned."""
    hub = runtime.hub
    assert hub is not None
    assert hub.router.snapshot_seconds >= 60  # long enough that only the invalidation explains what follows

    async def slots(total: int, free: int) -> bool:
        snapshot = await hub.router.queue_snapshot("general")
        return (snapshot.total_slots, snapshot.free_slots) == (total, free)

    waiting = await _escalate(runtime, "demo:visitor:cached")  # nobody online: cached with no slot
    assert await slots(0, 0)
    ann = await hub.accounts.create("ann", "ann's password", roles=[Role.AGENT], capacity=2)
    connection = await hub.presence.connect(ann["_id"])
    await eventually(lambda: slots(2, 2), what="Ann online in the estimate")
    await hub.tickets.assign(waiting["_id"], ann["_id"], ann)
    await eventually(lambda: slots(2, 1), what="Ann's ticket taking a slot")
    await hub.accounts.update(ann["_id"], capacity=3)
    await eventually(lambda: slots(3, 2), what="Ann's new capacity")
    await hub.presence.disconnect(connection, ann["_id"])
    await eventually(lambda: slots(0, 0), what="Ann gone from the estimate")


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
