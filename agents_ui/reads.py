"""What each desk user has read (hub.ticketreads): the tickets with news for them not read since, and "I read it".

The desk draws a dot on those rows and counts them in the tab's title (static/attention.js). It reads the list
when the user signs in or reloads, and tells the hub whenever it shows them a ticket in a tab in front. The News list
in the header (static/newslist.js) shows the same tickets with what happened, in words, and marks them all read.
"""

from __future__ import annotations

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, body_of
from hub.access import TICKET_READERS
from hub.newswords import news_words
from hub.store import oid


@requires(*TICKET_READERS, scope="tickets:read")
async def unread(request: web.Request) -> web.Response:
    """The active tickets with news for me I have not read since (`why`: message, assigned, reminder, mention,
    followed), newest news first, each with its subject and what happened in words (`said`: "Ada Lovelace wrote")."""
    hub = request.app[HUB]
    found = await hub.reads.unread_tickets(agent_of(request)["_id"])
    words = await news_words(hub.store, found)
    return web.json_response({"tickets": [{"id": str(u.ticket_id), "number": u.number, "why": u.why,
                                           "at": u.at.isoformat(), "subject": t.get("subject") or "",
                                           "said": said} for (u, t), said in zip(found, words, strict=True)]})


@requires(*TICKET_READERS, scope="tickets:read")
@accepts(schemas.ReadAll)
async def read_all(request: web.Request) -> web.Response:
    """I have read these tickets now ("Mark all as read" in the News list): the ones it showed me, not news that
    came since. One command; my other desks hear each read, as for one ticket."""
    body = body_of(request, schemas.ReadAll)
    try:
        ids = [oid(i) for i in body.ticket_ids]
    except ValueError as exc:
        raise error(400, str(exc)) from exc
    at = await request.app[HUB].reads.mark_many(agent_of(request)["_id"], ids)
    return web.json_response({"seen_at": at.isoformat(), "tickets": len(set(ids))})


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
    return [web.get("/api/me/unread", unread), web.post("/api/me/unread/read", read_all),
            web.post("/api/tickets/{id}/seen", seen)]
