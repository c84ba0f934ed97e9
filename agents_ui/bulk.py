"""Several tickets at once from the list: one status (solve five duplicates, close a burst of spam) or one assignee
(take them, hand them to Bob, unassign them).

Each ticket goes through the same service call as a single change (its own transaction, events, webhooks, SLA
clock, routing), and the same rules (`agents_ui.assigning`; only agents change a status), so a bulk change is
exactly as many single changes. One that cannot be made (merged into another, already closed, not yours to hand
back, gone) is reported with its number and reason and the others are still made: the answer lists both.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB
from agents_ui.assigning import assignment, audit_assignment
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, fields_of
from hub.access import SUPERVISORS, TICKET_WORKERS
from hub.accounts import has_role
from hub.hub import Hub
from hub.models import TicketStatus
from hub.store import Doc, ObjectId, oid
from hub.tickets import TicketError


@requires(*TICKET_WORKERS, *SUPERVISORS, scope="tickets:write")
@accepts(schemas.Bulk)
async def bulk(request: web.Request) -> web.Response:
    """`{ticket_ids, status}` or `{ticket_ids, agent_id}`: `done` (id and number of each ticket changed) and
    `failed` (id, number when known, and why) in the order given."""
    hub: Hub = request.app[HUB]
    body = fields_of(request)
    me = agent_of(request)
    if ("status" in body) == ("agent_id" in body):
        raise error(400, "give either status or agent_id")
    try:
        ids = list(dict.fromkeys(oid(str(i)) for i in body["ticket_ids"]))
    except ValueError as exc:
        raise error(400, f"ticket_ids: {exc}") from exc
    if "status" in body and not has_role(me, *TICKET_WORKERS):
        raise error(403, "only agents change a ticket's status")
    if "status" in body and body["status"] not in {s.value for s in TicketStatus}:
        raise error(400, f"status must be one of {', '.join(s.value for s in TicketStatus)}")
    chosen = await assignment(hub, me, body["agent_id"]) if "agent_id" in body else None
    done: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for ticket_id in ids:
        try:
            if chosen is None:
                ticket = await hub.tickets.set_status(ticket_id, str(body["status"]), me)
            else:
                ticket = await hub.tickets.assign(ticket_id, chosen.assignee, me, if_assigned_to=chosen.only_mine)
                await audit_assignment(hub, me, chosen, ticket, request.remote)
        except TicketError as exc:
            failed.append({"id": str(ticket_id), "number": await _number(hub, ticket_id), "error": str(exc)})
            continue
        done.append({"id": str(ticket_id), "number": ticket["number"]})
    return web.json_response({"done": done, "failed": failed})


async def _number(hub: Hub, ticket_id: ObjectId) -> int | None:
    found: Doc | None = await hub.store.tickets.find_one({"_id": ticket_id}, projection={"number": 1})
    return found["number"] if found else None


def routes() -> list[web.RouteDef]:
    return [web.post("/api/tickets/bulk", bulk)]
