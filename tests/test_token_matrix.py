"""Every gated route of the running app against a token of each scope: in exactly where the route's scope says.

Routes come from `app.router.routes()`, so a new route is covered the day it is added: a route
gated by `requires` without a scope must refuse every token (403), one with a scope must let a
token of that scope past the gate (no 401/403, no 5xx) and refuse the others.
"""

from __future__ import annotations

import inspect
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from hub.apitokens import SCOPES
from hub.models import Role
from switchboard.bootstrap import Runtime

NOTHING = "0123456789abcdef01234567"


def gated_routes(runtime: Runtime) -> list[tuple[str, str, Any]]:
    assert runtime.app is not None
    found = []
    for route in runtime.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method != "HEAD" and getattr(route.handler, "roles", None) is not None:
            found.append((route.method, str(path), route.handler))
    return sorted(found, key=lambda r: (r[1], r[0]))


def url(path: str) -> str:
    return "/".join(NOTHING if s.startswith("{") else s for s in path.split("/"))


async def status_of(http: aiohttp.ClientSession, method: str, path: str, handler: Any) -> int:
    if "WebSocketResponse" in str(inspect.signature(inspect.unwrap(handler)).return_annotation):
        try:
            async with http.ws_connect(url(path)):
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
    async with http.request(method, url(path), json=None if method == "GET" else {}) as resp:
        return resp.status


async def test_each_scope_opens_exactly_its_routes(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None
    hub = runtime.hub
    admin = await hub.accounts.create("matrix-admin", "matrix admin password", roles=[Role.ADMIN])
    agent = await hub.accounts.create("matrix-agent", "matrix agent password", roles=[Role.AGENT])
    callers: list[tuple[str, str, set[str], Any]] = []
    for scope in SCOPES:
        plain, _doc = await hub.apitokens.create(f"svc {scope}", [scope], owner=None, created_by=admin)
        callers.append((f"service token [{scope}]", plain, {scope}, None))
    agent_scopes = ["tickets:read", "tickets:write", "contacts"]
    plain, _doc = await hub.apitokens.create("agent's", agent_scopes, owner=agent, created_by=agent)
    callers.append(("agent's personal token", plain, set(agent_scopes), agent))
    revoked, doc = await hub.apitokens.create("revoked", list(SCOPES), owner=None, created_by=admin)
    await hub.apitokens.revoke(doc["_id"])

    routes = gated_routes(runtime)
    assert len(routes) >= 30
    failures = []
    opened: set[str] = set()
    base = str(client.make_url("/"))
    for name, token, scopes, owner in callers:
        async with aiohttp.ClientSession(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
            for method, path, handler in routes:
                route_scope = getattr(handler, "scope", None)
                roles = [Role(r) for r in handler.roles]
                allowed = route_scope in scopes and (
                    owner is None or not roles or any(r.value in owner["roles"] for r in roles))
                status = await status_of(http, method, path, handler)
                ok = (status not in (401, 403) and status < 500) if allowed else status == 403
                if allowed and ok:
                    opened.add(str(route_scope))
                if not ok:
                    failures.append(f"{name}: {method} {path} -> {status}, expected "
                                    f"{'allowed' if allowed else '403'}")
    async with aiohttp.ClientSession(base_url=base, headers={"Authorization": f"Bearer {revoked}"}) as http:
        for method, path, handler in routes:
            if getattr(handler, "scope", None) is not None and await status_of(http, method, path, handler) != 401:
                failures.append(f"revoked token: {method} {path} not 401")
    assert not failures, "\n".join(failures)
    assert opened == set(SCOPES), "a scope opens no route"
