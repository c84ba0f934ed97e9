"""API tokens: scopes gate routes, roles cap personal tokens, revoked/expired refused, hashed at rest."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from hub.models import Role, utcnow
from hub.store import ObjectId
from switchboard.bootstrap import Runtime
from tests.conftest import login
from tests.test_widget_flow import escalate


@asynccontextmanager
async def bearer(client: TestClient[Any, Any], token: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A client with no cookies at all: the token is the only credential it has."""
    async with aiohttp.ClientSession(base_url=str(client.make_url("/")),
                                     headers={"Authorization": f"Bearer {token}"}) as session:
        yield session


async def make_token(client: TestClient[Any, Any], csrf: str, scopes: list[str], **extra: Any) -> dict[str, Any]:
    resp = await client.post("/api/tokens", json={"name": "ci", "scopes": scopes, **extra},
                             headers={"X-CSRF-Token": csrf})
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def test_read_token_reads_tickets_and_may_not_reply(client: TestClient[Any, Any], runtime: Runtime,
                                                          agent: dict[str, Any]) -> None:
    _visitor, ticket = await escalate(client, runtime)
    created = await make_token(client, agent["csrf"], ["tickets:read"])
    assert created["secret"].startswith("sbt_") and created["token"]["scopes"] == ["tickets:read"]
    async with bearer(client, created["secret"]) as api:
        resp = await api.get("/api/tickets")
        assert resp.status == 200
        assert [t["id"] for t in (await resp.json())["tickets"]] == [str(ticket["_id"])]
        assert (await api.get(f"/api/tickets/{ticket['_id']}")).status == 200
        resp = await api.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "hello"})
        assert resp.status == 403
        assert "tickets:write" in (await resp.json())["error"]
        assert (await api.get(f"/api/contacts/{ticket['contact_id']}")).status == 403  # needs `contacts`
        for path in ("/api/me", "/api/tokens", "/api/trainer/intents", "/api/agents"):
            resp = await api.get(path)
            assert resp.status == 403, path
            assert (await resp.json())["error"] == "this route does not accept API tokens"


async def test_write_token_replies_without_csrf(client: TestClient[Any, Any], runtime: Runtime,
                                               agent: dict[str, Any]) -> None:
    _visitor, ticket = await escalate(client, runtime)
    created = await make_token(client, agent["csrf"], ["tickets:write"])
    async with bearer(client, created["secret"]) as api:
        resp = await api.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "From our CRM"})
        assert resp.status == 201, await resp.text()
        assert (await resp.json())["message"]["author"]["name"] == "Alice"  # acts as its owner
        assert (await api.get("/api/tickets")).status == 403  # write does not include read


