"""A ticket's SLA clock, as pure functions of the ticket and its queue's calendar.

Each ticket has two targets, `first_response` (until the first agent answer) and `resolution`
(until solved). `ticket.sla` holds, per target, the due time and the warning time (both already
in business time), the calendar they were computed with, and the warnings and breaches already
emitted (`events.<target>_<kind>`: when). Rules (docs/sla.md):

* **Start**: at escalation (`sla.start`), due = start + target in the queue's business hours;
  warning = start + `sla_warning_ratio` of the target (or the target less `sla_warning_seconds`).
* **Pending pauses**: while pending nothing is due; on leaving pending, every due and warning
  time moves by the business time the ticket was pending (`paused_business_seconds` adds up).
* **Transfer to another queue**: recomputed from `sla.start` with the new queue's targets and
  calendar, plus the business time already paused (as Zammad recomputes with the new SLA).
  Warnings and breaches already emitted stay emitted: each fires once per ticket and target.

Tickets stored before calendars existed have no `sla.calendar`: their due times are read with
`sla.paused_seconds` added, as before.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from hub.calendars import ALWAYS, Calendar, CalendarError
from hub.models import TicketStatus

TARGETS = ("first_response", "resolution")
KINDS = ("warning", "breach")
ACTIVE = (TicketStatus.NEW.value, TicketStatus.OPEN.value, TicketStatus.PENDING.value)
Doc = dict[str, Any]


class Targets(Protocol):
    first_response_sla_seconds: int
    resolution_sla_seconds: int
    sla_warning_ratio: float
    sla_warning_seconds: int


def seconds_of(queue: Targets, target: str) -> int:
    return int(queue.first_response_sla_seconds if target == "first_response" else queue.resolution_sla_seconds)


def warning_offset(queue: Targets, target_seconds: float) -> float:
    """How far into the target (business seconds) the warning comes."""
    if queue.sla_warning_seconds > 0:
        return max(0.0, target_seconds - queue.sla_warning_seconds)
    return target_seconds * min(1.0, max(0.0, queue.sla_warning_ratio))


def start_clock(queue: Targets, calendar: Calendar, start: datetime, paused_business: float = 0.0) -> Doc:
    """The `sla` fields of a ticket whose clock started at `start` (and was paused this long)."""
    try:
        calendar.add_business_seconds(start, seconds_of(queue, "resolution") + paused_business)
    except CalendarError:  # open less than the target within a year (holidays over every open day): 24/7
        calendar = ALWAYS
    sla: Doc = {"calendar": calendar.name, "start": start, "paused_business_seconds": paused_business}
    for target in TARGETS:
        total = seconds_of(queue, target)
        sla[f"{target}_due"] = calendar.add_business_seconds(start, total + paused_business)
        sla[f"{target}_warn"] = calendar.add_business_seconds(start, warning_offset(queue, total) + paused_business)
    return sla


def resume_fields(ticket: Doc, calendar: Calendar, now: datetime) -> Doc:
    """`$set` fields for a ticket leaving pending at `now`: due and warning times move by the business
    time it was pending. Empty for a ticket without a calendar clock (its `paused_seconds` count)."""
    sla = ticket.get("sla") or {}
    since = ticket.get("pending_since")
    if "calendar" not in sla or since is None:
        return {}
    paused = calendar.business_seconds_between(since, now)
    fields: Doc = {"sla.paused_business_seconds": float(sla.get("paused_business_seconds") or 0) + paused}
    if paused > 0:
        for target in TARGETS:
            for suffix in ("due", "warn"):
                at = sla.get(f"{target}_{suffix}")
                if at is not None:
                    fields[f"sla.{target}_{suffix}"] = calendar.add_business_seconds(at, paused)
    return fields


def transfer_fields(ticket: Doc, queue: Targets, calendar: Calendar) -> Doc:
    """`$set` fields for a ticket moved into `queue`: its clock recomputed with that queue's targets."""
    sla = ticket.get("sla") or {}
    start = sla.get("start") or ticket.get("handoff_at") or ticket.get("created_at")
    if start is None:
        return {}
    fresh = start_clock(queue, calendar, start, float(sla.get("paused_business_seconds") or 0))
    return {f"sla.{k}": v for k, v in fresh.items()}


def live_target(ticket: Doc) -> str | None:
    """The target the ticket is working towards now (None: solved, closed)."""
    if ticket.get("status") not in ACTIVE:
        return None
    return "first_response" if ticket.get("first_agent_reply_at") is None else "resolution"


def due_of(ticket: Doc, target: str, suffix: str = "due") -> datetime | None:
    sla = ticket.get("sla") or {}
    at = sla.get(f"{target}_{suffix}")
    if at is None:
        return None
    if "calendar" not in sla:  # stored before calendars: pauses were counted on the side
        at = at + timedelta(seconds=float(sla.get("paused_seconds") or 0))
    return at  # type: ignore[no-any-return]


def fired(ticket: Doc, target: str, kind: str) -> datetime | None:
    return ((ticket.get("sla") or {}).get("events") or {}).get(f"{target}_{kind}")  # type: ignore[no-any-return]


def pending_events(ticket: Doc) -> list[tuple[datetime, str, str]]:
    """(when, target, kind) of the warnings and breaches still to emit, earliest first. Nothing while
    pending (the clock is paused) or for a clock stored before calendars; a warning is not emitted
    once its target is breached."""
    sla = ticket.get("sla") or {}
    if "calendar" not in sla or ticket.get("status") not in ACTIVE or ticket.get("status") == "pending":
        return []
    out = []
    targets = ["resolution"] if ticket.get("first_agent_reply_at") is not None else list(TARGETS)
    for target in targets:
        if fired(ticket, target, "breach"):
            continue
        due, warn = due_of(ticket, target), due_of(ticket, target, "warn")
        if warn is not None and due is not None and warn < due and not fired(ticket, target, "warning"):
            out.append((warn, target, "warning"))
        if due is not None:
            out.append((due, target, "breach"))
    return sorted(out)


def next_event_at(ticket: Doc) -> datetime | None:
    """When the watcher must next look at this ticket (the indexed `sla_next`): its next SLA warning or breach, or,
    while it is pending (its SLA clock paused, so none comes), the time it is to be open again (`pending_until`)."""
    if ticket.get("status") == "pending":
        return ticket.get("pending_until")
    events = pending_events(ticket)
    return events[0][0] if events else None
