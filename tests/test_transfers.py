"""Transfers from the desk: to a queue, to an agent, refused for who cannot take it; history and privacy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.models import Role
from hub.tickets import QueueConfig
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import http_client, login, make_settings
from tests.test_widget_flow import history, say, widget_session

BILLING_HELLO = "You are now with our billing team, {{customer.first_name}}."


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    """The shipped queues plus Billing, which tells a customer moved into it who has them now."""
    settings = make_settings(mongo_uri, tmp_path)
    settings.queues["billing"] = QueueConfig(name="billing", title="Billing", on_transfer_message=BILLING_HELLO)
    settings.queues["vip"] = QueueConfig(name="vip", title="VIP", routing="least_busy")
    return settings


async def new_ticket(client: TestClient[Any, Any], runtime: Runtime, name: str = "Eve") -> tuple[str, Any]:
    """A new widget visitor asks for a person: (their token, their ticket)."""
    token = await widget_session(client, name=name)
    await say(client, token, "I want to talk to a human")
    assert runtime.hub is not None
    await runtime.hub.pipeline.drain()
    ticket = await runtime.hub.store.tickets.find_one({}, sort=[("number", -1)])
    assert ticket is not None
    return token, ticket


def moves(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The timeline lines of a ticket's moves (GET /api/tickets/{id})."""
    return [m for m in detail["messages"] if "transfer" in (m.get("metadata") or {})]


@pytest.fixture
async def supervisor(runtime: Runtime) -> AsyncIterator[tuple[TestClient[Any, Any], dict[str, str]]]:
    """A second browser, as it were: a supervisor (not an agent) logged in on their own client."""
    assert runtime.hub is not None
    await runtime.hub.accounts.create("sam", "sam's long password", name="Sam", roles=[Role.SUPERVISOR])
    async with http_client(runtime) as other:
        csrf = await login(other, "sam", "sam's long password")
        yield other, {"X-CSRF-Token": csrf}


async def test_an_agent_moves_their_answered_ticket_to_another_queue_with_a_private_note(
    client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime
) -> None:
    assert runtime.hub is not None
    headers = {"X-CSRF-Token": agent["csrf"]}
    token, ticket = await new_ticket(client, runtime)
    url = f"/api/tickets/{ticket['_id']}"
    assert (await client.post(f"{url}/reply", json={"text": "Hello, looking"}, headers=headers)).status == 201
    answered = await runtime.hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert answered is not None and answered["assignee_id"] == agent["account"]["_id"]

    resp = await client.post(f"{url}/transfer", json={"queue": "billing", "note": "VAT refund, secret-ish"},
                             headers=headers)
    assert resp.status == 200, await resp.text()
    moved = (await resp.json())["ticket"]
    assert moved["queue"] == "billing" and moved["assignee_id"] is None and moved["status"] == "open"
    stored = await runtime.hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert stored is not None
    assert stored["first_agent_reply_at"] == answered["first_agent_reply_at"]  # a transfer is not an answer
    assert stored["sla"] == answered["sla"]
    # The desk's list follows the move: it is in Billing's view, unassigned, and no longer in General's.
    listed = {q: [t["id"] for t in (await (await client.get("/api/tickets", params={"queue": q})).json())["tickets"]]
              for q in ("billing", "general")}
    assert listed == {"billing": [str(ticket["_id"])], "general": []}, listed

    event = await runtime.hub.store.events.find_one({"type": "ticket.transferred", "ticket_id": ticket["_id"]})
    assert event is not None
    assert event["data"]["from_queue"] == "general" and event["data"]["to_queue"] == "billing"
    assert event["data"]["from_agent_id"] == agent["account"]["_id"] and event["data"]["to_agent_id"] is None
    assert event["data"]["by"] == agent["account"]["_id"] and event["data"]["note"] is True
    assert "VAT" not in str(event)  # events go to every desk feed: never the note's text

    detail = await (await client.get(url)).json()
    line = moves(detail)[-1]
    assert line["private"] is True and line["text"] == "VAT refund, secret-ish"
    assert line["metadata"]["transfer"]["summary"] == "Alice moved this to Billing"

    seen = [m["text"] for m in await history(client, token)]
    assert "You are now with our billing team, Eve." in seen
    assert not any("VAT" in text for text in seen)  # the note stays private


