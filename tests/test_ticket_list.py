"""The desk's ticket list: search by every field, each filter and sort, stable paging, view counts,
tags and priority edits (hub.ticketindex behind GET /api/tickets)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from hub.hub import Hub
from hub.models import InboundMessage, Sender, utcnow
from hub.ticketindex import facet_keys
from switchboard.bootstrap import Runtime


async def open_ticket(runtime: Runtime, channel: str, who: Sender, text: str, subject: str | None = None
                      ) -> dict[str, Any]:
    """A customer writes on `channel` and asks for a person: the ticket the hub opened."""
    hub = runtime.hub
    assert hub is not None
    thread = uuid.uuid4().hex
    for line in (text, "I want to talk to a human"):
        await hub.ingest(InboundMessage(channel=channel, external_id=uuid.uuid4().hex, thread_key=thread,
                                        sender=who, text=line, subject=subject))
        await hub.pipeline.drain()
    conversation = await hub.store.conversations.find_one({"thread_key": thread})
    assert conversation is not None and conversation.get("ticket_id") is not None, conversation
    ticket = await hub.store.tickets.find_one({"_id": conversation["ticket_id"]})
    assert ticket is not None
    return ticket


async def assert_list_fields_current(hub: Hub) -> None:
    """Every ticket's list facets match the ticket (whoever changed it: desk, router, erasure)."""
    async for ticket in hub.store.tickets.find({}):
        assert ticket["keys"] == facet_keys(ticket), ticket["number"]


async def listed(client: TestClient[Any, Any], query: str = "") -> list[int]:
    resp = await client.get(f"/api/tickets?{query}")
    assert resp.status == 200, await resp.text()
    return [t["number"] for t in (await resp.json())["tickets"]]


async def desk(runtime: Runtime) -> dict[str, dict[str, Any]]:
    """Three customers on three channels, one ticket each."""
    return {
        "ana": await open_ticket(runtime, "email", Sender("ana@example.com", display_name="Ana Lima",
                                                          email="ana@example.com"),
                                 # the starter bot hands this over at once (damaged_item), so the ticket's words are
                                 # the customer's (a bot answer's digits would also match a "#3" search)
                                 "My parcel with the blue kettle arrived broken", subject="Shattered kettle"),
        "bo": await open_ticket(runtime, "sms", Sender("+4915112345678", phone="+4915112345678"),
                                "The invoice shows the wrong address"),
        "cy": await open_ticket(runtime, "widget", Sender("visitor-cy", display_name="Cy Young"),
                                "Can I change my password please"),
    }


async def test_search_finds_a_ticket_by_each_field(client: TestClient[Any, Any], agent: dict[str, Any],
                                                    runtime: Runtime) -> None:
    t = await desk(runtime)
    ana, bo, cy = (t[k]["number"] for k in ("ana", "bo", "cy"))
    assert await listed(client, "q=kettle") == [ana]  # a word of a message
    assert await listed(client, "q=Shattered") == [ana]  # the subject
    assert await listed(client, "q=ana%40example.com") == [ana]  # the email
    assert await listed(client, "q=Ana+Lima") == [ana]  # the customer's name
    assert await listed(client, "q=%2B49+151+1234+5678") == [bo]  # the phone, typed another way
    assert await listed(client, f"q=%23{cy}") == [cy]  # the ticket number
    assert await listed(client, "q=password+young") == [cy]  # every word must match
    assert await listed(client, "q=kettle+invoice") == []
    # a message written after escalation becomes searchable too
    await open_ticket(runtime, "widget", Sender("visitor-cy", display_name="Cy Young"), "also a refund voucher")
    assert await listed(client, "q=voucher") == [cy]


async def test_filters_sorts_and_counts(client: TestClient[Any, Any], agent: dict[str, Any],
                                        runtime: Runtime) -> None:
    assert runtime.hub is not None
    t = await desk(runtime)
    ana, bo, cy = (t[k]["number"] for k in ("ana", "bo", "cy"))
    headers = {"X-CSRF-Token": agent["csrf"]}
    assert await listed(client) == [cy, bo, ana]  # newest first
    assert await listed(client, "sort=oldest_waiting") == [ana, bo, cy]
    assert (await client.post(f"/api/tickets/{t['bo']['_id']}/assign", json={"agent_id": "me"},
                              headers=headers)).status == 200
    assert await listed(client, "assignee=me") == [bo]
    assert await listed(client, "mine=1") == [bo]
    assert await listed(client, "assignee=none") == [cy, ana]
    assert await listed(client, "channel=email") == [ana]
    assert await listed(client, "channel=sms") == [bo]
    resp = await client.patch(f"/api/tickets/{t['ana']['_id']}", json={"tags": ["VIP", "shipping"],
                                                                       "priority": "urgent"}, headers=headers)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["ticket"]["tags"] == ["shipping", "vip"]
    assert await listed(client, "tag=vip") == [ana]
    assert await listed(client, "priority=urgent") == [ana]
    assert await listed(client, "priority=normal") == [cy, bo]
    assert await listed(client, "tag=vip&channel=sms") == []
    # a queue (the bot routes by what the customer asked) and a status
    by_queue: dict[str, list[int]] = {}
    for key in ("cy", "bo", "ana"):
        by_queue.setdefault(t[key]["queue"], []).append(t[key]["number"])
    for queue in ("general", "orders", "returns", "complaints"):
        assert await listed(client, f"queue={queue}") == by_queue.get(queue, [])
    await client.post(f"/api/tickets/{t['cy']['_id']}/status", json={"status": "solved"}, headers=headers)
    assert await listed(client) == [bo, ana]
    assert await listed(client, "status=solved") == [cy]
    assert await listed(client, "status=solved&q=password") == [cy]
    # SLA: ana's first response is overdue, bo's is due within 15 minutes (an answer moves it to resolution)
    now = utcnow()
    await runtime.hub.store.tickets.update_one({"_id": t["ana"]["_id"]},
                                               {"$set": {"sla.first_response_due": now - timedelta(minutes=5)}})
    await runtime.hub.store.tickets.update_one({"_id": t["bo"]["_id"]},
                                               {"$set": {"sla.first_response_due": now + timedelta(minutes=10)}})
    for ticket in (t["ana"], t["bo"]):
        await runtime.hub.tickets.index.refresh(ticket["_id"])
    assert await listed(client, "sla=breached") == [ana]
    assert await listed(client, "sla=due_soon") == [bo]
    assert await listed(client, "sla=ok") == []
    assert await listed(client, "sort=sla_due") == [ana, bo]
    page = await (await client.get("/api/tickets?sla=breached")).json()
    assert page["tickets"][0]["sla_state"] == "breached"
    counts = await (await client.get("/api/tickets/counts")).json()
    assert counts["active"] == 2 and counts["mine"] == 1 and counts["unassigned"] == 1
    active_queues = [t["ana"]["queue"], t["bo"]["queue"]]
    assert counts["queues"] == {q: active_queues.count(q) for q in ("complaints", "general", "orders", "returns")}
    await assert_list_fields_current(runtime.hub)
    # every change is in the ticket's history
    kinds = [e["type"] async for e in runtime.hub.store.events.find({"ticket_id": t["ana"]["_id"]})]
    assert "ticket.tags_changed" in kinds and "ticket.priority_changed" in kinds