async def test_revoked_and_expired_tokens_get_401(client: TestClient[Any, Any], runtime: Runtime,
                                                  agent: dict[str, Any]) -> None:
    assert runtime.hub is not None
    revoked = await make_token(client, agent["csrf"], ["tickets:read"])
    expiring = await make_token(client, agent["csrf"], ["tickets:read"], expires_in_days=1)
    assert expiring["token"]["expires_at"] is not None
    async with bearer(client, revoked["secret"]) as api:
        assert (await api.get("/api/tickets")).status == 200
        resp = await client.delete(f"/api/tokens/{revoked['token']['id']}", headers={"X-CSRF-Token": agent["csrf"]})
        assert resp.status == 200 and (await resp.json())["token"]["active"] is False
        assert (await api.get("/api/tickets")).status == 401
    async with bearer(client, expiring["secret"]) as api:
        assert (await api.get("/api/tickets")).status == 200
        await runtime.hub.store.api_tokens.update_one({"_id": ObjectId(expiring["token"]["id"])},
                                                      {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
        assert (await api.get("/api/tickets")).status == 401
    async with bearer(client, "sbt_" + "x" * 43) as api:
        assert (await api.get("/api/tickets")).status == 401


async def test_personal_token_never_exceeds_its_owners_roles(client: TestClient[Any, Any], runtime: Runtime,
                                                             agent: dict[str, Any]) -> None:
    assert runtime.hub is not None
    resp = await client.post("/api/tokens", json={"name": "x", "scopes": ["metrics"]},
                             headers={"X-CSRF-Token": agent["csrf"]})
    assert resp.status == 403 and "metrics" in (await resp.json())["error"]
    resp = await client.post("/api/tokens", json={"name": "x", "scopes": ["tickets:read"], "service": True},
                             headers={"X-CSRF-Token": agent["csrf"]})
    assert resp.status == 403  # service tokens are for admins
    created = await make_token(client, agent["csrf"], ["tickets:read"])
    async with bearer(client, created["secret"]) as api:
        assert (await api.get("/api/tickets")).status == 200
        # The owner loses the agent role: the token loses what the role gave, at once.
        await runtime.hub.store.agents.update_one({"_id": agent["account"]["_id"]},
                                                  {"$set": {"roles": [Role.TRAINER.value]}})
        assert (await api.get("/api/tickets")).status == 403
        await runtime.hub.store.agents.update_one({"_id": agent["account"]["_id"]}, {"$set": {"disabled": True}})
        assert (await api.get("/api/tickets")).status == 401


async def test_service_token_made_by_an_admin_reads_metrics(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None and runtime.admin_credentials is not None
    csrf = await login(client, *runtime.admin_credentials)
    created = await make_token(client, csrf, ["metrics"], service=True)
    assert created["token"]["kind"] == "service" and created["token"]["owner"] is None
    async with bearer(client, created["secret"]) as api:
        assert (await api.get("/api/metrics/live")).status == 200
        assert (await api.get("/api/tickets")).status == 403


async def test_tokens_are_hashed_at_rest_and_last_use_is_recorded(client: TestClient[Any, Any], runtime: Runtime,
                                                                  agent: dict[str, Any]) -> None:
    assert runtime.hub is not None
    store = runtime.hub.store
    created = await make_token(client, agent["csrf"], ["tickets:read"])
    plain = created["secret"]
    for name in await store.db.list_collection_names():
        async for doc in store.db[name].find({}):
            assert plain not in repr(doc), f"the plain token is stored in {name}"
    stored = await store.api_tokens.find_one({"_id": ObjectId(created["token"]["id"])})
    assert stored is not None and stored["hash"] == hashlib.sha256(plain.encode()).hexdigest()
    assert stored["last_used_at"] is None
    async with bearer(client, plain) as api:
        assert (await api.get("/api/tickets")).status == 200
        first = (await store.api_tokens.find_one({"_id": stored["_id"]}) or {})["last_used_at"]
        assert first is not None
        assert (await api.get("/api/tickets")).status == 200
    # within a minute the second use writes nothing
    assert (await store.api_tokens.find_one({"_id": stored["_id"]}) or {})["last_used_at"] == first
    listed = (await (await client.get("/api/tokens")).json())["tokens"]
    assert listed[0]["last_used_at"] == first.isoformat() and "hash" not in listed[0]
    assert listed[0]["hint"] == plain[:8] + "…"


async def test_admins_see_every_token_agents_only_theirs(client: TestClient[Any, Any], runtime: Runtime,
                                                         agent: dict[str, Any]) -> None:
    assert runtime.admin_credentials is not None
    mine = await make_token(client, agent["csrf"], ["tickets:read"])
    csrf = await login(client, *runtime.admin_credentials)
    await make_token(client, csrf, ["metrics"], service=True)
    tokens = (await (await client.get("/api/tokens")).json())["tokens"]
    assert {(t["kind"], t["owner"]) for t in tokens} == {("personal", "Alice"), ("service", None)}
    resp = await client.delete(f"/api/tokens/{mine['token']['id']}", headers={"X-CSRF-Token": csrf})
    assert resp.status == 200  # an admin revokes anybody's token
    await login(client, "alice", "correct horse battery")
    assert [t["kind"] for t in (await (await client.get("/api/tokens")).json())["tokens"]] == ["personal"]


@pytest.mark.parametrize("body", [{"name": "", "scopes": ["tickets:read"]}, {"name": "x", "scopes": []},
                                  {"name": "\ud800", "scopes": ["tickets:read"]}, {"name": 5, "scopes": ["metrics"]},
                                  {"name": "x", "scopes": ["tickets:read"], "service": "yes"},
                                  {"name": "x", "scopes": ["tickets:delete"]}, {"name": "x", "scopes": "metrics"},
                                  {"name": "x", "scopes": ["tickets:read"], "expires_in_days": 0},
                                  {"name": "x", "scopes": ["tickets:read"], "expires_in_days": 2**63}])
async def test_bad_token_requests_are_refused_with_a_reason(client: TestClient[Any, Any], agent: dict[str, Any],
                                                            body: dict[str, Any]) -> None:
    resp = await client.post("/api/tokens", json=body, headers={"X-CSRF-Token": agent["csrf"]})
    assert resp.status in (400, 422)  # the body's schema (422) or the domain's own checks (400)
    assert (await resp.json())["error"]


async def test_desk_websocket_refuses_api_tokens(client: TestClient[Any, Any], agent: dict[str, Any]) -> None:
    created = await make_token(client, agent["csrf"], ["tickets:read"])
    async with bearer(client, created["secret"]) as api:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await api.ws_connect("/api/desk/ws")
        assert refused.value.status == 403


async def test_openapi_names_the_scope_of_each_token_route(client: TestClient[Any, Any]) -> None:
    spec = await (await client.get("/api/openapi.json")).json()
    scoped = {(m.upper(), p): op["x-scope"] for p, ops in spec["paths"].items() for m, op in ops.items()
              if "x-scope" in op}
    assert scoped[("GET", "/api/tickets")] == "tickets:read"
    assert scoped[("POST", "/api/tickets/{id}/reply")] == "tickets:write"
    assert scoped[("GET", "/api/contacts/{id}")] == "contacts"
    assert scoped[("GET", "/api/metrics/live")] == "metrics"
    assert not any(p.startswith(("/api/tokens", "/api/webhooks", "/api/trainer")) for _m, p in scoped)


async def test_other_authorization_schemes_leave_the_session_alone(client: TestClient[Any, Any],
                                                                   agent: dict[str, Any]) -> None:
    """A proxy's Basic auth header reaches the hub: the desk session still counts."""
    resp = await client.get("/api/tickets", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert resp.status == 200
    resp = await client.get("/api/tickets", headers={"Authorization": "Bearer "})
    assert resp.status == 401