async def test_a_move_within_a_queue_tells_the_customer_nothing(
    client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime
) -> None:
    assert runtime.hub is not None
    headers = {"X-CSRF-Token": agent["csrf"]}
    token, ticket = await new_ticket(client, runtime)
    url = f"/api/tickets/{ticket['_id']}"
    assert (await client.post(f"{url}/assign", json={"agent_id": "me"}, headers=headers)).status == 200
    before = await history(client, token)
    resp = await client.post(f"{url}/transfer", json={}, headers=headers)  # hand it back to its queue
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["ticket"]["assignee_id"] is None
    assert await history(client, token) == before
    line = moves(await (await client.get(url)).json())[-1]
    assert line["metadata"]["transfer"]["summary"] == "Alice put this back in General support, unassigned"
    again = await client.post(f"{url}/transfer", json={"queue": "general"}, headers=headers)
    assert again.status == 400 and "already there" in (await again.json())["error"]


async def test_a_hand_over_respects_the_target_agents_presence_and_capacity(
    client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime
) -> None:
    hub = runtime.hub
    assert hub is not None
    headers = {"X-CSRF-Token": agent["csrf"]}
    bob = await hub.accounts.create("bob", "bob's long password", name="Bob", roles=[Role.AGENT], capacity=1)
    _token, first = await new_ticket(client, runtime, "Eve")
    _token, second = await new_ticket(client, runtime, "Mallory")
    url = f"/api/tickets/{first['_id']}/transfer"
    body = {"agent_id": str(bob["_id"]), "note": "you know this customer"}

    offline = await client.post(url, json=body, headers=headers)
    assert offline.status == 409 and (await offline.json())["error"].startswith("Bob is offline")
    connection = await hub.presence.connect(bob["_id"])
    await hub.presence.choose(bob["_id"], "away")
    away = await client.post(url, json=body, headers=headers)
    assert away.status == 409 and (await away.json())["error"].startswith("Bob is away")
    await hub.presence.choose(bob["_id"], "available")

    options = await (await client.get(url)).json()
    assert "Bob — online, 0/1" in [a["label"] for a in options["agents"]]
    assert "Alice" not in [a["name"] for a in options["agents"]]  # not yourself
    assert {"name": "billing", "title": "Billing"} in options["queues"]

    resp = await client.post(url, json=body, headers=headers)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["ticket"]["assignee_id"] == str(bob["_id"])
    event = await hub.store.events.find_one({"type": "ticket.transferred", "ticket_id": first["_id"]})
    assert event is not None and event["data"]["to_agent_id"] == bob["_id"]

    full = await client.post(f"/api/tickets/{second['_id']}/transfer", json={"agent_id": str(bob["_id"])},
                             headers=headers)
    assert full.status == 409 and (await full.json())["error"] == "Bob is at capacity (1 of 1 tickets)"
    await hub.presence.disconnect(connection, bob["_id"])


