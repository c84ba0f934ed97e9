"""Admins' ticket fields (hub.ticketfields): `GET /api/ticket-fields` for every desk user (the ticket page draws
them), `PUT`/`DELETE /api/admin/ticket-fields/{key}` for admins. Agents set the values with
`PATCH /api/tickets/{id} {fields}` (agents_ui.desk).

Every definition change is on the audit trail (`ticket_field.saved`, `ticket_field.deleted`). A definition the hub
cannot take (a bad key, a list without choices, a kind changed) is refused with 400 and the reason.
"""

from __future__ import annotations

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, body_of
from hub.access import TICKET_READERS
from hub.models import Role
from hub.ticketfields import FieldError, definition


@requires(*TICKET_READERS, scope="tickets:read")
async def list_fields(request: web.Request) -> web.Response:
    """Every ticket field, in the order defined: key, label, kind, choices, description."""
    return web.json_response({"fields": [f.public() for f in await request.app[HUB].tickets.fields.list()]})


@requires(Role.ADMIN)
@accepts(schemas.TicketFieldDef)
async def save_field(request: web.Request) -> web.Response:
    """Define the field `key`, or change its label, choices or description (its kind stays)."""
    body = body_of(request, schemas.TicketFieldDef)
    key = request.match_info["key"]
    try:
        field = await request.app[HUB].tickets.fields.save(
            definition(key, body.label, body.kind, body.options, body.description, body.required, body.queues,
                       known_queues=request.app[HUB].tickets.queues))
    except FieldError as exc:
        raise error(400, str(exc)) from exc
    await request.app[HUB].audit.record("ticket_field.saved", actor=agent_of(request), ip=request.remote,
                                        target={"type": "ticket_field", "id": key, "name": field.label},
                                        details=field.public())
    return web.json_response({"field": field.public()})


@requires(Role.ADMIN)
async def delete_field(request: web.Request) -> web.Response:
    """Forget a field: the desk no longer shows it (the values stay on the tickets; defining it again shows them)."""
    key = request.match_info["key"]
    if not await request.app[HUB].tickets.fields.delete(key):
        raise error(404, "no such ticket field")
    await request.app[HUB].audit.record("ticket_field.deleted", actor=agent_of(request), ip=request.remote,
                                        target={"type": "ticket_field", "id": key, "name": key})
    return web.json_response({"ok": True})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/ticket-fields", list_fields),
        web.put("/api/admin/ticket-fields/{key}", save_field),
        web.delete("/api/admin/ticket-fields/{key}", delete_field),
    ]
