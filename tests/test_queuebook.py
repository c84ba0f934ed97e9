"""Queues in the database (hub.queuebook): seeded once from the configuration, edited by admins in the desk,
followed by every hub process; escalation and routing follow the edited definition."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from agents_ui.appkeys import EXTRAS
from hub.audit import AuditLog
from hub.configdiff import FieldChange, SectionError
from hub.configsections import QueuesSection
from hub.models import Role
from hub.queuebook import QUEUES_CHANGED
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import _drop, login
from tests.helpers import eventually
from tests.test_widget_flow import say, widget_session


async def escalate(client: TestClient[Any, Any], runtime: Runtime) -> tuple[str, Any]:
    """A new widget visitor asks for a person, over HTTP: (their token, the ticket the hub opened for them)."""
    token = await widget_session(client)
    await say(client, token, "I want a human")
    assert runtime.hub is not None
    await runtime.hub.pipeline.drain()
    ticket = await runtime.hub.store.tickets.find_one({}, sort=[("number", -1)])
    assert ticket is not None
    return token, ticket


async def _agent(runtime: Runtime, username: str, queues: list[str]) -> Any:
    assert runtime.hub is not None
    account = await runtime.hub.accounts.create(username, f"{username}'s password", roles=[Role.AGENT])
    await runtime.hub.store.agents.update_one({"_id": account["_id"]}, {"$set": {"queues": queues}})
    return account


async def _admin(runtime: Runtime, client: TestClient[Any, Any]) -> dict[str, str]:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("root", "root's password", name="Root", roles=[Role.ADMIN])
    return {"X-CSRF-Token": await login(client, "root", "root's password")}


async def test_the_configuration_seeds_once_and_an_edit_survives_a_restart(settings: Settings, shop_bot: Any) -> None:
    first = Runtime(settings)
    await first.start(bot=shop_bot)
    try:
        assert first.hub is not None
        stored = {q["name"]: q for q in await first.hub.store.queues.find({}).to_list()}
        assert set(stored) == {"general", "orders", "returns", "complaints"}
        assert stored["orders"]["title"] == "Orders and delivery" and stored["orders"]["answer_target_seconds"] == 120
        await first.hub.queuebook.save("orders", {"title": "Parcels", "routing": "least_busy"}, create=False)
        await first.hub.queuebook.delete("complaints")
    finally:
        await first.stop()
    second = Runtime(settings)  # the same configuration again: the desk's edits win
    await second.start(bot=shop_bot)
    try:
        assert second.hub is not None
        live = second.hub.tickets.queues
        assert live["orders"].title == "Parcels" and live["orders"].routing == "least_busy"
        assert "complaints" not in live  # deleted in the desk: not seeded back
        assert await second.hub.store.queues.count_documents({}) == 3
    finally:
        await second.stop()
        await _drop(settings)


async def test_an_edit_in_one_process_is_followed_by_the_next_escalation_in_another(
        runtime: Runtime, client: TestClient[Any, Any], settings: Settings, shop_bot: Any) -> None:
    other = Runtime(settings)
    await other.start(bot=shop_bot)
    try:
        assert runtime.hub is not None and other.hub is not None
        headers = await _admin(runtime, client)
        resp = await client.patch("/api/admin/queues/general", headers=headers,
                                  json={"escalation_message": "A person from Support will take it from here."})
        assert resp.status == 200, await resp.text()
        async def followed() -> bool:
            assert other.hub is not None
            return other.hub.tickets.queues["general"].escalation_message.startswith("A person")

        await eventually(followed, what="the other process re-reading the queue book")
        async with TestClient(TestServer(other.app, host="127.0.0.1")) as widget:  # type: ignore[arg-type]
            _, ticket = await escalate(widget, other)
        told = await other.hub.store.messages.find_one({"author.kind": "system", "conversation_id":
                                                        ticket["conversation_ids"][0]})
        assert told is not None and told["text"].startswith("A person from Support will take it from here. "
                                                            f"Your ticket number is #{ticket['number']}.")
    finally:
        await other.stop()


async def test_admin_api_validates_audits_and_refuses_deleting_a_queue_with_open_tickets(
        runtime: Runtime, client: TestClient[Any, Any]) -> None:
    assert runtime.hub is not None
    headers = await _admin(runtime, client)
    await _agent(runtime, "ann", ["orders"])
    bad = await client.patch("/api/admin/queues/orders", headers=headers, json={"routing": "random"})
    assert bad.status == 422
    bad = await client.post("/api/admin/queues", headers=headers, json={"name": "Not A Slug"})
    assert bad.status == 422
    refused = await client.patch("/api/admin/queues/orders", headers=headers, json={"fallback_queue": "orders"})
    assert refused.status == 400 and "cannot fall back to itself" in (await refused.json())["error"]
    refused = await client.patch("/api/admin/queues/orders", headers=headers, json={"calendar": "nowhere"})
    assert refused.status == 400 and "no calendar named 'nowhere'" in (await refused.json())["error"]

    created = await client.post("/api/admin/queues", headers=headers, json={
        "name": "vip", "title": "VIP", "routing": "least_busy", "members": ["ann"], "fallback_queue": "general",
        "answer_target_seconds": 30, "service_level_goal": 0.9})
    assert created.status == 201, await created.text()
    assert (await created.json())["queue"]["members"] == ["ann"]
    ann = await runtime.hub.store.agents.find_one({"username": "ann"})
    assert ann is not None and ann["queues"] == ["orders", "vip"]  # the agent's own list is the membership
    assert runtime.hub.tickets.queues["vip"].fallback_queue == "general"
    assert runtime.app is not None and "vip" in runtime.app[EXTRAS]["workbench"].queues  # the bot may escalate there

    changed = await client.patch("/api/admin/queues/vip", headers=headers, json={"title": "Premium", "members": []})
    assert changed.status == 200
    [record] = (await (await client.get("/api/admin/audit", params={"action": "queue.updated"})).json())["entries"]
    assert record["details"]["before"]["title"] == "VIP" and record["details"]["after"]["title"] == "Premium"
    assert record["details"]["before"]["members"] == ["ann"] and record["details"]["after"]["members"] == []

    _, ticket = await escalate(client, runtime)  # into the default queue, general
    refused = await client.delete("/api/admin/queues/general", headers=headers)
    assert refused.status == 409 and "default queue" in (await refused.json())["error"]
    await runtime.hub.store.tickets.update_one({"_id": ticket["_id"]}, {"$set": {"queue": "vip"}})
    refused = await client.delete("/api/admin/queues/vip", headers=headers)
    assert refused.status == 409 and "1 open ticket" in (await refused.json())["error"]
    await runtime.hub.tickets.set_status(ticket["_id"], "solved", None)
    assert (await client.delete("/api/admin/queues/vip", headers=headers)).status == 200
    assert "vip" not in runtime.hub.tickets.queues
    assert await runtime.hub.store.events.count_documents({"type": QUEUES_CHANGED}) == 3


async def test_escalation_follows_an_edited_routing_mode_and_fallback(
        runtime: Runtime, client: TestClient[Any, Any]) -> None:
    hub = runtime.hub
    assert hub is not None
    headers = await _admin(runtime, client)
    ann = await _agent(runtime, "ann", ["orders"])
    await hub.presence.connect(ann["_id"])
    _, before = await escalate(client, runtime)
    assert before["queue"] == "general" and before.get("assignee_id") is None  # manual: nobody is assigned

    # Nobody serving general is online: its tickets go to orders, which assigns them automatically.
    assert (await client.patch("/api/admin/queues/general", headers=headers,
                               json={"fallback_queue": "orders"})).status == 200
    assert (await client.patch("/api/admin/queues/orders", headers=headers,
                               json={"routing": "least_busy"})).status == 200
    _, after = await escalate(client, runtime)
    landed = await hub.store.tickets.find_one({"_id": after["_id"]})
    assert landed is not None and landed["queue"] == "orders" and landed["assignee_id"] == ann["_id"]
    created = await hub.store.events.find_one({"type": "ticket.created", "ticket_id": after["_id"]})
    assert created is not None and created["data"]["fallback_from"] == "general"

    # Once a general agent is online, general keeps its tickets again.
    ben = await _agent(runtime, "ben", ["general"])
    await hub.presence.connect(ben["_id"])
    _, third = await escalate(client, runtime)
    assert third["queue"] == "general"

    # Switching general to auto-assign hands its waiting tickets to its online member at once.
    assert (await client.patch("/api/admin/queues/general", headers=headers,
                               json={"routing": "least_busy"})).status == 200
    for waiting in (before, third):
        now = await hub.store.tickets.find_one({"_id": waiting["_id"]})
        assert now is not None and now["assignee_id"] == ben["_id"]




async def test_a_queue_caps_how_many_of_its_tickets_one_agent_is_given(
        runtime: Runtime, client: TestClient[Any, Any]) -> None:
    hub = runtime.hub
    assert hub is not None
    headers = await _admin(runtime, client)
    ann = await _agent(runtime, "ann", ["general"])  # capacity 5
    await hub.presence.connect(ann["_id"])
    resp = await client.patch("/api/admin/queues/general", headers=headers,
                              json={"routing": "least_busy", "max_per_agent": 1})
    assert resp.status == 200 and (await resp.json())["queue"]["max_per_agent"] == 1
    _, first = await escalate(client, runtime)
    _, second = await escalate(client, runtime)
    tickets = {t["_id"]: t for t in await hub.store.tickets.find({}).to_list()}
    assert tickets[first["_id"]]["assignee_id"] == ann["_id"]
    assert tickets[second["_id"]]["assignee_id"] is None  # Ann has capacity left, but not for general
    ben = await _agent(runtime, "ben", ["general"])
    await hub.presence.connect(ben["_id"])
    await hub.router.route_queue("general")
    now = await hub.store.tickets.find_one({"_id": second["_id"]})
    assert now is not None and now["assignee_id"] == ben["_id"]


async def test_config_sections_set_members_and_refuse_before_writing(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    await _agent(runtime, "ann", ["orders"])
    audit = AuditLog(hub.store)
    section = QueuesSection("general")
    changes = await section.diff(hub.store, [{"name": "returns", "members": ["ann", "admin"]}], prune=False)
    # admin has no queue list (serves every queue): only ann joins
    assert [(c.key, c.kind, c.fields) for c in changes] == [
        ("returns", "changed", (FieldChange("members", [], ["ann"]),))]
    await section.apply(hub.store, changes, audit)
    ann = await hub.store.agents.find_one({"username": "ann"})
    assert ann is not None and ann["queues"] == ["orders", "returns"]
    assert await section.diff(hub.store, [{"name": "returns", "members": ["ann"]}], prune=False) == []

    with pytest.raises(SectionError, match=re.escape("queues.orders.members: no user named nobody")):
        await section.diff(hub.store, [{"name": "orders", "members": ["nobody"]}], prune=False)
    with pytest.raises(SectionError, match=re.escape("queues.general: the default queue cannot be removed")):
        await section.diff(hub.store, [{"name": "orders"}], prune=True)
    with pytest.raises(SectionError, match=re.escape("queues.orders.colour: not a queue field")):
        await section.diff(hub.store, [{"name": "orders", "colour": "red"}], prune=False)
    pruned = await section.diff(hub.store, [{"name": n} for n in ("general", "orders", "returns")], prune=True)
    assert [(c.key, c.kind) for c in pruned] == [("complaints", "removed")]
    await section.apply(hub.store, pruned, audit)
    await eventually(lambda: _gone(hub, "complaints"), what="the hub following the removal")


async def _gone(hub: Any, name: str) -> bool:
    return name not in hub.tickets.queues
