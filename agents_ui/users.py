"""Desk users, administered from the browser: list, create (with a one-time setup link), edit roles,
queues and capacity, disable and re-enable, reset a password (another one-time link).

The set-password page and its two calls are public: the link's random token is the credential (the
hub keeps only its SHA-256, `hub.useradmin`). The token travels in the URL's fragment (`#token=`),
which browsers never send to a server, so it stays out of access logs and Referer headers.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB, PUBLIC_ORIGIN
from agents_ui.auth import agent_of, error, requires, same_origin
from httpkit.bodies import accepts, body_of
from hub.accounts import AccountError
from hub.hub import Hub
from hub.models import Role
from hub.store import Doc, ObjectId, oid
from hub.useradmin import LinkInvalid, PasswordLink

#: The fields compared (and recorded before/after in the audit trail) when an admin edits a user.
EDITABLE = ("name", "roles", "capacity", "queues", "disabled")


@functools.cache
def _page() -> str:
    return (resources.files("agents_ui") / "static" / "setpassword.html").read_text(encoding="utf-8")


def _hub(request: web.Request) -> Hub:
    hub: Hub = request.app[HUB]
    return hub


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def agent_public(agent: Doc) -> dict[str, Any]:
    """A desk user as the desk shows them (never the password hash)."""
    return {"id": str(agent["_id"]), "username": agent["username"], "name": agent.get("name"),
            "roles": agent.get("roles", []), "capacity": agent.get("capacity"), "presence": agent.get("presence"),
            "away": bool(agent.get("away")), "queues": agent.get("queues") or [],
            "disabled": bool(agent.get("disabled")), "last_login_at": _when(agent.get("last_login_at")),
            "password_pending": agent.get("password_pending"), "totp": bool(agent.get("totp_enabled"))}


def _link_view(request: web.Request, link: PasswordLink) -> dict[str, Any]:
    origin = request.app.get(PUBLIC_ORIGIN) or f"{request.scheme}://{request.host}"
    return {"url": f"{origin}/desk/set-password#token={link.token}", "expires_at": _when(link.expires_at),
            "purpose": link.purpose}


def _target(agent: Doc) -> dict[str, Any]:
    return {"type": "agent", "id": agent["_id"], "name": agent.get("name")}


def _agent_id(request: web.Request) -> ObjectId:
    try:
        return oid(request.match_info["id"])
    except ValueError as exc:
        raise error(404, str(exc)) from exc


@requires(Role.SUPERVISOR)
async def list_agents(request: web.Request) -> web.Response:
    """Desk users with roles, queues, capacity, presence, state and last login."""
    return web.json_response({"agents": [agent_public(a) for a in await _hub(request).accounts.list()]})


@requires(Role.ADMIN)
@accepts(schemas.NewAgent)
async def create_agent(request: web.Request) -> web.Response:
    """Create a desk user (admin only). Without `password` the answer holds `link`: a one-time setup link,
    shown this once, where the user chooses their own password."""
    body = body_of(request, schemas.NewAgent)
    hub = _hub(request)
    try:
        agent, link = await hub.users.create(body.username, name=body.name, roles=body.roles,
                                             capacity=body.capacity, queues=body.queues, password=body.password)
    except AccountError as exc:
        raise error(400, str(exc)) from exc
    await hub.audit.record(
        "agent.created", actor=agent_of(request), target=_target(agent), ip=request.remote,
        details={"username": agent["username"], "roles": agent["roles"], "capacity": agent["capacity"],
                 "queues": agent["queues"], "setup_link": link is not None})
    answer: dict[str, Any] = {"agent": agent_public(agent)}
    if link is not None:
        answer["link"] = _link_view(request, link)
    return web.json_response(answer, status=201)


@requires(Role.ADMIN)
@accepts(schemas.AgentChange)
async def update_agent(request: web.Request) -> web.Response:
    """Change a desk user (admin only): any of `name`, `roles`, `queues`, `capacity`, `disabled`. Audited with
    the values before and after; an admin cannot take admin away from, or disable, themselves. Disabling ends
    the user's sessions at once (their open desk is logged out live) and puts their active tickets back in
    their queues, unassigned."""
    body = body_of(request, schemas.AgentChange)
    hub = _hub(request)
    agent_id = _agent_id(request)
    me_ = agent_of(request)
    if agent_id == me_["_id"] and (body.disabled or (body.roles is not None and Role.ADMIN not in body.roles)):
        raise error(400, "you cannot remove your own admin role or disable yourself")
    name = body.name.strip() if body.name is not None else None
    if name == "":
        raise error(422, "name: a name is required")
    try:
        hub.users.check_queues(body.queues)
    except AccountError as exc:
        raise error(400, str(exc)) from exc
    changed = await hub.accounts.update(agent_id, name=name, roles=body.roles, capacity=body.capacity,
                                        disabled=body.disabled, queues=body.queues)
    if changed is None:
        raise error(404, "no such agent")
    before, after = changed
    details: dict[str, Any] = {k: {"from": before.get(k), "to": after.get(k)} for k in EDITABLE
                               if before.get(k) != after.get(k)}
    if "disabled" in details and after.get("disabled"):
        details["tickets_released"] = await hub.users.release_tickets(after, me_)
        action = "agent.disabled"
    elif "disabled" in details:
        action = "agent.enabled"
    else:
        action = "agent.roles_changed" if "roles" in details else "agent.updated"
    await hub.audit.record(action, actor=me_, target=_target(after), ip=request.remote,
                           details={"username": after["username"], **details})
    return web.json_response({"agent": agent_public(after)})


@requires(Role.ADMIN)
async def reset_password(request: web.Request) -> web.Response:
    """Reset a user's password (admin only): their password and sessions end now, and the answer holds a
    one-time link, shown this once, where they choose a new one."""
    hub = _hub(request)
    agent_id = _agent_id(request)
    if agent_id == agent_of(request)["_id"]:  # it would log this very tab out, link and all
        raise error(400, "change your own password under Account")
    target = await hub.accounts.get(agent_id)
    if target is None:
        raise error(404, "no such agent")
    link = await hub.users.reset(agent_id)
    if link is None:
        raise error(404, "no such agent")
    await hub.audit.record("agent.password_reset", actor=agent_of(request), target=_target(target),
                           ip=request.remote, details={"username": target["username"], "by": "link"})
    return web.json_response({"agent": agent_public({**target, "password_pending": link.purpose}),
                              "link": _link_view(request, link)})


async def set_password_page(request: web.Request) -> web.Response:
    """The public page a one-time link opens (the token is in the fragment, read by its script)."""
    return web.Response(text=_page(), content_type="text/html",
                        headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})


def _same_origin_json(request: web.Request) -> None:
    if not same_origin(request):
        raise error(403, "this must be a JSON request from this origin")


@accepts(schemas.PasswordLink)
async def check_link(request: web.Request) -> web.Response:
    """Whether a one-time link can be used, and whose it is (their name and username only)."""
    _same_origin_json(request)
    body = body_of(request, schemas.PasswordLink)
    try:
        link, agent = await _hub(request).users.peek(body.token)
    except LinkInvalid as exc:
        raise error(404, str(exc)) from exc
    return web.json_response({"name": agent.get("name"), "username": agent["username"],
                              "purpose": link["purpose"], "expires_at": _when(link["expires_at"])})


@accepts(schemas.PasswordFromLink)
async def use_link(request: web.Request) -> web.Response:
    """Choose a password through a one-time link (once; the link is gone afterwards)."""
    _same_origin_json(request)
    body = body_of(request, schemas.PasswordFromLink)
    hub = _hub(request)
    try:
        agent = await hub.users.redeem(body.token, body.password)
    except AccountError as exc:
        raise error(400, str(exc)) from exc
    except LinkInvalid as exc:
        raise error(404, str(exc)) from exc
    await hub.audit.record("agent.password_set", actor=agent, target=_target(agent), ip=request.remote,
                           details={"username": agent["username"], "by": "link"})
    return web.json_response({"username": agent["username"]})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/agents", list_agents),
        web.post("/api/agents", create_agent),
        web.patch("/api/agents/{id}", update_agent),
        web.post("/api/agents/{id}/password-link", reset_password),
        web.get("/desk/set-password", set_password_page),
        web.post("/api/password-links/check", check_link),
        web.post("/api/password-links/use", use_link),
    ]
