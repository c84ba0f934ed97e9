"""Waiting customers hear their place and wait again as the queue moves (hub.waitannouncer).

Each pass is run by the test (`announce`), so what happens between passes is under its control.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import ReturnDocument

from hub.hub import Hub
from hub.models import InboundMessage, Role, Sender
from hub.waitannouncer import MESSAGE_EVERY, WaitAnnouncer
from hub.waitestimate import TOLD_PLACES
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import make_settings


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    """No background passes: each test runs them itself."""
    return make_settings(mongo_uri, tmp_path, wait_announce_seconds=0)


async def _escalate(hub: Hub, channel: str, who: str) -> dict[str, Any]:
    await hub.ingest(InboundMessage(channel=channel, external_id=f"{who}:1", thread_key=who,
                                    sender=Sender(who, who.title()), text="I want a human"))
    await hub.pipeline.drain()
    conversation = await hub.store.conversations.find_one({"thread_key": who})
    assert conversation is not None
    ticket = await hub.store.tickets.find_one({"conversation_ids": conversation["_id"]})
    assert ticket is not None
    return ticket


async def _frames(hub: Hub, since: int) -> list[dict[str, Any]]:
    """The `queue.wait` events after the first `since`, as (thread, position, estimate)."""
    events = await hub.store.events.find({"type": "queue.wait"}, sort=[("_id", 1)]).to_list()
    return [{"who": e["data"]["thread_key"], "position": e["data"]["position"],
             "estimate": e["data"]["estimate_seconds"], "text": e["data"]["text"]} for e in events[since:]]


async def test_widget_customers_see_their_place_move_live(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    hub.router.snapshot_seconds = 0
    first = await _escalate(hub, "widget", "demo:visitor:first")
    await _escalate(hub, "widget", "demo:visitor:second")
    assert await hub.waits.announce() == 2
    frames = await _frames(hub, 0)
    assert [(f["who"], f["position"], f["estimate"]) for f in frames] == [
        ("demo:visitor:first", 1, None), ("demo:visitor:second", 2, None)]
    assert "No agent is online right now" in frames[0]["text"]
    assert await hub.waits.announce() == 0  # nothing moved: nothing sent
    assert await hub.waiting("widget", "demo:visitor:second") == {
        "position": 2, "estimate_seconds": None, "text": frames[1]["text"]}  # a reconnecting widget's view

    ann = await hub.accounts.create("ann", "ann's password", roles=[Role.AGENT], capacity=1)
    await hub.presence.connect(ann["_id"])
    assert await hub.waits.announce() == 2  # an agent is online: both get an estimate
    online = await _frames(hub, 2)
    assert [(f["position"], f["estimate"] is not None) for f in online] == [(1, True), (2, True)]
    assert online[1]["estimate"] > online[0]["estimate"]

    await hub.tickets.assign(first["_id"], ann["_id"], ann)  # the first customer leaves the queue
    assert await hub.waits.announce() == 1
    moved = await _frames(hub, 4)
    assert [(f["who"], f["position"]) for f in moved] == [("demo:visitor:first", None), ("demo:visitor:second", 1)]
    assert await hub.waiting("widget", "demo:visitor:first") is None


async def test_other_channels_get_a_message_only_when_the_wait_moved_a_lot(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    hub.router.snapshot_seconds = 0
    ticket = await _escalate(hub, "sms", "+15550001111")

    async def notices() -> list[str]:
        docs = await hub.store.messages.find({"conversation_id": ticket["conversation_ids"][-1],
                                              "author.kind": "system"}, sort=[("created_at", 1)]).to_list()
        return [d["text"] for d in docs]

    assert len(await notices()) == 1  # the escalation message told them: no agent online
    await hub.waits.announce()
    assert len(await notices()) == 1  # nothing new to say
    ann = await hub.accounts.create("ann", "ann's password", roles=[Role.AGENT], capacity=2)
    await hub.presence.connect(ann["_id"])
    await hub.waits.announce()
    told = await notices()
    assert len(told) == 2 and "Estimated wait: about 1 minute." in told[1]  # someone is online now
    await hub.store.agents.update_one({"_id": ann["_id"]}, {"$set": {"presence": "offline"}})
    await hub.waits.announce()
    assert len(await notices()) == 2  # everyone left, but they were told less than ten minutes ago
    later = await hub.store.wait_notices.find_one({"_id": ticket["_id"]})
    assert later is not None
    await hub.store.wait_notices.update_one({"_id": ticket["_id"]},
                                            {"$set": {"message_at": later["message_at"] - MESSAGE_EVERY
                                                      - timedelta(seconds=1)}})
    await hub.waits.announce()
    told = await notices()
    assert len(told) == 3 and "No agent is online right now" in told[2]


async def test_a_pass_on_changes_moves_the_line_it_remembers(runtime: Runtime) -> None:
    """Between full passes the line and notices are the process's own: an appended customer is
    recorded without telling anyone else, someone ahead leaving moves those behind, and what the
    changes never said is caught by the next full pass, which reads the collection again."""
    hub = runtime.hub
    assert hub is not None
    first = await _escalate(hub, "widget", "demo:visitor:first")
    assert await hub.waits.announce() == 1  # the full pass: the widget's banner
    second = await _escalate(hub, "widget", "demo:visitor:second")
    sms = await _escalate(hub, "sms", "+15550002222")
    for ticket in (second, sms):  # what the change stream brings
        hub.waits.ticket_changed(ticket)
    assert await hub.waits.announce_changes() == 1  # the second's banner; the first has not moved
    assert [(f["who"], f["position"]) for f in await _frames(hub, 1)] == [("demo:visitor:second", 2)]
    notices = {n["_id"]: n for n in await hub.store.wait_notices.find({}).to_list()}
    assert {k: (n["position"], n["told_position"]) for k, n in notices.items()} == {
        first["_id"]: (1, 1), second["_id"]: (2, 2), sms["_id"]: (3, 3)}  # the escalation message told the SMS one
    assert await hub.waiting("widget", "demo:visitor:second") is not None  # a reconnecting widget's view

    hub.waits.ticket_changed(await hub.tickets.assign(first["_id"], None, None))  # still waiting: nobody moves
    assert await hub.waits.announce_changes() == 0
    assert len(await _frames(hub, 0)) == 2
    ann = await hub.accounts.create("ann", "ann's password", roles=[Role.AGENT])
    moved = await hub.tickets.assign(first["_id"], ann["_id"], ann)  # the first customer leaves the queue
    hub.waits.ticket_changed(moved)
    assert await hub.waits.announce_changes() == 1
    assert [(f["who"], f["position"]) for f in await _frames(hub, 2)] == [
        ("demo:visitor:first", None), ("demo:visitor:second", 1)]
    assert await hub.waiting("widget", "demo:visitor:first") is None
    assert (await hub.store.wait_notices.find_one({"_id": sms["_id"]}) or {}).get("position") == 2

    # a change the pass never heard of (another writer, a dropped change): the full pass reads it
    await hub.store.tickets.update_one({"_id": second["_id"]}, {"$set": {"status": "open"}})
    assert await hub.waits.announce_changes() == 0
    assert await hub.waiting("widget", "demo:visitor:second") is not None
    await hub.waits.announce()
    assert [(f["who"], f["position"]) for f in await _frames(hub, 4)] == [("demo:visitor:second", None)]
    assert await hub.waiting("widget", "demo:visitor:second") is None
    assert (await hub.store.wait_notices.find_one({"_id": sms["_id"]}) or {}).get("position") == 1


async def test_a_new_lease_holder_starts_from_the_notices(runtime: Runtime) -> None:
    """The collection is the durable copy: a process taking over tells nobody again what they were told."""
    hub = runtime.hub
    assert hub is not None
    first = await _escalate(hub, "widget", "demo:visitor:first")
    await _escalate(hub, "widget", "demo:visitor:second")
    assert await hub.waits.announce() == 2
    successor = WaitAnnouncer(hub.store, hub.tickets, hub.router, hub.outbox)
    assert await successor.announce() == 0
    ann = await hub.accounts.create("ann", "ann's password", roles=[Role.AGENT])
    successor.ticket_changed(await hub.tickets.assign(first["_id"], ann["_id"], ann))
    assert await successor.announce_changes() == 1
    assert [(f["who"], f["position"]) for f in await _frames(hub, 2)] == [
        ("demo:visitor:first", None), ("demo:visitor:second", 1)]


async def test_a_customer_moved_to_another_queue_takes_their_place_there(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    await _escalate(hub, "widget", "demo:visitor:first")
    moving = await _escalate(hub, "widget", "demo:visitor:second")
    assert await hub.waits.announce() == 2
    moved = await hub.store.tickets.find_one_and_update({"_id": moving["_id"]}, {"$set": {"queue": "orders"}},
                                                        return_document=ReturnDocument.AFTER)
    hub.waits.ticket_changed(moved)
    assert await hub.waits.announce_changes() == 1
    assert [(f["who"], f["position"]) for f in await _frames(hub, 2)] == [
        ("demo:visitor:second", None), ("demo:visitor:second", 1)]  # out of one line, first in the other
    assert await hub.waiting("widget", "demo:visitor:second") == {
        "position": 1, "estimate_seconds": None, "text": (await _frames(hub, 3))[0]["text"]}
    assert (await hub.store.wait_notices.find_one({"_id": moving["_id"]}) or {}).get("queue") == "orders"


async def test_the_head_of_a_long_line_moving_rewrites_only_the_places_told(runtime: Runtime) -> None:
    """Further back than `TOLD_PLACES`, customers hear "at least 50 ahead of you", which the head of the line
    moving does not change: the pass writes for the places told and nothing for those behind them."""
    hub = runtime.hub
    assert hub is not None
    line = [await _escalate(hub, "widget", f"demo:visitor:{n}") for n in range(1, TOLD_PLACES + 4)]
    last = await hub.store.messages.find_one({"thread_key": f"demo:visitor:{TOLD_PLACES + 3}", "author.kind": "system"})
    assert last is not None and f"At least {TOLD_PLACES} customers are ahead of you." in last["text"]
    await hub.waits.announce()
    told = len(await _frames(hub, 0))
    ann = await hub.accounts.create("ann", "ann's password", roles=[Role.AGENT])
    hub.waits.ticket_changed(await hub.tickets.assign(line[0]["_id"], ann["_id"], ann))
    await hub.waits.announce_changes()
    moved = await _frames(hub, told)
    assert [(f["who"], f["position"]) for f in moved] == [("demo:visitor:1", None)] + [
        (f"demo:visitor:{n}", n - 1) for n in range(2, TOLD_PLACES + 2)]  # 51 frames for a line of 53, no more
    behind = await hub.waiting("widget", f"demo:visitor:{TOLD_PLACES + 3}")
    assert behind is not None and behind["position"] == TOLD_PLACES + 1 and behind["ahead_at_least"] == TOLD_PLACES
    assert behind["text"].startswith(f"At least {TOLD_PLACES} customers are ahead of you.")
    notices = await hub.store.wait_notices.find({}, sort=[("position", 1)]).to_list()
    assert [n["position"] for n in notices] == [*range(1, TOLD_PLACES + 1), TOLD_PLACES + 1, TOLD_PLACES + 1]
