"""Automation rules and macros (hub.automation): the admin API's validation, a rule's run on a new email
ticket (tags, queue, the timeline line), once per event across two hub instances, the loop guard, macros."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.models import InboundMessage, Role, Sender
from hub.realtime import Change
from hub.tickets import QueueConfig
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import login, make_settings
from tests.helpers import eventually
from tests.test_ticket_list import open_ticket

INVOICE_RULE = {"name": "Invoices", "event": "ticket.created",
                "conditions": {"channels": ["email"], "text": "invoice"},
                "actions": {"tags": ["billing"], "queue": "orders"}}


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    settings = make_settings(mongo_uri, tmp_path)
    settings.queues["orders"] = QueueConfig(name="orders", title="Orders")
    return settings


@pytest.fixture
async def admin(runtime: Runtime, client: TestClient[Any, Any]) -> dict[str, str]:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("ada", "ada's long password", name="Ada", roles=[Role.ADMIN])
    return {"X-CSRF-Token": await login(client, "ada", "ada's long password")}


async def automation_lines(runtime: Runtime, ticket: dict[str, Any]) -> list[str]:
    assert runtime.hub is not None
    return [m["text"] async for m in runtime.hub.store.messages.find(
        {"conversation_id": {"$in": ticket["conversation_ids"]}, "metadata.automation": {"$exists": True}})]


async def settled(runtime: Runtime, ticket: dict[str, Any], lines: int = 1) -> dict[str, Any]:
    """The ticket once `lines` automation lines are on it."""
    async def done() -> bool:
        return len(await automation_lines(runtime, ticket)) >= lines

    await eventually(done, what="the automation's run")
    assert runtime.hub is not None
    return await runtime.hub.tickets.get(ticket["_id"])


async def test_bad_rules_are_refused_with_the_reason(runtime: Runtime, client: TestClient[Any, Any],
                                                     admin: dict[str, str]) -> None:
    bad = [
        ({**INVOICE_RULE, "event": "ticket.exploded"}, 422, "event"),
        ({**INVOICE_RULE, "conditions": {"colour": "red"}}, 422, "colour"),
        ({**INVOICE_RULE, "actions": {"launch": "rockets"}}, 422, "launch"),
        ({**INVOICE_RULE, "actions": {"status": "solved"}}, 422, "status"),  # a rule never closes tickets
        ({**INVOICE_RULE, "actions": {"queue": "nowhere"}}, 400, "no queue named 'nowhere'"),
        ({**INVOICE_RULE, "actions": {"assignee": "ghost"}}, 400, "no desk user 'ghost'"),
        ({**INVOICE_RULE, "actions": {"response": "missing"}}, 400, "no canned response"),
        ({**INVOICE_RULE, "actions": {"priority": "whenever"}}, 400, "actions.priority"),
        ({**INVOICE_RULE, "actions": {}}, 400, "at least one action"),
        ({**INVOICE_RULE, "conditions": {"queues": ["nowhere"]}}, 400, "conditions.queues"),
    ]
    for body, status, reason in bad:
        resp = await client.post("/api/admin/automation", json=body, headers=admin)
        assert resp.status == status, (body, await resp.text())
        assert reason in await resp.text()
    resp = await client.post("/api/admin/automation", json=INVOICE_RULE, headers=admin)
    assert resp.status == 201, await resp.text()
    rule = (await resp.json())["rule"]
    listed = await (await client.get("/api/admin/automation")).json()
    assert [r["name"] for r in listed["rules"]] == ["Invoices"]
    assert (await client.put(f"/api/admin/automation/{rule['id']}", json={**INVOICE_RULE, "enabled": False},
                             headers=admin)).status == 200
    assert (await client.delete(f"/api/admin/automation/{rule['id']}", headers=admin)).status == 200
    assert (await client.delete(f"/api/admin/automation/{rule['id']}", headers=admin)).status == 404
    assert runtime.hub is not None
    trail = [a["action"] async for a in runtime.hub.store.audit.find(
        {"action": {"$regex": "^automation"}}, sort=[("at", 1)])]
    assert trail == ["automation.rule_saved", "automation.rule_saved", "automation.rule_deleted"]


async def test_an_agent_cannot_edit_rules(runtime: Runtime, client: TestClient[Any, Any],
                                          agent: dict[str, Any]) -> None:
    resp = await client.post("/api/admin/automation", json=INVOICE_RULE, headers={"X-CSRF-Token": agent["csrf"]})
    assert resp.status == 403


async def test_a_rule_tags_and_routes_a_new_email_ticket_once(runtime: Runtime, settings: Settings,
                                                              shop_bot: Any) -> None:
    """Two hub instances see the same event; the rule runs once; a non-matching email is left alone."""
    hub = runtime.hub
    assert hub is not None
    await hub.automation.save_rule(INVOICE_RULE)
    other = Runtime(settings)
    await other.start(bot=shop_bot)
    try:
        assert other.hub is not None
        await eventually(lambda: _has_rules(other), what="the other hub's rule cache")
        ticket = await open_ticket(runtime, "email", Sender("kay@example.com", email="kay@example.com"),
                                   "Please resend my invoice", subject="Invoice 2211")
        plain = await open_ticket(runtime, "email", Sender("lee@example.com", email="lee@example.com"),
                                  "Where is my parcel", subject="Parcel")
        done = await settled(runtime, ticket)
        assert done["tags"] == ["billing"] and done["queue"] == "orders"
        assert await automation_lines(runtime, ticket) == [
            "Automation 'Invoices' tagged billing and moved this to Orders"]
        assert await hub.store.automation_runs.count_documents({"ticket_id": ticket["_id"]}) == 1
        # the queue move is in the ticket's history, as the automation's
        moves = await hub.store.events.find({"ticket_id": ticket["_id"], "type": "ticket.transferred"}).to_list()
        assert [(m["data"]["to_queue"], m["data"]["by"]) for m in moves] == [("orders", "automation")]
        # the other ticket's creation went by too (its run would be there by now had it matched)
        await settled(runtime, ticket)
        untouched = await hub.tickets.get(plain["_id"])
        assert untouched["queue"] == "general" and not untouched.get("tags")
        assert await automation_lines(runtime, plain) == []
        # ... and every run, in both processes, is over: still one line
        await hub.automation.stop()
        await other.hub.automation.stop()
        assert len(await automation_lines(runtime, ticket)) == 1
    finally:
        await other.stop()


async def _has_rules(rt: Runtime) -> bool:
    assert rt.hub is not None
    return bool(rt.hub.automation._rules)


async def test_the_loop_guard(runtime: Runtime) -> None:
    """The automation's own events never trigger rules, and a ticket gets a bounded number of runs a minute."""
    hub = runtime.hub
    assert hub is not None
    await hub.automation.save_rule({"name": "Note it", "event": "customer.replied", "actions": {"note": "seen"}})
    await hub.automation.save_rule({"name": "Tag it", "event": "customer.replied", "actions": {"tags": ["x"]}})
    ticket = await open_ticket(runtime, "email", Sender("mo@example.com", email="mo@example.com"), "Hello")
    own = {"_id": ticket["_id"], "type": "ticket.created", "ticket_id": ticket["_id"], "data": {"by": "automation"}}
    assert await hub.automation.handle(Change("events", "insert", own)) == []
    hub.automation.max_runs_per_minute = 1
    message = await hub.store.messages.find_one({"conversation_id": ticket["conversation_ids"][-1],
                                                 "author.kind": "customer"})
    assert message is not None
    late = {**message, "created_at": ticket["created_at"].replace(year=ticket["created_at"].year + 1)}
    ran = await hub.automation.handle(Change("messages", "insert", late))
    assert len(ran) == 1  # the second rule is held back: the ticket had its one run this minute
    assert await hub.automation.handle(Change("messages", "insert", late)) == []  # and the event is taken


