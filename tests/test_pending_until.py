"""A ticket set pending until a time opens again by itself then, for whoever has it: the SLA watcher does it (its
`sla_next` is that time while the SLA clock is paused), once, with a private line in the timeline, the clock resumed;
a customer's reply before that, a new time or a cleared one change it; bad times are refused with a reason. Times are
passed to the watcher, never waited for."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import InboundMessage, Sender, utcnow
from hub.tickets import PENDING_ENDED
from switchboard.bootstrap import Runtime
from tests.test_ticket_list import open_ticket

HOUR = timedelta(hours=1)
ANA = Sender("+4915112345678", phone="+4915112345678")


async def pending(client: TestClient[Any, Any], agent: dict[str, Any], ticket_id: Any, until: Any) -> Any:
    return await client.post(f"/api/tickets/{ticket_id}/status", json={"status": "pending", "pending_until": until},
                             headers={"X-CSRF-Token": agent["csrf"]})


async def test_a_pending_ticket_opens_again_at_its_time_once(client: TestClient[Any, Any], agent: dict[str, Any],
                                                              runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    ticket = await open_ticket(runtime, "sms", ANA, "Wrong invoice")
    headers = {"X-CSRF-Token": agent["csrf"]}
    assert (await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "I'll ask billing"},
                              headers=headers)).status == 201
    until = (utcnow() + 2 * HOUR).replace(microsecond=0)
    resp = await pending(client, agent, ticket["_id"], until.isoformat())
    assert resp.status == 200, await resp.text()
    view = (await resp.json())["ticket"]
    assert view["status"] == "pending" and view["pending_until"] == until.isoformat()
    stored = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert stored is not None and stored["sla_next"] == until  # the watcher's wake-up, while the clock is paused
    event = await hub.store.events.find_one({"ticket_id": ticket["_id"], "type": "ticket.pending"})
    assert event is not None and event["data"]["pending_until"] == until

    assert (await hub.watch_sla(until - timedelta(seconds=1))).reopened == []
    assert (await hub.watch_sla(until + timedelta(seconds=1))).reopened == [ticket["number"]]
    assert (await hub.watch_sla(until + HOUR)).reopened == []  # once
    opened = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert opened is not None and opened["status"] == "open"  # an agent answered before: open, not new
    assert "pending_until" not in opened and "pending_since" not in opened
    assert opened["pending_ended_at"] == until + timedelta(seconds=1)
    assert opened["sla"]["paused_seconds"] > 7000  # the two hours count as paused
    assert opened["sla_next"] == opened["sla"]["resolution_warn"]  # the SLA's next event again
    lines = await hub.store.messages.find({"conversation_id": opened["conversation_ids"][-1],
                                           "metadata.pending_ended": {"$exists": True}}).to_list()
    assert [(m["text"], m["private"], m["author"]["kind"]) for m in lines] == [(PENDING_ENDED, True, "system")]
    assert lines[0]["metadata"]["pending_ended"]["pending_until"] == until
    reopened = await hub.store.events.find_one({"ticket_id": ticket["_id"], "type": "ticket.open"})
    assert reopened is not None and reopened["data"] == {"from": "pending", "to": "open", "pending_until": until,
                                                         "by": "pending_until"}
    detail = await (await client.get(f"/api/tickets/{ticket['_id']}")).json()
    assert detail["messages"][-1]["metadata"]["pending_ended"]["pending_until"] == until.isoformat()


async def test_a_new_time_a_cleared_one_and_a_customer_reply(client: TestClient[Any, Any], agent: dict[str, Any],
                                                             runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    ticket = await open_ticket(runtime, "sms", ANA, "Wrong invoice")
    first = (utcnow() + 2 * HOUR).replace(microsecond=0)
    assert (await pending(client, agent, ticket["_id"], first.isoformat())).status == 200
    later = first + 24 * HOUR
    assert (await pending(client, agent, ticket["_id"], later.isoformat())).status == 200  # moved
    moved = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert moved is not None and moved["pending_until"] == later and moved["sla_next"] == later
    assert (await hub.watch_sla(first + HOUR)).reopened == []
    assert (await pending(client, agent, ticket["_id"], None)).status == 200  # cleared: pending with no end
    cleared = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert cleared is not None and cleared["status"] == "pending" and "pending_until" not in cleared
    assert cleared["sla_next"] is None
    assert (await hub.watch_sla(later + HOUR)).reopened == []

    # pending until later again, then automation-style calls (no time given) keep it
    assert (await pending(client, agent, ticket["_id"], later.isoformat())).status == 200
    await hub.tickets.set_status(ticket["_id"], "pending", None)
    kept = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert kept is not None and kept["pending_until"] == later

    # the customer writes first: the ticket is open again now, and the time is gone with the pending status
    conversation = await hub.store.conversations.find_one({"_id": ticket["conversation_ids"][-1]})
    assert conversation is not None
    await hub.ingest(InboundMessage(channel="sms", external_id="late-reply", thread_key=conversation["thread_key"],
                                    sender=ANA, text="Any news?"))
    await hub.pipeline.drain()
    replied = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert replied is not None and replied["status"] == "new" and "pending_until" not in replied
    assert (await hub.watch_sla(later + HOUR)).reopened == []


async def test_bad_times_are_refused_with_a_reason(client: TestClient[Any, Any], agent: dict[str, Any],
                                                   runtime: Runtime) -> None:
    ticket = await open_ticket(runtime, "sms", ANA, "Wrong invoice")
    soon = utcnow() + HOUR
    cases = [
        ({"status": "pending", "pending_until": (utcnow() - HOUR).isoformat()}, "in the past"),
        ({"status": "pending", "pending_until": (utcnow() + timedelta(days=400)).isoformat()}, "366 days ahead"),
        ({"status": "pending", "pending_until": soon.replace(tzinfo=None).isoformat()}, "time zone"),
        ({"status": "open", "pending_until": soon.isoformat()}, "pending status only"),
        ({"status": "pending", "pending_until": "next tuesday"}, "pending_until"),
    ]
    for body, reason in cases:
        resp = await client.post(f"/api/tickets/{ticket['_id']}/status", json=body,
                                 headers={"X-CSRF-Token": agent["csrf"]})
        assert resp.status in (400, 422), (body, resp.status)
        assert reason in (await resp.json())["error"], body
    assert runtime.hub is not None
    unchanged = await runtime.hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert unchanged is not None and unchanged["status"] == "new" and "pending_until" not in unchanged


async def test_two_watchers_at_once_open_it_once(client: TestClient[Any, Any], agent: dict[str, Any],
                                                 runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    ticket = await open_ticket(runtime, "sms", ANA, "Wrong invoice")
    until = (utcnow() + HOUR).replace(microsecond=0)
    assert (await pending(client, agent, ticket["_id"], until.isoformat())).status == 200
    at = until + timedelta(seconds=5)
    results = await asyncio.gather(*(hub.tickets.end_pending(ticket["_id"], at) for _ in range(3)))
    assert sum(r is not None for r in results) == 1
    assert await hub.store.messages.count_documents({"metadata.pending_ended": {"$exists": True}}) == 1
    assert await hub.store.events.count_documents({"ticket_id": ticket["_id"], "type": "ticket.new"}) == 1
