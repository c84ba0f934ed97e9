"""Queue, agent and bot metrics, computed from raw counts and timestamps.

Every ratio is a sum over the raw records of the window divided by a count of
them, never an average of averages (so per-queue and overall figures agree).
Definitions are those of `shared/ARCHITECTURE.md`; `docs/metrics.md` restates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hub.desktally import ActiveCounts, DeskTally
from hub.metricdefs import STARTED_BY_AGENT, conversation_parts
from hub.models import TicketStatus, utcnow
from hub.store import Doc, Store
from hub.tickets import QueueConfig

TICKET_FIELDS = {"queue": 1, "status": 1, "created_at": 1, "handoff_at": 1, "first_agent_reply_at": 1,
                 "solved_at": 1, "abandoned_at": 1, "abandon_reason": 1, "sla": 1, "csat": 1, "reason": 1}


@dataclass
class Tally:
    """Raw sums and counts for one queue (or all) in one window."""

    queued: int = 0
    answered: int = 0
    wait_seconds_total: float = 0.0
    answered_within_target: int = 0
    abandoned: int = 0
    #: Of `abandoned`: the customer ended the chat / closed the page and did not come back.
    abandoned_ended: int = 0
    abandoned_left: int = 0
    solved: int = 0
    resolution_seconds_total: float = 0.0
    ratings: int = 0
    satisfied: int = 0
    first_response: list[float] = field(default_factory=list)

    def add(self, ticket: Doc, target_seconds: float) -> None:
        waited = ticket.get("reason") != STARTED_BY_AGENT  # an agent's own ticket was never queued (hub.metricdefs)
        self.queued += int(waited)
        if waited and ticket.get("first_agent_reply_at") is not None:
            wait = (ticket["first_agent_reply_at"] - ticket["handoff_at"]).total_seconds()
            self.answered += 1
            self.wait_seconds_total += wait
            self.first_response.append(wait)
            if wait <= target_seconds:
                self.answered_within_target += 1
        elif waited and (ticket.get("abandoned_at") is not None
                         or ticket["status"] in (TicketStatus.SOLVED.value, TicketStatus.CLOSED.value)):
            self.abandoned += 1
            reason = ticket.get("abandon_reason") if ticket.get("abandoned_at") is not None else None
            self.abandoned_ended += int(reason == "ended")
            self.abandoned_left += int(reason == "left")
        if ticket.get("solved_at") is not None:
            paused = float(ticket.get("sla", {}).get("paused_seconds", 0))
            self.solved += 1
            self.resolution_seconds_total += max(0.0, (ticket["solved_at"] - ticket["created_at"]).total_seconds()
                                                 - paused)
        csat = ticket.get("csat")
        if csat and csat.get("score") is not None:
            self.ratings += 1
            self.satisfied += int(int(csat["score"]) >= 4)

    def merge(self, other: Tally) -> None:
        for name in ("queued", "answered", "wait_seconds_total", "answered_within_target", "abandoned",
                     "abandoned_ended", "abandoned_left", "solved", "resolution_seconds_total", "ratings", "satisfied"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.first_response += other.first_response

    def summary(self) -> dict[str, Any]:
        frt = sorted(self.first_response)
        return {
            "queued": self.queued,
            "answered": self.answered,
            "abandoned": self.abandoned,
            # why: the customer ended the chat, left the page, or the ticket was closed unanswered
            "abandoned_by": {"ended": self.abandoned_ended, "left": self.abandoned_left,
                             "closed_unanswered": self.abandoned - self.abandoned_ended - self.abandoned_left},
            "solved": self.solved,
            "asa_seconds": _ratio(self.wait_seconds_total, self.answered),
            "first_response_p50_seconds": _percentile(frt, 0.5),
            "first_response_p90_seconds": _percentile(frt, 0.9),
            "service_level": _ratio(self.answered_within_target, self.answered),
            "abandonment_rate": _ratio(self.abandoned, self.queued),
            "resolution_seconds_avg": _ratio(self.resolution_seconds_total, self.solved),
            "csat": _ratio(self.satisfied, self.ratings),
            "ratings": self.ratings,
        }


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return round(values[index], 3)


class MetricsService:
    def __init__(self, store: Store, queues: dict[str, QueueConfig], tally: DeskTally | None = None) -> None:
        self.store = store
        self.queues = queues
        #: The desk's shared count of the active tickets (hub.desktally): the live view redraws on every ticket
        #: change, as every agent's sidebar does, and the same pass answers both.
        self.tally = tally or DeskTally(store)

    async def live(self) -> dict[str, Any]:
        """Right now: depth and longest wait per queue, agent occupancy."""
        now = utcnow()
        tally = await self.tally.current()
        queues = await self.queue_depths(now, tally)
        agents = []
        total_open = total_capacity = 0
        active = tally.by_assignee
        for agent in await self.store.agents.find({}, projection={"password_hash": 0}).to_list():
            if "agent" not in agent.get("roles", []):
                continue
            open_ = active.get(agent["_id"], 0)
            capacity = int(agent.get("capacity", 0))
            total_open += open_
            total_capacity += capacity
            agents.append({"id": str(agent["_id"]), "name": agent.get("name"), "presence": agent.get("presence"),
                           "open": open_, "capacity": capacity, "occupancy": _ratio(open_, capacity)})
        return {"at": now.isoformat(), "queues": queues, "agents": agents,
                "occupancy": _ratio(total_open, total_capacity)}

    async def queue_depths(self, now: datetime | None = None,
                           tally: ActiveCounts | None = None) -> list[dict[str, Any]]:
        """Per configured queue: tickets waiting for a first agent answer, and the oldest one's wait."""
        now = now or utcnow()
        tally = tally or await self.tally.current()
        queues = []
        for name, q in self.queues.items():
            depth = tally.new_by_queue[name]
            waiting = await self.store.tickets.find(
                {"status": TicketStatus.NEW.value, "queue": name}, projection={"handoff_at": 1},
                sort=[("status", 1), ("queue", 1), ("created_at", 1)], limit=1,
            ).to_list() if depth else []
            longest = (now - waiting[0]["handoff_at"]).total_seconds() if waiting else 0.0
            queues.append({"queue": name, "title": q.title or name, "depth": depth,
                           "longest_wait_seconds": round(longest, 1)})
        return queues

    async def window(self, start: datetime, end: datetime) -> dict[str, Any]:
        """Tickets created and bot conversations started in [start, end)."""
        by_queue: dict[str, Tally] = {name: Tally() for name in self.queues}
        cursor = self.store.tickets.find({"created_at": {"$gte": start, "$lt": end}}, projection=TICKET_FIELDS)
        async for ticket in cursor:
            queue = ticket.get("queue")
            target = self.queues[queue].answer_target_seconds if queue in self.queues else 60
            by_queue.setdefault(queue, Tally()).add(ticket, target)
        overall = Tally()
        for tally in by_queue.values():
            overall.merge(tally)
        return {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "overall": overall.summary(),
            "queues": {name: tally.summary() for name, tally in by_queue.items()},
            "bot": {**await self.bot_containment(start, end), **await self.article_deflection(start, end)},
        }

    async def bot_containment(self, start: datetime, end: datetime) -> dict[str, Any]:
        """Bot conversations closed in the window and the share closed without a handoff (hub.metricdefs);
        conversations still open with the bot are left out and counted apart (`open`)."""
        closed = contained = 0
        cursor = self.store.conversations.find({"closed_at": {"$gte": start, "$lt": end}},
                                               projection={"bot": 1, "handoff_at": 1, "ticket_id": 1, "open": 1,
                                                           "closed_at": 1, "channel": 1})
        async for conv in cursor:
            for counters in conversation_parts(conv).values():
                closed += int(counters.get("bot_closed", 0))
                contained += int(counters.get("bot_contained", 0))
        still_open = 0
        async for conv in self.store.conversations.find({"state": "bot", "started_at": {"$gte": start, "$lt": end}},
                                                        projection={"open": 1, "bot.turns": 1}):
            still_open += int(bool(conv.get("open")) and bool((conv.get("bot") or {}).get("turns")))
        return {"conversations": closed, "contained": contained, "containment": _ratio(contained, closed),
                "open": still_open}

    async def article_deflection(self, start: datetime, end: datetime) -> dict[str, Any]:
        """Help-center articles the bot offered, and the share the customer said helped ("Yes").

        Counted from the decisions recorded with the customers' messages (`nlu.kb`, set only on
        knowledge-base turns, so the sparse index holds just those): an offer is the message it
        answered, a "helped" the customer's "Yes" to it; both dated by the message.
        """
        counts = {"offered": 0, "helped": 0}
        for event in counts:  # one equality query each: secantusd-py plans `$in` as a collection scan
            cursor = self.store.messages.find({"nlu.kb": event, "created_at": {"$gte": start, "$lt": end}},
                                              projection={"_id": 1})
            counts[event] = len(await cursor.to_list())
        return {"articles_offered": counts["offered"], "articles_helped": counts["helped"],
                "article_deflection": _ratio(counts["helped"], counts["offered"])}

    async def daily(self, days: int, end: datetime | None = None) -> list[dict[str, Any]]:
        """One window a day, oldest first (the supervisor's trend table)."""
        end = (end or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        out = []
        for i in range(days, 0, -1):
            start = end - timedelta(days=i)
            window = await self.window(start, start + timedelta(days=1))
            out.append({"day": start.date().isoformat(), **window["overall"], "bot": window["bot"]})
        return out

