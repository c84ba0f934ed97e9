"""Admins manage desk users over real HTTP: one-time password links, queues, disabling, the audit trail."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from agents_ui import desk
from hub.models import Role, utcnow
from hub.tickets import QueueConfig
from switchboard import users_cli
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import http_client, login, make_settings
from tests.helpers import eventually
from tests.test_transfers import new_ticket

ADMIN_PASSWORD = "a long admin password"


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    settings = make_settings(mongo_uri, tmp_path)
    settings.queues["general"] = dataclasses.replace(settings.queues["general"], routing="least_busy")
    settings.queues["orders"] = QueueConfig(name="orders", title="Orders and delivery", routing="least_busy")
    return settings


@pytest.fixture
async def admin(runtime: Runtime, client: TestClient[Any, Any]) -> dict[str, str]:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("root", ADMIN_PASSWORD, name="Ada Admin", roles=[Role.ADMIN])
    return {"X-CSRF-Token": await login(client, "root", ADMIN_PASSWORD)}


async def audit(client: TestClient[Any, Any], action: str) -> list[dict[str, Any]]:
    resp = await client.get("/api/admin/audit", params={"action": action})
    assert resp.status == 200
    entries: list[dict[str, Any]] = (await resp.json())["entries"]
    return entries


async def use_link(client: TestClient[Any, Any], url: str, password: str) -> aiohttp.ClientResponse:
    token = url.split("#token=", 1)[1]
    return await client.post("/api/password-links/use", json={"token": token, "password": password})


async def test_a_new_user_sets_their_own_password_through_a_one_time_link(
        runtime: Runtime, client: TestClient[Any, Any], admin: dict[str, str]) -> None:
    assert runtime.hub is not None
    resp = await client.post("/api/agents", json={"username": "Nina", "name": "Nina Agent", "roles": ["agent"],
                                                  "queues": ["orders"], "capacity": 3}, headers=admin)
    assert resp.status == 201, await resp.text()
    answer = await resp.json()
    assert answer["agent"]["queues"] == ["orders"] and answer["agent"]["password_pending"] == "setup"
    url = answer["link"]["url"]
    assert url.startswith(str(client.make_url("/desk/set-password#token=")))
    token = url.split("#token=", 1)[1]
    stored = await runtime.hub.store.db["password_links"].find().to_list()
    assert [d["_id"] for d in stored] == [hashlib.sha256(token.encode()).hexdigest()]  # only the hash is kept
    assert token not in str(stored)
    assert (await client.get("/desk/set-password")).status == 200

    async with http_client(runtime) as nina:  # another browser: no session
        assert (await nina.post("/api/auth/login", json={"username": "nina", "password": ""})).status in (401, 422)
        checked = await nina.post("/api/password-links/check", json={"token": token})
        assert checked.status == 200
        assert await checked.json() == {"name": "Nina Agent", "username": "nina", "purpose": "setup",
                                        "expires_at": answer["link"]["expires_at"]}
        short = await use_link(nina, url, "short")
        assert short.status == 400 and "8 characters" in (await short.json())["error"]
        assert (await use_link(nina, url, "nina's own password")).status == 200
        again = await use_link(nina, url, "another password")
        assert again.status == 404 and "used" in (await again.json())["error"]  # single use
        assert (await nina.post("/api/password-links/check", json={"token": token})).status == 404
        await login(nina, "nina", "nina's own password")
        queues = (await (await nina.get("/api/queues")).json())["queues"]
        assert [q["name"] for q in queues] == ["orders"]  # the queue pane shows the queues she serves

    users = (await (await client.get("/api/agents")).json())["agents"]
    nina_row = next(u for u in users if u["username"] == "nina")
    assert nina_row["password_pending"] is None and nina_row["last_login_at"] is not None
    [created] = await audit(client, "agent.created")
    assert created["target"] == "user Nina Agent"
    assert created["details"]["queues"] == ["orders"] and created["details"]["setup_link"] is True
    [chosen] = await audit(client, "agent.password_set")
    assert chosen["actor"] == "Nina Agent"


async def test_an_expired_link_is_refused(runtime: Runtime, client: TestClient[Any, Any],
                                          admin: dict[str, str]) -> None:
    assert runtime.hub is not None
    resp = await client.post("/api/agents", json={"username": "olga", "name": "Olga"}, headers=admin)
    url = (await resp.json())["link"]["url"]
    link = await runtime.hub.store.db["password_links"].find_one({})
    assert link is not None and link["expires_at"] - utcnow() > timedelta(hours=71)
    await runtime.hub.store.db["password_links"].update_one(
        {"_id": link["_id"]}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
    late = await use_link(client, url, "olga's password")
    assert late.status == 404 and "expired" in (await late.json())["error"]
    assert (await client.post("/api/password-links/use", json={"token": "made-up", "password": "whatever123"})
            ).status == 404


async def test_reset_password_gives_a_new_link_and_ends_the_users_sessions(
        runtime: Runtime, client: TestClient[Any, Any], admin: dict[str, str]) -> None:
    assert runtime.hub is not None
    pia = await runtime.hub.accounts.create("pia", "pia's old password", name="Pia", roles=[Role.AGENT])
    async with http_client(runtime) as other:
        await login(other, "pia", "pia's old password")
        resp = await client.post(f"/api/agents/{pia['_id']}/password-link", json={}, headers=admin)
        assert resp.status == 200, await resp.text()
        answer = await resp.json()
        assert answer["link"]["purpose"] == "reset" and answer["agent"]["password_pending"] == "reset"
        assert (await other.get("/api/me")).status == 401  # her sessions ended
        refused = await other.post("/api/auth/login", json={"username": "pia", "password": "pia's old password"})
        assert refused.status == 401  # the old password no longer works
        assert (await use_link(other, answer["link"]["url"], "pia's new password")).status == 200
        await login(other, "pia", "pia's new password")
        # Her own change of password (the Account view) still works and keeps this session.
        csrf = (await (await other.get("/api/me")).json())["csrf"]
        changed = await other.post("/api/me/password", json={"current": "pia's new password", "new": "pia's third pw"},
                                   headers={"X-CSRF-Token": csrf})
        assert changed.status == 200 and (await other.get("/api/me")).status == 200
    [entry] = await audit(client, "agent.password_reset")
    assert (entry["actor"], entry["target"]) == ("Ada Admin", "user Pia")
    unknown = await client.post("/api/agents/0123456789abcdef01234567/password-link", json={}, headers=admin)
    assert unknown.status == 404


async def test_disabling_ends_sessions_live_and_hands_open_tickets_back(
        runtime: Runtime, client: TestClient[Any, Any], admin: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    hub = runtime.hub
    assert hub is not None
    monkeypatch.setattr(desk, "SESSION_RECHECK_SECONDS", 3600.0)  # only the hub's signal can close the socket
    quinn = await hub.accounts.create("quinn", "quinn's password", name="Quinn", roles=[Role.AGENT])
    rosa = await hub.accounts.create("rosa", "rosa's password", name="Rosa", roles=[Role.AGENT])
    _token, ticket = await new_ticket(client, runtime, "Grace Hopper")
    await hub.tickets.assign(ticket["_id"], quinn["_id"], None)
    rosa_online = await hub.presence.connect(rosa["_id"])
    async with http_client(runtime) as other:
        await login(other, "quinn", "quinn's password")
        async with other.ws_connect("/api/desk/ws") as ws:
            resp = await client.patch(f"/api/agents/{quinn['_id']}", json={"disabled": True}, headers=admin)
            assert resp.status == 200 and (await resp.json())["agent"]["disabled"] is True
            closed = await asyncio.wait_for(ws.receive(), 20)  # the socket ends: no frame is sent before
            assert (closed.type, closed.data, closed.extra) == (aiohttp.WSMsgType.CLOSE, 1008, "session ended")
        assert (await other.get("/api/me")).status == 401
        refused = await other.post("/api/auth/login", json={"username": "quinn", "password": "quinn's password"})
        assert refused.status == 401

        async def routed_to_rosa() -> bool:
            doc = await hub.store.tickets.find_one({"_id": ticket["_id"]})
            return doc is not None and doc["assignee_id"] == rosa["_id"]

        # Back in its queue, unassigned, so routing gave it to the online colleague.
        await eventually(routed_to_rosa, what="the ticket routed to Rosa")
        [disabled] = await audit(client, "agent.disabled")
        assert disabled["target"] == "user Quinn"
        assert disabled["details"]["disabled"] == {"from": None, "to": True}
        assert disabled["details"]["tickets_released"] == 1

        enabled = await client.patch(f"/api/agents/{quinn['_id']}", json={"disabled": False}, headers=admin)
        assert enabled.status == 200
        await login(other, "quinn", "quinn's password")
        [entry] = await audit(client, "agent.enabled")
        assert entry["details"]["disabled"] == {"from": True, "to": False}
    await hub.presence.disconnect(rosa_online, rosa["_id"])


async def test_bad_input_and_who_may_administer_users(
        runtime: Runtime, client: TestClient[Any, Any], admin: dict[str, str]) -> None:
    assert runtime.hub is not None
    root = await runtime.hub.store.agents.find_one({"username": "root"})
    sam = await runtime.hub.accounts.create("sam", "sam's password", name="Sam", roles=[Role.SUPERVISOR])
    assert root is not None
    for bad, says in (({"queues": "orders"}, "queues"), ({"queues": [7]}, "queues"), ({"roles": []}, "roles"),
                      ({"capacity": -1}, "capacity"), ({"username": ""}, "username")):
        resp = await client.post("/api/agents", json={"username": "tim", **bad}, headers=admin)
        assert resp.status == 422 and says in (await resp.json())["error"], bad
    unknown = await client.post("/api/agents", json={"username": "tim", "queues": ["nowhere"]}, headers=admin)
    assert unknown.status == 400 and "nowhere" in (await unknown.json())["error"]
    edit = await client.patch(f"/api/agents/{sam['_id']}", json={"queues": ["nowhere"]}, headers=admin)
    assert edit.status == 400
    edit = await client.patch(f"/api/agents/{sam['_id']}", json={"queues": ["orders"], "capacity": 2}, headers=admin)
    assert edit.status == 200 and (await edit.json())["agent"]["queues"] == ["orders"]
    [updated] = await audit(client, "agent.updated")
    assert updated["details"]["queues"] == {"from": [], "to": ["orders"]}
    assert updated["details"]["capacity"] == {"from": 5, "to": 2}
    assert await runtime.hub.store.agents.count_documents({"username": "tim"}) == 0
    own = await client.patch(f"/api/agents/{root['_id']}", json={"disabled": True}, headers=admin)
    assert own.status == 400
    own = await client.post(f"/api/agents/{root['_id']}/password-link", json={}, headers=admin)
    assert own.status == 400 and "Account" in (await own.json())["error"]
    for body in ({}, {"token": ""}, {"token": "x", "password": 5}):
        resp = await client.post("/api/password-links/use", json=body)
        assert resp.status == 422, body
    foreign = await client.post("/api/password-links/use", json={"token": "x", "password": "long enough"},
                                headers={"Origin": "https://evil.example"})
    assert foreign.status == 403

    async with http_client(runtime) as other:
        csrf = {"X-CSRF-Token": await login(other, "sam", "sam's password")}
        assert (await other.get("/api/agents")).status == 200  # supervisors see the team
        for method, path, body in (("post", "/api/agents", {"username": "tim"}),
                                   ("patch", f"/api/agents/{root['_id']}", {"disabled": True}),
                                   ("post", f"/api/agents/{root['_id']}/password-link", {})):
            resp = await getattr(other, method)(path, json=body, headers=csrf)
            assert resp.status == 403, path



async def test_a_user_disabled_from_the_command_line_has_their_tickets_handed_back_by_the_running_hub(
        runtime: Runtime, client: TestClient[Any, Any], settings: Settings,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`switchboard users disable` has no hub of its own: the running hub (one process, by a lease) does it."""
    hub = runtime.hub
    assert hub is not None
    quinn = await hub.accounts.create("quinn", "quinn's password", name="Quinn", roles=[Role.AGENT])
    _token, ticket = await new_ticket(client, runtime, "Grace Hopper")
    await hub.tickets.assign(ticket["_id"], quinn["_id"], None)
    parser = argparse.ArgumentParser()
    users_cli.add_arguments(parser.add_subparsers(dest="command"), lambda _p: None)
    assert await users_cli.run(parser.parse_args(["users", "disable", "quinn"]), settings) == 0
    assert "disabled quinn; their sessions ended and a running hub hands their tickets back" in capsys.readouterr().out

    async def unassigned() -> bool:
        doc = await hub.store.tickets.find_one({"_id": ticket["_id"]})
        return doc is not None and doc.get("assignee_id") is None and doc["queue"] == ticket["queue"]

    await eventually(unassigned, what="the ticket back in its queue, unassigned")
    lines = [m for m in await hub.store.messages.find({"conversation_id": {"$in": ticket["conversation_ids"]}}
                                                       ).to_list() if "transfer" in (m.get("metadata") or {})]
    assert [m["author"]["name"] for m in lines] == ["An admin (command line)"]  # once, by one process
