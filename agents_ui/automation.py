"""Automation rules (admins) and macros (admins and supervisors edit, agents apply) in the desk (hub.automation).

Bodies are checked here for shape (pydantic: an unknown event, condition or action is a 422 naming it);
what needs the database (a queue, a username, a canned response's shortcut) is checked by the hub and
answered 400 with the reason. Every change is on the audit trail.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field

from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from agents_ui.schemas import FieldValue
from httpkit.bodies import accepts, body_of
from httpkit.fields import Body, Flag, Name, Text, Token
from hub.accounts import has_role
from hub.automation import AutomationError
from hub.hub import Hub
from hub.models import Role
from hub.store import Doc, ObjectId, oid
from hub.ticketfields import MAX_FIELDS
from hub.tickets import NotFound, TicketError

Event = Literal["ticket.created", "customer.replied", "ticket.sla_warning", "csat.received", "ticket.idle"]
Tags = list[Token]
SetFields = dict[Annotated[Token, Field(max_length=40)], FieldValue]


class Conditions(Body):
    channels: list[Token] = Field(default_factory=list, max_length=20)
    queues: list[Token] = Field(default_factory=list, max_length=50)
    tags: Tags = Field(default_factory=list, max_length=20)
    text: Token = ""
    attribute: Token = ""
    value: Token = ""
    business_hours: Literal["open", "closed"] | None = None


class Actions(Body):
    queue: Token | None = None
    assignee: Token | None = None
    tags: Tags = Field(default_factory=list, max_length=20)
    priority: Token | None = None
    response: Token | None = None
    note: Text = ""
    notify: Token = ""
    fields: SetFields = Field(default_factory=dict, max_length=MAX_FIELDS,
                              description="ticket fields' values to set (GET /api/ticket-fields)")


class MacroActions(Body):
    queue: Token | None = None
    assignee: Token | None = None
    tags: Tags = Field(default_factory=list, max_length=20)
    priority: Token | None = None
    status: Literal["new", "open", "pending", "solved", "closed"] | None = None
    response: Token | None = None
    fields: SetFields = Field(default_factory=dict, max_length=MAX_FIELDS,
                              description="ticket fields' values to set (GET /api/ticket-fields)")


class RuleFields(Body):
    name: Name = Field(min_length=1)
    enabled: Flag = True
    event: Event
    idle_hours: int | None = Field(default=None, ge=1, le=720, description="ticket.idle: hours without a change")
    conditions: Conditions = Field(default_factory=Conditions)
    actions: Actions


class MacroFields(Body):
    name: Name = Field(min_length=1)
    actions: MacroActions


def _oid(value: str, what: str) -> ObjectId:
    try:
        return oid(value)
    except ValueError as exc:
        raise error(404, f"no such {what}") from exc


def _rule(doc: Doc) -> dict[str, Any]:
    return {"id": str(doc["_id"]), "name": doc["name"], "enabled": doc["enabled"], "event": doc["event"],
            "idle_hours": doc.get("idle_hours"),
            "conditions": doc["conditions"], "actions": doc["actions"]}


def _macro(doc: Doc) -> dict[str, Any]:
    return {"id": str(doc["_id"]), "name": doc["name"], "actions": doc["actions"]}


async def _choices(hub: Hub) -> dict[str, Any]:
    """What a rule or a macro may move a ticket to and assign it to, by title and name (they keep the queue's key
    and the username): the queues, and the active desk users."""
    agents = await hub.store.agents.find({"disabled": {"$ne": True}, "service": {"$ne": True}},
                                         projection={"username": 1, "name": 1}, sort=[("name", 1)]).to_list()
    return {"queues": [{"name": q.name, "title": q.title or q.name} for q in hub.tickets.queues.values()],
            "agents": [{"username": a["username"], "name": a.get("name") or a["username"]} for a in agents]}


@requires(Role.ADMIN)
async def list_rules(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    return web.json_response({"rules": [_rule(r) for r in await hub.automation.rules()], **await _choices(hub)})


async def _save_rule(request: web.Request, rule_id: ObjectId | None) -> web.Response:
    hub = request.app[HUB]
    body = body_of(request, RuleFields)
    try:
        doc = await hub.automation.save_rule(body.model_dump(), rule_id)
    except AutomationError as exc:
        raise error(404 if str(exc) == "no such rule" else 400, str(exc)) from exc
    view = _rule(doc)
    await hub.audit.record("automation.rule_saved", actor=agent_of(request), ip=request.remote,
                           target={"type": "automation_rule", "id": view["id"], "name": view["name"]},
                           details={k: view[k] for k in ("enabled", "event", "conditions", "actions")})
    return web.json_response({"rule": view}, status=201 if rule_id is None else 200)


@requires(Role.ADMIN)
@accepts(RuleFields)
async def create_rule(request: web.Request) -> web.Response:
    return await _save_rule(request, None)


@requires(Role.ADMIN)
@accepts(RuleFields)
async def update_rule(request: web.Request) -> web.Response:
    return await _save_rule(request, _oid(request.match_info["id"], "rule"))


@requires(Role.ADMIN)
async def delete_rule(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    doc = await hub.automation.delete_rule(_oid(request.match_info["id"], "rule"))
    if doc is None:
        raise error(404, "no such rule")
    await hub.audit.record("automation.rule_deleted", actor=agent_of(request), ip=request.remote,
                           target={"type": "automation_rule", "id": str(doc["_id"]), "name": doc["name"]})
    return web.json_response({"ok": True})


@requires(Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
async def list_macros(request: web.Request) -> web.Response:
    """The macros; with `?choices=1` (the editor: supervisors and admins) also the queues and desk users they may
    name. An agent applies macros and is not sent the team's usernames."""
    hub = request.app[HUB]
    editor = has_role(agent_of(request), Role.SUPERVISOR, Role.ADMIN)
    choices = await _choices(hub) if editor and request.query.get("choices") == "1" else {}
    return web.json_response({"macros": [_macro(m) for m in await hub.automation.macros()], **choices})