async def test_paging_is_stable_while_tickets_arrive(client: TestClient[Any, Any], agent: dict[str, Any],
                                                     runtime: Runtime) -> None:
    numbers = [(await open_ticket(runtime, "sms", Sender(f"+44770090{i:04d}", phone=f"+44770090{i:04d}"),
                                  "hello there"))["number"] for i in range(5)]
    first = await (await client.get("/api/tickets?size=2")).json()
    assert [t["number"] for t in first["tickets"]] == [numbers[4], numbers[3]]
    await open_ticket(runtime, "sms", Sender("+447700909999", phone="+447700909999"), "a newcomer")
    second = await (await client.get(f"/api/tickets?size=2&after={first['next']}")).json()
    assert [t["number"] for t in second["tickets"]] == [numbers[2], numbers[1]]
    third = await (await client.get(f"/api/tickets?size=2&after={second['next']}")).json()
    assert [t["number"] for t in third["tickets"]] == [numbers[0]] and third["next"] is None
    waiting = await (await client.get("/api/tickets?size=4&sort=oldest_waiting")).json()
    rest = await (await client.get(f"/api/tickets?size=4&sort=oldest_waiting&after={waiting['next']}")).json()
    assert [t["number"] for t in waiting["tickets"] + rest["tickets"]] == sorted([*numbers, numbers[-1] + 1])
    # a search paged in another order: the cursor is the rank, not a ticket number
    seen: list[int] = []
    after = ""
    for _ in range(3):
        page = await (await client.get(f"/api/tickets?q=hello&size=2&sort=oldest_waiting{after}")).json()
        seen += [t["number"] for t in page["tickets"]]
        after = f"&after={page['next']}" if page["next"] else ""
    assert seen == numbers and after == ""


async def test_bad_list_parameters_and_edits_are_refused(client: TestClient[Any, Any], agent: dict[str, Any],
                                                         runtime: Runtime) -> None:
    for query in ("size=0", "size=101", "size=x", "sort=random", "sla=late", "priority=meh", "assignee=bob",
                  "status=nope", "status=closed&sort=sla_due"):
        resp = await client.get(f"/api/tickets?{query}")
        assert resp.status == 400, query
        assert (await resp.json())["error"]
    t = await desk(runtime)
    url = f"/api/tickets/{t['ana']['_id']}"
    headers = {"X-CSRF-Token": agent["csrf"]}
    for body in ({"priority": "asap"}, {"tags": "vip"}, {"tags": [""]}, {"tags": ["<b>"]}, {"tags": ["x" * 41]},
                 {"tags": [f"t{i}" for i in range(21)]}, {"colour": "red"}):
        resp = await client.patch(url, json=body, headers=headers)
        assert resp.status == 422, body
    assert (await client.patch("/api/tickets/0123456789abcdef01234567", json={"priority": "low"},
                               headers=headers)).status == 404


async def test_an_erased_customer_is_no_longer_found(client: TestClient[Any, Any], agent: dict[str, Any],
                                                     runtime: Runtime) -> None:
    assert runtime.hub is not None
    t = await desk(runtime)
    assert await listed(client, "q=kettle&status=closed,new,open") == [t["ana"]["number"]]
    await runtime.hub.privacy.erase(t["ana"]["contact_id"], actor=agent["account"])
    for query in ("q=kettle", "q=ana%40example.com", "q=Lima"):
        assert await listed(client, f"{query}&status=new,open,pending,solved,closed") == []
    assert t["ana"]["number"] not in await listed(client)  # closed by the erasure: no longer active
    assert await listed(client, "status=closed") == [t["ana"]["number"]]
    await assert_list_fields_current(runtime.hub)


async def test_tickets_stored_before_the_list_fields_are_indexed_at_start(
        client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None
    t = await desk(runtime)
    await runtime.hub.store.tickets.update_many({}, {"$unset": {"keys": "", "words": "", "words_live": ""}})
    assert await listed(client) == []
    assert await runtime.hub.tickets.index.backfill(batch=2) == 3
    assert await listed(client, "q=kettle") == [t["ana"]["number"]]
    assert await runtime.hub.tickets.index.backfill() == 0
