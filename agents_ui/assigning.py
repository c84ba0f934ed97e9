"""Who a ticket may be assigned to, by whom: one rule for the single assignment and the list's bulk one.

Agents take a ticket (`me`) and hand back (`None`) only their own; supervisors (and service tokens, which route work
like them) assign any ticket to any active user with the agent role, or to nobody, without being agents themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents_ui.auth import error
from hub.access import SUPERVISORS, TICKET_WORKERS
from hub.accounts import has_role
from hub.hub import Hub
from hub.store import Doc, ObjectId, oid


@dataclass(frozen=True)
class Assignment:
    assignee: ObjectId | None
    other: Doc | None  # the colleague a supervisor chose (audited), None for `me` or nobody
    only_mine: ObjectId | None  # an agent handing back: only while the ticket is theirs


async def assignment(hub: Hub, me: Doc, target: str | None) -> Assignment:
    """What `target` ("me", an agent's id or None) means for the desk user `me`, or the HTTP error why not."""
    supervisor = has_role(me, *SUPERVISORS) or bool(me.get("service"))
    other: Doc | None = None
    if target == "me":
        if me.get("service"):
            raise error(400, "a service token cannot take tickets; give an agent's id")
        if not has_role(me, *TICKET_WORKERS):
            raise error(403, "only agents take tickets; assign it to an agent")
        assignee: ObjectId | None = me["_id"]
    elif target is None:
        assignee = None
    else:
        if not supervisor:
            raise error(403, "only supervisors assign tickets to others")
        try:
            assignee = oid(str(target))
        except ValueError as exc:
            raise error(400, str(exc)) from exc
        other = await hub.accounts.get(assignee)
        if other is None or other.get("disabled") or not has_role(other, *TICKET_WORKERS):
            raise error(400, "no such agent (the assignee must be an active user with the agent role)")
    return Assignment(assignee, other, me["_id"] if assignee is None and not supervisor else None)


async def audit_assignment(hub: Hub, me: Doc, chosen: Assignment, ticket: Doc, ip: str | None) -> None:
    """A supervisor's decision about someone else's work goes in the audit trail."""
    if chosen.other is None:
        return
    target = {"type": "ticket", "id": ticket["_id"], "name": f"#{ticket['number']}"}
    await hub.audit.record("ticket.assigned", actor=me, target=target, ip=ip,
                           details={"assignee": chosen.other.get("username")})
