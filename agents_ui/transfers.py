"""Transfers from the desk: where a ticket can go, and moving it there (hub.transfers does the move).

Agents move tickets they work (their own or unassigned ones); supervisors (and service
tokens, which route work like supervisors) move any ticket, and their moves of someone
else's ticket are recorded in the audit trail, as `POST /api/tickets/{id}/assign` does.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, body_of
from hub.access import SUPERVISORS, TICKET_WORKERS
from hub.accounts import has_role
from hub.hub import Hub
from hub.store import Doc, ObjectId, oid
from hub.tickets import NotFound, NotYours, TicketError
from hub.transfers import Load, MovedMeanwhile, TransferRefused
from hub.views import ticket_view


def _ticket_id(request: web.Request) -> ObjectId:
    try:
        return oid(request.match_info["id"])
    except ValueError as exc:
        raise error(404, "no such ticket") from exc


def _target(load: Load) -> dict[str, Any]:
    return {"id": str(load.agent["_id"]), "name": load.agent.get("name") or load.agent.get("username"),
            "presence": load.presence, "active": load.active, "capacity": load.capacity,
            "queues": load.agent.get("queues") or None, "label": load.label()}


@requires(*TICKET_WORKERS, *SUPERVISORS, scope="tickets:read")
async def transfer_options(request: web.Request) -> web.Response:
    """Where this ticket can go: the queues, and the agents with presence and load ("Bob — online, 2/5")."""
    hub: Hub = request.app[HUB]
    try:
        ticket = await hub.tickets.get(_ticket_id(request))
    except NotFound as exc:
        raise error(404, "no such ticket") from exc
    me = agent_of(request)
    queues = [{"name": name, "title": hub.transfers.queue_title(name)} for name in hub.tickets.queues]
    agents = [_target(load) for load in await hub.transfers.targets() if load.agent["_id"] != me["_id"]]
    return web.json_response({"queue": ticket["queue"], "queues": queues, "agents": agents})


@requires(*TICKET_WORKERS, *SUPERVISORS, scope="tickets:write")
@accepts(schemas.Transfer)
async def transfer(request: web.Request) -> web.Response:
    """Move the ticket to another `queue` and/or `agent_id` with an optional private `note`.

    Without `agent_id` the ticket waits unassigned in the queue (this is also how an agent hands a
    ticket back). A target agent who is away, offline, at capacity or not in the queue: 409 with why.
    """
    hub: Hub = request.app[HUB]
    body = body_of(request, schemas.Transfer)
    me = agent_of(request)
    supervisor = has_role(me, *SUPERVISORS) or bool(me.get("service"))
    agent_id = None
    if body.agent_id:
        try:
            agent_id = oid(body.agent_id)
        except ValueError as exc:
            raise error(400, "no such agent (agent_id is not an agent's id)") from exc
    ticket_id = _ticket_id(request)
    try:
        before = await hub.tickets.get(ticket_id)
        ticket = await hub.transfers.transfer(ticket_id, me, queue=body.queue, agent_id=agent_id,
                                              note=body.note, any_ticket=supervisor)
    except NotFound as exc:
        raise error(404, str(exc)) from exc
    except NotYours as exc:
        raise error(403, str(exc)) from exc
    except (TransferRefused, MovedMeanwhile) as exc:
        raise error(409, str(exc)) from exc
    except TicketError as exc:
        raise error(400, str(exc)) from exc
    if supervisor:
        await audit_transfer(hub, me, before, ticket, request.remote, note=bool(body.note.strip()))
    return web.json_response({"ticket": ticket_view(ticket)})


async def audit_transfer(hub: Hub, me: Doc, before: Doc, after: Doc, ip: str | None, *, note: bool) -> None:
    """A supervisor's move of someone else's ticket (from or to a colleague) goes in the audit trail (the single
    transfer and the list's bulk move, agents_ui.bulk)."""
    if not ({before.get("assignee_id"), after.get("assignee_id")} - {None, me["_id"]}):
        return  # their own or nobody's work
    names = {a["_id"]: a.get("username") for a in await hub.store.agents.find(
        {"_id": {"$in": [before.get("assignee_id"), after.get("assignee_id")]}}, projection={"username": 1}).to_list()}
    await hub.audit.record(
        "ticket.transferred", actor=me, ip=ip,
        target={"type": "ticket", "id": after["_id"], "name": f"#{after['number']}"},
        details={"from_queue": before["queue"], "to_queue": after["queue"],
                 "from_agent": names.get(before.get("assignee_id")), "to_agent": names.get(after.get("assignee_id")),
                 "note": note})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/tickets/{id}/transfer", transfer_options),
        web.post("/api/tickets/{id}/transfer", transfer),
    ]
