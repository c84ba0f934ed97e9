"""Several tickets at once from the list: one status (solve five duplicates, close a burst of spam), one assignee
(take them, hand them to Bob, unassign them), one priority, tags added, a ticket field's value (hub.ticketfields), or
one queue to move them to.

Each ticket goes through the same service call as a single change (its own transaction, events, webhooks, SLA
clock, routing), and the same rules (`agents_ui.assigning`; only agents change a status, a priority or tags, as on
the ticket's head; a move is a transfer, `agents_ui.transfers`), so a bulk change is exactly as many single
changes. One that cannot be made (merged into another, already closed, not yours to hand back or move, gone) is
reported with its number and reason and the others are still made: the answer lists both.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB
from agents_ui.assigning import Assignment, assignment, audit_assignment
from agents_ui.auth import agent_of, error, requires
from agents_ui.transfers import audit_transfer
from httpkit.bodies import accepts, fields_of
from hub.access import SUPERVISORS, TICKET_WORKERS
from hub.accounts import has_role
from hub.hub import Hub
from hub.models import TicketStatus
from hub.store import Doc, ObjectId, oid
from hub.tickets import TicketError

#: What a bulk change may do, one per request; the ones only agents make (as on the ticket's head).
ACTIONS = ("status", "agent_id", "priority", "add_tags", "remove_tags", "fields", "queue")
AGENTS_ONLY = {"status": "a ticket's status", "priority": "a ticket's priority", "add_tags": "a ticket's tags",
               "remove_tags": "a ticket's tags", "fields": "a ticket's fields"}


@requires(*TICKET_WORKERS, *SUPERVISORS, scope="tickets:write")
@accepts(schemas.Bulk)
async def bulk(request: web.Request) -> web.Response:
    """`{ticket_ids}` and one of `status`, `agent_id`, `priority`, `add_tags`, `remove_tags`, `fields`, `queue`:
    `done` (id and number of each ticket changed) and `failed` (id, number when known, and why) in the order given."""
    hub: Hub = request.app[HUB]
    body = fields_of(request)
    me = agent_of(request)
    given = [name for name in ACTIONS if name in body]
    if len(given) != 1:
        raise error(400, f"give exactly one of {', '.join(ACTIONS)}")
    what = given[0]
    try:
        ids = list(dict.fromkeys(oid(str(i)) for i in body["ticket_ids"]))
    except ValueError as exc:
        raise error(400, f"ticket_ids: {exc}") from exc
    if what in AGENTS_ONLY and not has_role(me, *TICKET_WORKERS):
        raise error(403, f"only agents change {AGENTS_ONLY[what]}")
    if what == "status" and body["status"] not in {s.value for s in TicketStatus}:
        raise error(400, f"status must be one of {', '.join(s.value for s in TicketStatus)}")
    if what == "queue" and body["queue"] not in hub.tickets.queues:
        raise error(400, f"no queue named {body['queue']!r}")
    chosen = await assignment(hub, me, body["agent_id"]) if what == "agent_id" else None
    done: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for ticket_id in ids:
        try:
            ticket = await _change(request, hub, me, ticket_id, body, chosen)
        except TicketError as exc:
            failed.append({"id": str(ticket_id), "number": await _number(hub, ticket_id), "error": str(exc)})
            continue
        done.append({"id": str(ticket_id), "number": ticket["number"]})
    return web.json_response({"done": done, "failed": failed})


async def _change(request: web.Request, hub: Hub, me: Doc, ticket_id: ObjectId, body: dict[str, Any],
                  chosen: Assignment | None) -> Doc:
    """One ticket changed as its own request would change it."""
    if chosen is not None:
        ticket = await hub.tickets.assign(ticket_id, chosen.assignee, me, if_assigned_to=chosen.only_mine)
        await audit_assignment(hub, me, chosen, ticket, request.remote)
        return ticket
    if "status" in body:
        return await hub.tickets.set_status(ticket_id, str(body["status"]), me)
    if "priority" in body or "add_tags" in body or "remove_tags" in body or "fields" in body:
        return await hub.tickets.edit(ticket_id, me, priority=body.get("priority"), add_tags=body.get("add_tags"),
                                      remove_tags=body.get("remove_tags"), fields=body.get("fields"))
    supervisor = has_role(me, *SUPERVISORS) or bool(me.get("service"))
    before = await hub.tickets.get(ticket_id)
    if before["queue"] == body["queue"]:
        return before  # already there: nothing to move (a transfer to where it is would be refused)
    ticket = await hub.transfers.transfer(ticket_id, me, queue=str(body["queue"]), any_ticket=supervisor)
    if supervisor:
        await audit_transfer(hub, me, before, ticket, request.remote, note=False)
    return ticket


async def _number(hub: Hub, ticket_id: ObjectId) -> int | None:
    found: Doc | None = await hub.store.tickets.find_one({"_id": ticket_id}, projection={"number": 1})
    return found["number"] if found else None


def routes() -> list[web.RouteDef]:
    return [web.post("/api/tickets/bulk", bulk)]