async def _save_macro(request: web.Request, macro_id: ObjectId | None) -> web.Response:
    hub = request.app[HUB]
    body = body_of(request, MacroFields)
    try:
        doc = await hub.automation.save_macro(body.model_dump(), macro_id)
    except AutomationError as exc:
        raise error(404 if str(exc) == "no such macro" else 400, str(exc)) from exc
    view = _macro(doc)
    await hub.audit.record("automation.macro_saved", actor=agent_of(request), ip=request.remote,
                           target={"type": "macro", "id": view["id"], "name": view["name"]},
                           details={"actions": view["actions"]})
    return web.json_response({"macro": view}, status=201 if macro_id is None else 200)


@requires(Role.SUPERVISOR, Role.ADMIN)
@accepts(MacroFields)
async def create_macro(request: web.Request) -> web.Response:
    return await _save_macro(request, None)


@requires(Role.SUPERVISOR, Role.ADMIN)
@accepts(MacroFields)
async def update_macro(request: web.Request) -> web.Response:
    return await _save_macro(request, _oid(request.match_info["id"], "macro"))


@requires(Role.SUPERVISOR, Role.ADMIN)
async def delete_macro(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    doc = await hub.automation.delete_macro(_oid(request.match_info["id"], "macro"))
    if doc is None:
        raise error(404, "no such macro")
    await hub.audit.record("automation.macro_deleted", actor=agent_of(request), ip=request.remote,
                           target={"type": "macro", "id": str(doc["_id"]), "name": doc["name"]})
    return web.json_response({"ok": True})


@requires(Role.AGENT, Role.SUPERVISOR)
async def apply_macro(request: web.Request) -> web.Response:
    """Apply a macro to a ticket: its changes are made now; a canned response comes back as `insert_text` for the
    reply box (the agent reads it before sending). Refused parts are listed in `failed`."""
    hub = request.app[HUB]
    agent = agent_of(request)
    try:
        out = await hub.automation.apply_macro(_oid(request.match_info["macro"], "macro"),
                                               _oid(request.match_info["id"], "ticket"), agent,
                                               supervisor=Role.SUPERVISOR.value in agent.get("roles", []))
    except AutomationError as exc:
        raise error(404, str(exc)) from exc
    except NotFound as exc:
        raise error(404, str(exc)) from exc
    except TicketError as exc:
        raise error(400, str(exc)) from exc
    return web.json_response({"done": out.done, "failed": out.failed, "insert_text": out.insert_text})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/admin/automation", list_rules),
        web.post("/api/admin/automation", create_rule),
        web.put("/api/admin/automation/{id}", update_rule),
        web.delete("/api/admin/automation/{id}", delete_rule),
        web.get("/api/macros", list_macros),
        web.post("/api/macros", create_macro),
        web.put("/api/macros/{id}", update_macro),
        web.delete("/api/macros/{id}", delete_macro),
        web.post("/api/tickets/{id}/macros/{macro}", apply_macro),
    ]
