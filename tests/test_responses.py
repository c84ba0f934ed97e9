"""Canned responses: supervisors keep the library; agents get them filled for their ticket."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.conftest import login
from tests.test_widget_flow import escalate

REFUND = {"shortcut": "refund", "title": "Refund on its way",
          "text": "Hi {{customer.first_name}}, your refund for ticket #{{ticket.number}} is on its way. "
                  "{{agent.name}} ({{agent.nickname}})"}


async def test_supervisor_keeps_the_library_and_agents_get_it_filled_for_their_ticket(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    hub = runtime.hub
    assert hub is not None
    _token, ticket = await escalate(client, runtime)
    await hub.store.contacts.update_one({"_id": ticket["contact_id"]}, {"$set": {"name": "Ada Lovelace"}})

    # An agent reads the library but cannot change it.
    refused = await client.post("/api/responses", json=REFUND, headers={"X-CSRF-Token": agent["csrf"]})
    assert refused.status == 403
    await hub.accounts.create("sue", "supervisor password", name="Sue", roles=[Role.SUPERVISOR])
    await client.post("/api/auth/logout", json={}, headers={"X-CSRF-Token": agent["csrf"]})
    csrf = await login(client, "sue", "supervisor password")
    headers = {"X-CSRF-Token": csrf}
    created = await client.post("/api/responses", json=REFUND, headers=headers)
    assert created.status == 201, await created.text()
    refund_id = (await created.json())["response"]["id"]
    again = await client.post("/api/responses", json={**REFUND, "title": "Another"}, headers=headers)
    assert again.status == 409 and "refund" in (await again.json())["error"]
    bad = await client.post("/api/responses", json={**REFUND, "shortcut": "Has Spaces"}, headers=headers)
    assert bad.status == 400 and "shortcut" in (await bad.json())["error"]
    hours = await client.post("/api/responses", headers=headers,
                              json={"shortcut": "hours", "title": "Opening hours", "text": "9 to 5."})
    hours_id = (await hours.json())["response"]["id"]
    edited = await client.put(f"/api/responses/{hours_id}", headers=headers,
                              json={"shortcut": "hours", "title": "Opening hours", "text": "9 to 6, Mon-Sat."})
    assert (await edited.json())["response"]["text"] == "9 to 6, Mon-Sat."
    clash = await client.put(f"/api/responses/{hours_id}", headers=headers, json=REFUND)
    assert clash.status == 409
    await client.post("/api/auth/logout", json={}, headers=headers)

    csrf = await login(client, "alice", "correct horse battery")
    listed = await (await client.get("/api/responses", params={"ticket": str(ticket["_id"])})).json()
    assert [r["shortcut"] for r in listed["responses"]] == ["hours", "refund"]
    refund = listed["responses"][1]
    assert refund["id"] == refund_id
    assert refund["rendered"] == (f"Hi Ada, your refund for ticket #{ticket['number']} is on its way. "
                                  "Alice ({{agent.nickname}})")  # an unknown placeholder stays visible
    assert (await client.get("/api/responses", params={"ticket": "0123456789abcdef01234567"})).status == 404

    await hub.accounts.create("sam", "supervisor password", name="Sam", roles=[Role.SUPERVISOR])
    await client.post("/api/auth/logout", json={}, headers={"X-CSRF-Token": csrf})
    headers = {"X-CSRF-Token": await login(client, "sam", "supervisor password")}
    assert (await client.delete(f"/api/responses/{hours_id}", headers=headers)).status == 200
    assert (await client.delete(f"/api/responses/{hours_id}", headers=headers)).status == 404
    left = await (await client.get("/api/responses")).json()
    assert [r["shortcut"] for r in left["responses"]] == ["refund"] and "rendered" not in left["responses"][0]
