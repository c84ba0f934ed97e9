"""Tickets about to breach their SLA (or already breached), for the supervisor's live view.

Served by the desk list's `(keys, sla_rank)` index (hub.ticketindex): `keys: "active"` seeds the
live workload and `sla_rank < rank(now + horizon)` bounds it to the tickets due within the horizon,
so the query costs the tickets at risk, never the history. `sla_rank` already counts time spent
pending (`ticketindex.sla_due`), and names the clock that matters: first response until an agent
answered, then resolution.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hub.display import DISPLAY_FIELDS, display_name
from hub.models import utcnow
from hub.store import Doc, Store
from hub.ticketindex import BY_KEYS_SLA, DUE_SOON, rank, sla_due

FIELDS = {"number": 1, "subject": 1, "queue": 1, "channel": 1, "status": 1, "assignee_id": 1, "contact_id": 1,
          "sla": 1, "first_agent_reply_at": 1, "sla_rank": 1}


async def at_risk(store: Store, now: datetime | None = None, horizon: timedelta = DUE_SOON,
                  limit: int = 50) -> list[dict[str, Any]]:
    """Active tickets whose SLA falls due before now + horizon, most overdue first (at most `limit`)."""
    now = now or utcnow()
    bound = rank(now + horizon, 999_999)
    rows: list[Doc] = await store.tickets.find({"keys": "active", "sla_rank": {"$lt": bound}}, projection=FIELDS,
                                               sort=BY_KEYS_SLA, limit=limit).to_list()
    agents = {a["_id"]: a.get("name") or a.get("username") for a in await store.agents.find(
        {"_id": {"$in": list({t["assignee_id"] for t in rows if t.get("assignee_id")})}},
        projection={"name": 1, "username": 1}).to_list()} if any(t.get("assignee_id") for t in rows) else {}
    contacts = {c["_id"]: display_name(c) for c in await store.contacts.find(
        {"_id": {"$in": list({t["contact_id"] for t in rows if t.get("contact_id")})}},
        projection=DISPLAY_FIELDS).to_list()} if rows else {}
    out = []
    for t in rows:
        due = sla_due(t)
        if due is None:
            continue
        out.append({"id": str(t["_id"]), "number": t["number"], "subject": t.get("subject") or "",
                    "queue": t.get("queue"), "channel": t.get("channel"), "status": t.get("status"),
                    "customer": contacts.get(t.get("contact_id"), "Unknown customer"),
                    "assignee": agents.get(t.get("assignee_id")),
                    "clock": "first_response" if t.get("first_agent_reply_at") is None else "resolution",
                    "due_at": due.isoformat(), "seconds_left": round((due - now).total_seconds()),
                    "breached": due < now})
    return out
