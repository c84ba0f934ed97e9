"""What each desk user has read (hub.ticketreads): the tickets with news for them not read since, and "I read it".

The desk draws a dot on those rows and counts them in the tab's title (static/attention.js). It reads the list
when the user signs in or reloads, and tells the hub whenever it shows them a ticket in a tab in front.
"""

from __future__ import annotations

from aiohttp import web

from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from hub.access import TICKET_READERS
from hub.store import oid


@requires(*TICKET_READERS, scope="tickets:read")
async def unread(request: web.Request) -> web.Response:
    """The active tickets with news for me I have not read since (`why`: message, assigned, reminder, mention),
    newest news first."""
    found = await request.app[HUB].reads.unread(agent_of(request)["_id"])
    return web.json_response({"tickets": [{"id": str(u.ticket_id), "number": u.number, "why": u.why,
                                           "at": u.at.isoformat()} for u in found]})


@requires(*TICKET_READERS, scope="tickets:read")
async def seen(request: web.Request) -> web.Response:
    """I have read this ticket now (no body): its news so far are no longer unread for me, on any desk."""
    hub = request.app[HUB]
    try:
        ticket_id = oid(request.match_info["id"])
    except ValueError as exc:
        raise error(404, str(exc)) from exc
    if await hub.store.tickets.find_one({"_id": ticket_id}, projection={"_id": 1}) is None:
        raise error(404, f"no ticket {ticket_id}")
    at = await hub.reads.mark(agent_of(request)["_id"], ticket_id)
    return web.json_response({"seen_at": at.isoformat()})


def routes() -> list[web.RouteDef]:
    return [web.get("/api/me/unread", unread), web.post("/api/tickets/{id}/seen", seen)]
