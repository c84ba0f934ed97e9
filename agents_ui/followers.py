"""Following a ticket (hub.followers): `POST /api/tickets/{id}/follow {follow}`, from the desk's Follow button."""

from __future__ import annotations

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, body_of
from hub.access import TICKET_READERS
from hub.store import oid
from hub.tickets import NotFound, TicketError
from hub.views import ticket_view


@requires(*TICKET_READERS)
@accepts(schemas.Follow)
async def follow(request: web.Request) -> web.Response:
    """I follow the ticket (`follow`: true) or stop: its customer's messages are news for me while someone else
    holds it. Answers the ticket."""
    try:
        ticket_id = oid(request.match_info["id"])
    except ValueError as exc:
        raise error(404, str(exc)) from exc
    wanted = body_of(request, schemas.Follow).follow
    try:
        ticket = await request.app[HUB].followers.follow(ticket_id, agent_of(request)["_id"], wanted)
    except NotFound as exc:
        raise error(404, str(exc)) from exc
    except TicketError as exc:
        raise error(409, str(exc)) from exc
    return web.json_response({"ticket": ticket_view(ticket)})


def routes() -> list[web.RouteDef]:
    return [web.post("/api/tickets/{id}/follow", follow)]
