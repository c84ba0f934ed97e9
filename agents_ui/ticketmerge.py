"""Ticket merge and split from the desk (hub.ticketmerge does the work).

`POST /api/tickets/{id}/merge` {"into": "12"} merges this ticket into #12 (a number, "#12" or an id);
`POST /api/tickets/{id}/split` {"message_id": ...} moves a customer message out into a new ticket.
Refusals are 409 with the reason by ticket number; unknown tickets or messages 404. Both are
recorded in the audit trail (`ticket.merged`, `ticket.split`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web
from pydantic import Field

from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, body_of
from httpkit.fields import Body, Token
from hub.access import SUPERVISORS, TICKET_WORKERS
from hub.hub import Hub
from hub.store import ObjectId, oid
from hub.ticketmerge import MergeRefused
from hub.tickets import NotFound, TicketError
from hub.views import ticket_view


class Merge(Body):
    """Which ticket survives: this one is merged into it and closes."""

    into: Token = Field(description='the surviving ticket: its number ("12" or "#12") or id')


class Split(Body):
    """The customer message that starts the new ticket."""

    message_id: Token = Field(description="a customer message of this ticket")


def _ticket_id(request: web.Request) -> ObjectId:
    try:
        return oid(request.match_info["id"])
    except ValueError as exc:
        raise error(404, "no such ticket") from exc


@contextmanager
def _refusals() -> Iterator[None]:
    """A merge or split the hub refuses: 404 unknown ticket, 409 refused move, 400 bad request."""
    try:
        yield
    except NotFound as exc:
        raise error(404, str(exc)) from exc
    except MergeRefused as exc:
        raise error(409, str(exc)) from exc
    except TicketError as exc:
        raise error(400, str(exc)) from exc


@requires(*TICKET_WORKERS, *SUPERVISORS, scope="tickets:write")
@accepts(Merge)
async def merge(request: web.Request) -> web.Response:
    """Merge this ticket into `into`: its conversations move there, the customer is told, this one closes."""
    hub: Hub = request.app[HUB]
    body = body_of(request, Merge)
    me = agent_of(request)
    with _refusals():
        source = await hub.tickets.get(_ticket_id(request))
        target = await hub.ticket_merges.find(body.into)
        survivor, merged = await hub.ticket_merges.merge(source["_id"], target["_id"], me)
    await hub.audit.record(
        "ticket.merged", actor=me, ip=request.remote,
        target={"type": "ticket", "id": merged["_id"], "name": f"#{merged['number']}"},
        details={"into": f"#{survivor['number']}", "conversations": len(merged.get("merged_conversation_ids") or [])})
    return web.json_response({"ticket": ticket_view(survivor), "merged": ticket_view(merged)})


@requires(*TICKET_WORKERS, *SUPERVISORS, scope="tickets:write")
@accepts(Split)
async def split(request: web.Request) -> web.Response:
    """Move a customer message of this ticket out into a new ticket (same queue, unassigned)."""
    hub: Hub = request.app[HUB]
    body = body_of(request, Split)
    me = agent_of(request)
    ticket_id = _ticket_id(request)
    try:
        message_id = oid(body.message_id)
    except ValueError as exc:
        raise error(400, "no such message (message_id is not a message's id)") from exc
    with _refusals():
        new, original = await hub.ticket_merges.split(ticket_id, message_id, me)
    await hub.audit.record(
        "ticket.split", actor=me, ip=request.remote,
        target={"type": "ticket", "id": original["_id"], "name": f"#{original['number']}"},
        details={"new_ticket": f"#{new['number']}", "subject": new.get("subject") or ""})
    return web.json_response({"ticket": ticket_view(new), "from": ticket_view(original)}, status=201)


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/tickets/{id}/merge", merge),
        web.post("/api/tickets/{id}/split", split),
    ]
