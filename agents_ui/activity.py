"""Collision on a ticket: the desk reports viewing and typing; every desk on the ticket sees it live."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, fields_of
from hub.access import TICKET_READERS
from hub.store import Doc, oid
from hub.tickets import NotFound


def activity_view(doc: Doc) -> dict[str, Any]:
    """What a desk shows of one agent's activity on a ticket (no customer data)."""
    def iso(key: str) -> str | None:
        value = doc.get(key)
        return value.isoformat() if value is not None else None

    return {"ticket_id": str(doc["ticket_id"]), "agent_id": str(doc["agent_id"]), "agent_name": doc["agent_name"],
            "state": doc["state"], "viewing_until": iso("viewing_until"), "typing_until": iso("typing_until")}


async def _ticket(request: web.Request) -> Doc:
    try:
        return await request.app[HUB].tickets.get(oid(request.match_info["id"]))
    except (NotFound, ValueError) as exc:
        raise error(404, str(exc)) from exc


@requires(*TICKET_READERS)
@accepts(schemas.Activity)
async def report(request: web.Request) -> web.Response:
    """I am viewing / typing on / have left this ticket (the desk renews it while it holds); with who else is on
    it now (`others`), so a desk opening the ticket needs no second request."""
    ticket = await _ticket(request)
    mine, others = await request.app[HUB].activity.report(ticket, agent_of(request), fields_of(request)["state"])
    return web.json_response({"activity": activity_view(mine), "others": [activity_view(d) for d in others]})


@requires(*TICKET_READERS)
async def current(request: web.Request) -> web.Response:
    """Who else is on this ticket now (a report answers the same in its `others`)."""
    ticket = await _ticket(request)
    me = agent_of(request)["_id"]
    docs = await request.app[HUB].activity.on_ticket(ticket["_id"])
    return web.json_response({"activity": [activity_view(d) for d in docs if d["agent_id"] != me]})


def routes() -> list[web.RouteDef]:
    return [web.post("/api/tickets/{id}/activity", report), web.get("/api/tickets/{id}/activity", current)]
