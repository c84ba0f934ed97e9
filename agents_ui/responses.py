"""Canned responses: supervisors keep the library, agents insert them filled for their ticket."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, fields_of
from hub.models import Role
from hub.responses import ResponseError, ShortcutTaken
from hub.store import Doc, ObjectId, oid
from hub.tickets import NotFound


def _oid(value: str, what: str) -> ObjectId:
    try:
        return oid(value)
    except ValueError as exc:
        raise error(404, f"no such {what}") from exc


def _public(doc: Doc, rendered: str | None = None) -> dict[str, Any]:
    out = {"id": str(doc["_id"]), "shortcut": doc["shortcut"], "title": doc["title"], "text": doc["text"]}
    if rendered is not None:
        out["rendered"] = rendered
    return out


async def _audit(request: web.Request, action: str, doc: Doc) -> None:
    """The library is shared wording every agent sends: who changed it is on the audit trail."""
    await request.app[HUB].audit.record(action, actor=agent_of(request), ip=request.remote,
                                        target={"type": "response", "id": doc["_id"], "name": "/" + doc["shortcut"]})


@requires(Role.AGENT, Role.SUPERVISOR)
async def list_responses(request: web.Request) -> web.Response:
    """All responses; with `?ticket=<id>`, each also `rendered` for that ticket's customer and you."""
    hub = request.app[HUB]
    responses = await hub.responses.list()
    ticket_id = request.query.get("ticket")
    if not ticket_id:
        return web.json_response({"responses": [_public(r) for r in responses]})
    try:
        ticket = await hub.tickets.get(_oid(ticket_id, "ticket"))
    except NotFound as exc:
        raise error(404, "no such ticket") from exc
    customer = await hub.contacts.get(ticket["contact_id"])
    me = agent_of(request)
    return web.json_response({"responses": [
        _public(r, hub.responses.render(r["text"], customer=customer, agent=me, ticket=ticket)) for r in responses]})


@requires(Role.SUPERVISOR)
@accepts(schemas.ResponseFields)
async def create_response(request: web.Request) -> web.Response:
    """Add a response: `shortcut`, `title`, `text` (placeholders: see hub/responses.py)."""
    body = fields_of(request)
    try:
        doc = await request.app[HUB].responses.create(body, agent_of(request)["_id"])
    except ResponseError as exc:
        raise error(409 if isinstance(exc, ShortcutTaken) else 400, str(exc)) from exc
    await _audit(request, "response.created", doc)
    return web.json_response({"response": _public(doc)}, status=201)


@requires(Role.SUPERVISOR)
@accepts(schemas.ResponseFields)
async def update_response(request: web.Request) -> web.Response:
    """Change a response's shortcut, title and text."""
    body = fields_of(request)
    try:
        doc = await request.app[HUB].responses.update(_oid(request.match_info["id"], "response"), body,
                                                      agent_of(request)["_id"])
    except ResponseError as exc:
        raise error(409 if isinstance(exc, ShortcutTaken) else 400, str(exc)) from exc
    if doc is None:
        raise error(404, "no such response")
    await _audit(request, "response.updated", doc)
    return web.json_response({"response": _public(doc)})


@requires(Role.SUPERVISOR)
async def delete_response(request: web.Request) -> web.Response:
    """Remove a response."""
    response_id = _oid(request.match_info["id"], "response")
    doc = await request.app[HUB].store.responses.find_one({"_id": response_id}, projection={"shortcut": 1})
    if not await request.app[HUB].responses.delete(response_id):
        raise error(404, "no such response")
    await _audit(request, "response.deleted", doc or {"_id": response_id, "shortcut": ""})
    return web.json_response({"ok": True})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/responses", list_responses),
        web.post("/api/responses", create_response),
        web.put("/api/responses/{id}", update_response),
        web.delete("/api/responses/{id}", delete_response),
    ]
