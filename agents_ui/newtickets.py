"""An agent writes to a customer first (hub.outbound): `GET /api/new-ticket` says on which channels they can,
`POST /api/tickets` opens the ticket with the message (201, the ticket and the message)."""

from __future__ import annotations

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, body_of
from hub.models import Role
from hub.tickets import TicketError
from hub.views import message_for_desk, ticket_view


@requires(Role.AGENT, scope="tickets:write")
async def channels(request: web.Request) -> web.Response:
    """The channels an agent can write first on now (email, when its relay is set); empty: none."""
    return web.json_response({"channels": request.app[HUB].new_tickets.channels()})


@requires(Role.AGENT, scope="tickets:write")
@accepts(schemas.NewTicket)
async def start(request: web.Request) -> web.Response:
    """Open a ticket by writing to a customer: found or created by the address, the ticket held by the agent."""
    body = body_of(request, schemas.NewTicket)
    try:
        ticket, message = await request.app[HUB].new_tickets.start(
            agent_of(request), channel=body.channel, to=body.to, name=body.name, subject=body.subject,
            text=body.text, queue=body.queue, status=body.status, cc=body.cc)
    except TicketError as exc:
        raise error(400, str(exc)) from exc
    return web.json_response({"ticket": ticket_view(ticket), "message": message_for_desk(message)}, status=201)


def routes() -> list[web.RouteDef]:
    return [web.get("/api/new-ticket", channels), web.post("/api/tickets", start)]