async def test_roles_agents_move_their_own_tickets_supervisors_any_and_are_audited(
    client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime,
    supervisor: tuple[TestClient[Any, Any], dict[str, str]],
) -> None:
    hub = runtime.hub
    assert hub is not None
    headers = {"X-CSRF-Token": agent["csrf"]}
    bob = await hub.accounts.create("bob", "bob's long password", name="Bob", roles=[Role.AGENT])
    _token, ticket = await new_ticket(client, runtime)
    await hub.tickets.assign(ticket["_id"], bob["_id"], None)
    url = f"/api/tickets/{ticket['_id']}/transfer"

    mine_not = await client.post(url, json={"queue": "billing"}, headers=headers)
    assert mine_not.status == 403 and (await mine_not.json())["error"] == (
        "this ticket is Bob's: ask a supervisor to move it")
    assert (await client.post(url, json={"queue": 5}, headers=headers)).status == 422

    sup, sup_headers = supervisor
    bad_queue = await sup.post(url, json={"queue": "nowhere"}, headers=sup_headers)
    assert bad_queue.status == 400 and "nowhere" in (await bad_queue.json())["error"]
    bad_agent = await sup.post(url, json={"agent_id": "0123456789abcdef01234567"}, headers=sup_headers)
    assert bad_agent.status == 400 and "no such agent" in (await bad_agent.json())["error"]
    resp = await sup.post(url, json={"queue": "billing", "note": "Bob is off sick"}, headers=sup_headers)
    assert resp.status == 200, await resp.text()
    entry = await hub.store.audit.find_one({"action": "ticket.transferred"})
    assert entry is not None
    assert entry["actor"]["username"] == "sam" and entry["target"]["name"] == f"#{ticket['number']}"
    assert entry["details"] == {"from_queue": "general", "to_queue": "billing", "from_agent": "bob",
                                "to_agent": None, "note": True}
    line = moves(await (await sup.get(f"/api/tickets/{ticket['_id']}")).json())[-1]
    assert line["metadata"]["transfer"]["summary"] == "Sam moved this to Billing"
    assert line["metadata"]["transfer"]["from_agent"] == "Bob"

    # A supervisor reassigns to a colleague who is online: audited with both usernames.
    connection = await hub.presence.connect(bob["_id"])
    resp = await sup.post(url, json={"agent_id": str(bob["_id"])}, headers=sup_headers)
    assert resp.status == 200, await resp.text()
    entries = await hub.store.audit.find({"action": "ticket.transferred"}, sort=[("at", 1), ("_id", 1)]).to_list()
    assert entries[-1]["details"]["to_agent"] == "bob" and entries[-1]["details"]["from_agent"] is None
    line = moves(await (await sup.get(f"/api/tickets/{ticket['_id']}")).json())[-1]
    assert line["metadata"]["transfer"]["summary"] == "Sam handed this to Bob" and line["text"] == ""
    await hub.presence.disconnect(connection, bob["_id"])

    await hub.accounts.create("tess", "trainer password", roles=[Role.TRAINER])
    async with http_client(runtime) as trainer:
        csrf = await login(trainer, "tess", "trainer password")
        refused = await trainer.post(url, json={"queue": "general"}, headers={"X-CSRF-Token": csrf})
        assert refused.status == 403


async def test_a_solved_ticket_cannot_be_moved(
    client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime
) -> None:
    assert runtime.hub is not None
    headers = {"X-CSRF-Token": agent["csrf"]}
    _token, ticket = await new_ticket(client, runtime)
    await runtime.hub.tickets.set_status(ticket["_id"], "solved", agent["account"])
    resp = await client.post(f"/api/tickets/{ticket['_id']}/transfer", json={"queue": "billing"}, headers=headers)
    assert resp.status == 400 and "solved" in (await resp.json())["error"]
    assert (await client.post("/api/tickets/0123456789abcdef01234567/transfer", json={"queue": "billing"},
                              headers=headers)).status == 404


async def test_a_waiting_ticket_moved_to_a_least_busy_queue_is_routed_there(
    client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime
) -> None:
    hub = runtime.hub
    assert hub is not None
    vic = await hub.accounts.create("vic", "vic's long password", name="Vic", roles=[Role.AGENT])
    await hub.store.agents.update_one({"_id": vic["_id"]}, {"$set": {"queues": ["vip"]}})
    connection = await hub.presence.connect(vic["_id"])
    _token, ticket = await new_ticket(client, runtime)
    resp = await client.post(f"/api/tickets/{ticket['_id']}/transfer", json={"queue": "vip"},
                             headers={"X-CSRF-Token": agent["csrf"]})
    assert resp.status == 200, await resp.text()
    routed = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert routed is not None and routed["queue"] == "vip" and routed["assignee_id"] == vic["_id"]
    # Vic works only VIP: handing him a General ticket is refused, saying so.
    _token, other = await new_ticket(client, runtime, "Mallory")
    refused = await client.post(f"/api/tickets/{other['_id']}/transfer", json={"agent_id": str(vic["_id"])},
                                headers={"X-CSRF-Token": agent["csrf"]})
    assert refused.status == 409 and (await refused.json())["error"] == "Vic does not work the General support queue"
    await hub.presence.disconnect(connection, vic["_id"])