async def test_a_macro_applies_in_one_click(runtime: Runtime, client: TestClient[Any, Any],
                                            agent: dict[str, Any]) -> None:
    hub = runtime.hub
    assert hub is not None
    await hub.responses.create({"shortcut": "refund", "title": "Refund", "text": "Hi {{customer.first_name}}, "
                                "your refund is on its way."}, by=agent["account"]["_id"])
    macro = await hub.automation.save_macro({"name": "Refund sent", "actions": {
        "tags": ["refund"], "priority": "high", "status": "pending", "response": "refund"}})
    ticket = await open_ticket(runtime, "email", Sender("nia@example.com", email="nia@example.com",
                                                            display_name="Nia Long"),
                               "Refund please")
    headers = {"X-CSRF-Token": agent["csrf"]}
    await hub.tickets.assign(ticket["_id"], agent["account"]["_id"], None)
    listed = await (await client.get("/api/macros")).json()
    assert [m["name"] for m in listed["macros"]] == ["Refund sent"]
    # the editor's choices (the team's usernames) are for those who write macros, not for an agent
    assert set(await (await client.get("/api/macros?choices=1")).json()) == {"macros"}
    resp = await client.post(f"/api/tickets/{ticket['_id']}/macros/{macro['_id']}", headers=headers)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["insert_text"] == "Hi Nia, your refund is on its way."
    assert body["failed"] == []
    after = await hub.tickets.get(ticket["_id"])
    assert (after["tags"], after["priority"], after["status"]) == (["refund"], "high", "pending")
    # agents apply macros; they do not write them
    assert (await client.post("/api/macros", json={"name": "x", "actions": {"tags": ["y"]}},
                              headers=headers)).status == 403


