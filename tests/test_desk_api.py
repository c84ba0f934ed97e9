"""The desk's REST API: login, sessions, CSRF, role checks on every route, OpenAPI coverage."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.conftest import login
from tests.test_widget_flow import escalate, say, widget_session

PUBLIC = {
    "/healthz",
    "/api/openapi.json",
    "/api/auth/login",
    "/api/auth/login/code",  # the code step: needs a right password's pending token (tests/test_totp.py)
    "/api/widget/session",
    "/api/widget/sites/{site}",  # a site's title and pre-chat fields, tested in test_customer_names.py
    "/api/widget/messages",
    "/api/widget/ws",
    "/api/widget/rating",
    "/api/widget/end",
    "/api/widget/files",  # visitor token, tested in test_attachments.py
    "/api/widget/attachments/{blob_id}",  # signed link or visitor token, tested in test_widget_tokens.py
    "/api/widget/attachments/{blob_id}/link",  # visitor token, tested in test_widget_tokens.py
    "/api/password-links/check",  # a one-time link's token, tested in test_users_admin.py
    "/api/password-links/use",  # a one-time link's token, tested in test_users_admin.py
    "/api/phone/media/{blob_id}",  # signed link for Twilio, tested in tests/phone/test_mms.py
}


async def test_health_reports_database(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "database": "ok"}


async def test_wrong_password_is_refused(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("bob", "a good long password")
    resp = await client.post("/api/auth/login", json={"username": "bob", "password": "nope nope nope"})
    assert resp.status == 401
    resp = await client.post("/api/auth/login", json={"username": "nobody", "password": "nope nope nope"})
    assert resp.status == 401
    stored = await runtime.hub.store.agents.find_one({"username": "bob"})
    assert stored is not None and stored["password_hash"].startswith("$argon2")


async def test_every_protected_route_needs_a_session(client: TestClient[Any, Any]) -> None:
    spec = await (await client.get("/api/openapi.json")).json()
    checked = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path in PUBLIC:
                assert "x-roles" not in op
                continue
            assert "x-roles" in op, f"{method.upper()} {path} has no role check"
            url = re.sub(r"\{[^}]+\}", "0123456789abcdef01234567", path)
            resp = await client.request(method.upper(), url, json={})
            assert resp.status == 401, f"{method.upper()} {path} answered {resp.status} without a session"
            checked += 1
    assert checked >= 12


async def test_unsafe_requests_need_the_csrf_token(
    client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime
) -> None:
    _token, ticket = await escalate(client, runtime, "human please")
    url = f"/api/tickets/{ticket['_id']}/reply"
    assert (await client.post(url, json={"text": "x"})).status == 403
    assert (await client.post(url, json={"text": "x"}, headers={"X-CSRF-Token": "guess"})).status == 403
    cross = await client.post(
        url, json={"text": "x"}, headers={"X-CSRF-Token": agent["csrf"], "Origin": "https://evil.example"}
    )
    assert cross.status == 403
    ok = await client.post(url, json={"text": "x"}, headers={"X-CSRF-Token": agent["csrf"]})
    assert ok.status == 201


async def test_roles_gate_routes(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("tess", "trainer password", roles=[Role.TRAINER])
    csrf = await login(client, "tess", "trainer password")
    assert (await client.get("/api/me")).status == 200
    assert (await client.get("/api/tickets")).status == 403
    assert (await client.get("/api/agents")).status == 403
    resp = await client.post(
        "/api/agents", json={"username": "x", "password": "long enough pw"}, headers={"X-CSRF-Token": csrf}
    )
    assert resp.status == 403


async def test_admin_creates_agents_and_logout_ends_the_session(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.admin_credentials is not None
    user, password = runtime.admin_credentials
    csrf = await login(client, user, password)
    resp = await client.post(
        "/api/agents",
        json={"username": "carol", "password": "carol's password", "roles": ["agent", "supervisor"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status == 201
    assert (await resp.json())["agent"]["roles"] == ["agent", "supervisor"]
    bad = await client.post(
        "/api/agents", json={"username": "dave", "password": "short"}, headers={"X-CSRF-Token": csrf}
    )
    assert bad.status == 400 and "8 characters" in (await bad.json())["error"]
    assert (await client.post("/api/auth/logout", json={}, headers={"X-CSRF-Token": csrf})).status == 200
    assert (await client.get("/api/me")).status == 401


async def test_ticket_lifecycle_through_the_api(
    client: TestClient[Any, Any], agent: dict[str, Any], runtime: Runtime
) -> None:
    token = await widget_session(client, name="Eve")
    await say(client, token, "can I talk to a real person")
    assert runtime.hub is not None
    await runtime.hub.pipeline.drain()
    headers = {"X-CSRF-Token": agent["csrf"]}
    queues = {q["name"]: q for q in (await (await client.get("/api/queues")).json())["queues"]}
    assert queues["general"]["waiting"] == 1
    listed = (await (await client.get("/api/tickets?queue=general")).json())["tickets"]
    assert [t["contact_name"] for t in listed] == ["Eve"]
    ticket_id = listed[0]["id"]
    assert (
        await client.post(f"/api/tickets/{ticket_id}/assign", json={"agent_id": "me"}, headers=headers)
    ).status == 200
    mine = (await (await client.get("/api/tickets?mine=1")).json())["tickets"]
    assert [t["id"] for t in mine] == [ticket_id]
    await client.post(
        f"/api/tickets/{ticket_id}/reply", json={"text": "Sure, here I am", "status": "pending"}, headers=headers
    )
    detail = await (await client.get(f"/api/tickets/{ticket_id}")).json()
    assert detail["ticket"]["status"] == "pending"
    assert detail["contact"]["name"] == "Eve"
    assert [m["author"]["kind"] for m in detail["messages"]] == ["customer", "system", "system", "agent", "system"]
    # the handoff notice, then the ticket's changes as private lines (hub.ticketlines) around the reply
    assert [m["text"] for m in detail["messages"] if m.get("private")] == ["Alice took the ticket.",
                                                                      "Alice set the ticket to pending."]
    # The customer answers while pending: the ticket opens again and the SLA pause is accounted.
    await say(client, token, "thanks, one more thing")
    await runtime.hub.pipeline.drain()
    detail = await (await client.get(f"/api/tickets/{ticket_id}")).json()
    assert detail["ticket"]["status"] == "open"
    assert detail["ticket"]["sla"]["paused_seconds"] >= 0
    solved = await client.post(f"/api/tickets/{ticket_id}/status", json={"status": "solved"}, headers=headers)
    assert (await solved.json())["ticket"]["solved_at"] is not None
    bad = await client.post(f"/api/tickets/{ticket_id}/status", json={"status": "teleported"}, headers=headers)
    assert bad.status == 400
    assert (await client.get("/api/tickets/not-an-id")).status == 404
    # A new message after solving starts a fresh conversation with the bot.
    await say(client, token, "what are your opening hours")
    await runtime.hub.pipeline.drain()
    assert await runtime.hub.store.conversations.count_documents({}) == 2


async def test_openapi_documents_the_rest_api(client: TestClient[Any, Any]) -> None:
    spec = await (await client.get("/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/tickets/{id}/reply", "/api/widget/messages", "/healthz", "/api/auth/login"):
        assert path in spec["paths"]
    assert spec["paths"]["/api/widget/messages"]["post"]["requestBody"]


async def test_repeated_wrong_passwords_slow_down_this_address(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("mallory", "the real password")
    for _ in range(5):
        resp = await client.post("/api/auth/login", json={"username": "mallory", "password": "guess guess"})
        assert resp.status == 401
    locked = await client.post("/api/auth/login", json={"username": "mallory", "password": "the real password"})
    assert locked.status == 429 and "too many failed logins" in (await locked.json())["error"]
    assert locked.headers["Retry-After"] == "1"
    other = await runtime.hub.accounts.create("trent", "trent's password")
    assert other is not None
    assert (
        await client.post("/api/auth/login", json={"username": "trent", "password": "trent's password"})
    ).status == 200


async def test_changing_the_password_checks_the_old_one(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("olga", "first password")
    csrf = await login(client, "olga", "first password")
    headers = {"X-CSRF-Token": csrf}
    wrong = await client.post("/api/me/password", json={"current": "nope", "new": "second password"}, headers=headers)
    assert wrong.status == 400
    ok = await client.post("/api/me/password", json={"current": "first password", "new": "second password"},
                           headers=headers)
    assert ok.status == 200
    assert (await client.get("/api/me")).status == 200  # this session stays
    resp = await client.post("/api/auth/login", json={"username": "olga", "password": "first password"})
    assert resp.status == 401
    await login(client, "olga", "second password")
