"""Business hours in the desk: admins list, create, change and delete the queues' calendars (hub.sla).

Every change is on the audit trail (`calendar.saved`, `calendar.deleted`) with the calendar as it is
after the change. A calendar the hub cannot use (an unknown time zone, overlapping intervals, a bad
date) is refused with 400 and the reason.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, body_of
from hub.calendars import CalendarError
from hub.models import Role
from hub.store import Doc


def _public(doc: Doc) -> dict[str, Any]:
    return {"name": doc["_id"], "timezone": doc.get("timezone"), "hours": doc.get("hours") or {},
            "holidays": doc.get("holidays") or [], "queues": doc.get("queues") or [],
            "updated_at": doc["updated_at"].isoformat() if doc.get("updated_at") else None}


@requires(Role.ADMIN)
async def list_calendars(request: web.Request) -> web.Response:
    """Every calendar with the queues that use it, and every queue (a queue in none runs 24/7)."""
    hub = request.app[HUB]
    queues = [{"name": q.name, "title": q.title or q.name} for q in hub.tickets.queues.values()]
    return web.json_response({"calendars": [_public(c) for c in await hub.tickets.calendars.list()],
                              "queues": queues})


@requires(Role.ADMIN)
@accepts(schemas.CalendarFields)
async def save_calendar(request: web.Request) -> web.Response:
    """Create or replace the calendar `name`: `timezone` (IANA), `hours` (weekday -> ["09:00-17:00", ...]),
    `holidays` ([{date, yearly, name}]) and `queues` (moved here from any other calendar)."""
    hub = request.app[HUB]
    body = body_of(request, schemas.CalendarFields)
    name = request.match_info["name"]
    raw = {"timezone": body.timezone, "hours": body.hours,
           "holidays": [h.model_dump() for h in body.holidays]}
    try:
        doc = await hub.tickets.calendars.save(name, raw, body.queues, set(hub.tickets.queues))
    except CalendarError as exc:
        raise error(400, str(exc)) from exc
    view = _public(doc)
    await hub.audit.record("calendar.saved", actor=agent_of(request), ip=request.remote,
                           target={"type": "calendar", "id": name, "name": name},
                           details={k: view[k] for k in ("timezone", "hours", "holidays", "queues")})
    return web.json_response({"calendar": view})


@requires(Role.ADMIN)
async def delete_calendar(request: web.Request) -> web.Response:
    """Delete a calendar: its queues' new tickets run 24/7 (tickets already open keep their due times)."""
    hub = request.app[HUB]
    name = request.match_info["name"]
    if not await hub.tickets.calendars.delete(name):
        raise error(404, "no such calendar")
    await hub.audit.record("calendar.deleted", actor=agent_of(request), ip=request.remote,
                           target={"type": "calendar", "id": name, "name": name})
    return web.json_response({"ok": True})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/admin/calendars", list_calendars),
        web.put("/api/admin/calendars/{name}", save_calendar),
        web.delete("/api/admin/calendars/{name}", delete_calendar),
    ]