async def test_an_idle_rule_runs_once_per_quiet_spell_across_two_hubs(runtime: Runtime, settings: Settings,
                                                                      shop_bot: Any) -> None:
    hub = runtime.hub
    assert hub is not None
    await hub.automation.save_rule({"name": "Nudge", "event": "ticket.idle", "idle_hours": 4,
                                    "actions": {"priority": "high"}})
    other = Runtime(settings)
    await other.start(bot=shop_bot)
    try:
        assert other.hub is not None
        await eventually(lambda: _has_rules(other), what="the other hub's rule cache")
        ticket = await open_ticket(runtime, "email", Sender("oz@example.com", email="oz@example.com"), "Hello")
        at = ticket["updated_at"]
        assert await hub.automation.sweep_idle(at + timedelta(hours=3)) == []
        first, second = await asyncio.gather(hub.automation.sweep_idle(at + timedelta(hours=5)),
                                             other.hub.automation.sweep_idle(at + timedelta(hours=5)))
        assert sorted(first + second) == [("Nudge", ticket["number"])]
        done = await hub.tickets.get(ticket["_id"])
        assert done["priority"] == "high"
        assert await automation_lines(runtime, ticket) == ["Automation 'Nudge' set priority high"]
        # the run changed the ticket; a later sweep before a new quiet spell has passed finds nothing to do
        assert await hub.automation.sweep_idle(done["updated_at"] + timedelta(hours=1)) == []
    finally:
        await other.stop()


async def test_an_idle_rule_needs_its_hours(runtime: Runtime, client: TestClient[Any, Any],
                                            admin: dict[str, str]) -> None:
    body = {"name": "Nudge", "event": "ticket.idle", "actions": {"priority": "high"}}
    resp = await client.post("/api/admin/automation", json=body, headers=admin)
    assert resp.status == 400 and "idle_hours" in await resp.text()
    resp = await client.post("/api/admin/automation", json={**body, "idle_hours": 0}, headers=admin)
    assert resp.status == 422 and "idle_hours" in await resp.text()
    assert (await client.post("/api/admin/automation", json={**body, "idle_hours": 8}, headers=admin)).status == 201


async def test_conditions_on_customer_attribute_business_hours_queue_and_tags(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    ticket = await open_ticket(runtime, "email", Sender("pat@example.com", email="pat@example.com"), "Hi")
    await hub.store.contacts.update_one({"_id": ticket["contact_id"]}, {"$set": {"attributes": {"plan": "gold"}}})
    ticket = await hub.tickets.edit(ticket["_id"], {"_id": None}, tags=["vip", "eu"])
    match = hub.automation._matches
    assert await match({"attribute": "plan", "value": "gold"}, ticket, "")
    assert not await match({"attribute": "plan", "value": "free"}, ticket, "")
    assert await match({"business_hours": "open"}, ticket, "")  # a queue without a calendar runs 24/7
    assert not await match({"business_hours": "closed"}, ticket, "")
    assert await match({"queues": ["general"], "tags": ["vip"], "channels": ["email"]}, ticket, "")
    assert not await match({"tags": ["vip", "us"]}, ticket, "")
    assert not await match({"channels": ["widget"]}, ticket, "")
    assert await match({"text": "refund"}, ticket, "Where is my REFUND?")


async def test_customer_replies_and_ratings_trigger_their_rules(runtime: Runtime) -> None:
    """Through the real bus: a customer's later message runs the `customer.replied` rule, a rating the
    `csat.received` one; the customer's first words (which opened the ticket) do not count as a reply."""
    hub = runtime.hub
    assert hub is not None
    await hub.automation.save_rule({"name": "Chaser", "event": "customer.replied",
                                    "conditions": {"text": "still waiting"}, "actions": {"priority": "urgent"}})
    await hub.automation.save_rule({"name": "Rated", "event": "csat.received", "actions": {"tags": ["rated"]}})
    who = Sender("ray@example.com", email="ray@example.com")
    ticket = await open_ticket(runtime, "email", who, "My order is late")
    conversation = await hub.store.conversations.find_one({"_id": ticket["conversation_ids"][-1]})
    assert conversation is not None
    await hub.ingest(InboundMessage(channel="email", external_id="later-1", thread_key=conversation["thread_key"],
                                    sender=who, text="I am still waiting!"))
    await hub.pipeline.drain()
    chased = await settled(runtime, ticket)
    assert chased["priority"] == "urgent"
    await hub.tickets.set_status(ticket["_id"], "solved", None)
    await hub.tickets.rate(ticket["_id"], 2)
    rated = await settled(runtime, ticket, lines=2)
    assert "rated" in rated["tags"]
    assert await automation_lines(runtime, ticket) == ["Automation 'Chaser' set priority urgent",
                                                       "Automation 'Rated' tagged rated"]
