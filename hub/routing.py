"""Routing waiting tickets to agents, and telling customers where they stand.

Two methods per queue, as Rocket.Chat names them: `manual` (agents pull from the
queue) and `least_busy` (the online agent with the fewest active tickets, below
their capacity, gets the oldest waiting ticket). Capacity is respected: an agent
at capacity gets nothing until a ticket of theirs is solved.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from hub.display import person
from hub.metricdefs import STARTED_BY_AGENT
from hub.models import AGENTS_CHANGED, Role, TicketStatus, utcnow
from hub.store import Doc, ObjectId, PyMongoError, Store
from hub.ticketindex import index_update
from hub.ticketlines import assignee_item, item
from hub.tickets import ACTIVE, TicketService
from hub.waitestimate import QueueSnapshot, told_wait

log = logging.getLogger(__name__)

#: Recent answered tickets of a queue that give its pace (handle and reaction times).
PACE_SAMPLE = 50
#: A queue's snapshot is reused at most this long. Its serving capacity is dropped sooner, as soon as it
#: changes (`follow`: an agent's presence or settings, an assignment of a serving agent, any process); its
#: pace, a mean over the last PACE_SAMPLE answered tickets that one more ticket moves little, is this stale
#: at most. Estimates move with the queue, and an escalation rarely pays these reads.
SNAPSHOT_SECONDS = 60.0


@dataclass(frozen=True)
class _Capacity:
    until: datetime
    total_slots: int
    free_slots: int
    serving: frozenset[ObjectId]


@dataclass(frozen=True)
class _Pace:
    until: datetime
    handle_seconds: float | None
    reaction_seconds: float | None


class Router:
    def __init__(self, store: Store, tickets: TicketService) -> None:
        self.store = store
        self.tickets = tickets
        self._capacity: dict[str, _Capacity] = {}
        self._pace: dict[str, _Pace] = {}
        #: The active tickets the cached capacities counted, and their assignees (dropped with them).
        self._counted: dict[ObjectId, ObjectId] = {}
        self._generation = 0  # moved on by every drop: a read that overlapped one is not kept
        self._reading = 0  # capacity reads in flight
        self.snapshot_seconds = SNAPSHOT_SECONDS

    async def route_queue(self, queue: str) -> int:
        """Assign as many waiting tickets of a `least_busy` queue as capacity allows. Returns how many."""
        if self.tickets.queue(queue).routing != "least_busy":
            return 0
        assigned = 0
        while True:
            waiting = await self.store.tickets.find_one(
                {"status": TicketStatus.NEW.value, "queue": queue, "assignee_id": None},
                sort=[("status", 1), ("queue", 1), ("created_at", 1)],
            )
            if waiting is None:
                return assigned
            agent = await self._least_busy(queue, exclude=set(waiting.get("passed_by", [])))
            if agent is None:
                return assigned
            if await self.store.run_in_transaction(functools.partial(self._take, waiting, agent, queue)) is None:
                continue  # another process took it first
            assigned += 1

    async def _take(self, waiting: Doc, agent: Doc, queue: str, session: AsyncClientSession) -> Doc | None:
        """Assign one waiting ticket if still unassigned, with its event and webhook, in one transaction."""
        now = utcnow()
        claimed = await self.store.claim_by_id(
            self.store.tickets, waiting["_id"], {"assignee_id": None},
            index_update(waiting, {"$set": {"assignee_id": agent["_id"], "assigned_at": now, "assigned_by": None,
                                            "updated_at": now}}),
            session=session,
        )
        if claimed is None:
            return None
        taken = await self.tickets.index.settle(claimed, session)  # `waiting` was read before the transaction
        await self.tickets.lines.write(taken, None, [assignee_item(None, None, agent["_id"],
                                                                   {agent["_id"]: person(agent)})], session)
        await self.store.append_event("ticket.assigned", now, session=session, ticket_id=taken["_id"],
                                      agent_id=agent["_id"], queue=queue, data={"by": "least_busy"})
        await self.tickets.notify("ticket.updated", taken, session)
        return taken

    async def route_all(self) -> int:
        total = 0
        for name, queue in self.tickets.queues.items():
            if queue.routing == "least_busy":
                total += await self.route_queue(name)
        return total

    async def transfer_unanswered(self, now: datetime | None = None) -> int:
        """Take tickets back from agents who did not answer within the queue's `auto_transfer_seconds`
        and route them to someone else (never back to an agent who let it pass). Returns how many."""
        now = now or utcnow()
        moved = 0
        for name, queue in self.tickets.queues.items():
            if queue.routing != "least_busy" or queue.auto_transfer_seconds <= 0:
                continue
            cutoff = now - timedelta(seconds=queue.auto_transfer_seconds)
            # Waiting tickets of one queue: a short list, read through the status/queue index.
            waiting = await self.store.tickets.find(
                {"status": TicketStatus.NEW.value, "queue": name},
                projection={"assignee_id": 1, "assigned_at": 1},
            ).to_list()
            for ticket in waiting:
                if ticket.get("assignee_id") is None or ticket["assigned_at"] > cutoff:
                    continue
                released = await self.store.claim_by_id(
                    self.store.tickets, ticket["_id"],
                    {"assignee_id": ticket["assignee_id"], "first_agent_reply_at": None},
                    {"$set": {"assignee_id": None, "updated_at": now},
                     "$addToSet": {"passed_by": ticket["assignee_id"]}},
                )
                if released is None:
                    continue  # answered or moved meanwhile
                settled = await self.tickets.index.settle(released)  # its assignee keys
                names = await self.tickets.lines.names(ticket["assignee_id"])
                await self.tickets.lines.write(settled, None, [item(
                    "assignee", names.get(ticket["assignee_id"], "someone"), None, how="no_answer",
                    after_seconds=queue.auto_transfer_seconds)], None)
                await self.store.append_event("ticket.transferred", now, ticket_id=ticket["_id"],
                                              agent_id=ticket["assignee_id"], queue=name,
                                              data={"reason": "no answer", "after_seconds":
                                                    queue.auto_transfer_seconds})
                moved += 1
            if moved:
                await self.route_queue(name)
        return moved

    async def run(self, interval: float = 10.0) -> None:
        """Background loop: auto-transfer of unanswered assignments."""
        while True:
            try:
                await self.transfer_unanswered()
            except PyMongoError as exc:
                log.warning("routing: database unavailable (%s)", exc)
            await asyncio.sleep(interval)

    async def _least_busy(self, queue: str, exclude: set[ObjectId] | None = None) -> Doc | None:
        """The online agent of this queue with the most free capacity (ties: fewest active tickets)."""
        candidates = await self.store.agents.find(
            {"presence": "online"}, projection={"password_hash": 0}).to_list()
        best: tuple[int, int, Doc] | None = None
        for agent in candidates:
            if Role.AGENT.value not in agent.get("roles", []) or agent.get("disabled"):
                continue
            if exclude and agent["_id"] in exclude:
                continue
            queues = agent.get("queues")
            if queues and queue not in queues:
                continue
            active = await self.store.tickets.count_documents(
                {"assignee_id": agent["_id"], "status": {"$in": ACTIVE}}
            )
            free = int(agent.get("capacity", 5)) - active
            cap = self.tickets.queue(queue).max_per_agent
            if cap > 0 and free > 0:  # the queue's own cap on one agent's share of it
                mine = await self.store.tickets.count_documents(
                    {"assignee_id": agent["_id"], "status": {"$in": ACTIVE}, "queue": queue})
                free = min(free, cap - mine)
            if free <= 0:
                continue
            key = (free, -active, agent)
            if best is None or (key[0], key[1]) > (best[0], best[1]):
                best = key
        return best[2] if best else None

    async def queue_snapshot(self, queue: str) -> QueueSnapshot:
        """The queue's serving capacity now and its recent pace (hub.waitestimate), at most 3 queries,
        none while both are cached (`SNAPSHOT_SECONDS`)."""
        now = utcnow()
        capacity = self._capacity.get(queue)
        if capacity is None or capacity.until <= now:
            capacity = await self._read_capacity(queue, now)
        pace = self._pace.get(queue)
        if pace is None or pace.until <= now:
            pace = await self._read_pace(queue, now)
        return QueueSnapshot(total_slots=capacity.total_slots, free_slots=capacity.free_slots,
                             handle_seconds=pace.handle_seconds, reaction_seconds=pace.reaction_seconds)

    async def _read_capacity(self, queue: str, now: datetime) -> _Capacity:
        generation = self._generation
        self._reading += 1
        try:
            agents = await self.store.agents.find(
                {"presence": "online"}, projection={"roles": 1, "disabled": 1, "queues": 1, "capacity": 1},
            ).to_list()
            serving = [a for a in agents if Role.AGENT.value in a.get("roles", []) and not a.get("disabled")
                       and (not a.get("queues") or queue in a["queues"])]
            active: Counter[ObjectId] = Counter()
            counted: dict[ObjectId, ObjectId] = {}
            if serving:  # their active tickets, through the list's facet keys (bounded by the live load)
                keys = [f"active.assignee:{a['_id']}" for a in serving]
                async for ticket in self.store.tickets.find({"keys": {"$in": keys}}, projection={"assignee_id": 1}):
                    active[ticket["assignee_id"]] += 1
                    counted[ticket["_id"]] = ticket["assignee_id"]
        finally:
            self._reading -= 1
        capacity = _Capacity(
            until=now + timedelta(seconds=self.snapshot_seconds),
            total_slots=sum(int(a.get("capacity", 5)) for a in serving),
            free_slots=sum(max(0, int(a.get("capacity", 5)) - active[a["_id"]]) for a in serving),
            serving=frozenset(a["_id"] for a in serving),
        )
        if self.snapshot_seconds > 0 and generation == self._generation:  # no change came in while reading
            self._capacity[queue] = capacity
            self._counted.update(counted)
        return capacity

    async def _read_pace(self, queue: str, now: datetime) -> _Pace:
        recent = await self.store.tickets.find(
            {"queue": queue, "first_agent_reply_at": {"$gte": now - timedelta(days=7)}},
            projection={"handoff_at": 1, "assigned_at": 1, "first_agent_reply_at": 1, "solved_at": 1, "reason": 1},
            sort=[("queue", 1), ("first_agent_reply_at", -1)], limit=PACE_SAMPLE,
        ).to_list()
        # an agent's own ticket (hub.outbound) had no customer waiting: its first message is no reaction
        recent = [t for t in recent if t.get("reason") != STARTED_BY_AGENT]
        handles = [(t["solved_at"] - t["assigned_at"]).total_seconds() for t in recent
                   if t.get("solved_at") and t.get("assigned_at")]
        reactions = [(t["first_agent_reply_at"] - max(t.get("assigned_at") or t["handoff_at"], t["handoff_at"]))
                     .total_seconds() for t in recent]
        pace = _Pace(until=now + timedelta(seconds=self.snapshot_seconds),
                     handle_seconds=statistics.fmean(handles) if handles else None,
                     reaction_seconds=max(0.0, statistics.median(reactions)) if reactions else None)
        self._pace[queue] = pace
        return pace

    def follow(self, bus: Any) -> None:
        """Drop the cached capacities when they change, whichever process changed them: an agent's presence
        or settings (`AGENTS_CHANGED`), a ticket of a serving agent assigned, moved or ended."""
        bus.on_event(AGENTS_CHANGED, lambda _event: self.forget_capacity())
        bus.on_change("tickets", self.ticket_changed)

    def ticket_changed(self, ticket: Doc) -> None:
        """Whether a serving agent's count of active tickets moved: then the capacities are read again."""
        assignee, active = ticket.get("assignee_id"), ticket.get("status") in ACTIVE
        counted = self._counted.get(ticket.get("_id"))
        if counted is not None:
            moved = counted != assignee or not active
        elif self._reading:  # who serves is not known yet: any assigned ticket may count
            moved = assignee is not None
        else:
            moved = active and assignee is not None and any(assignee in c.serving for c in self._capacity.values())
        if moved:
            self.forget_capacity()

    def forget_capacity(self) -> None:
        self._generation += 1
        self._capacity.clear()
        self._counted.clear()

    async def estimated_wait_seconds(self, queue: str, position: int) -> float | None:
        """Seconds until an agent answers the customer at `position` (a told place: further back than the places
        told, the least wait, `hub.waitestimate.told_wait`); None when nobody serves the queue."""
        return told_wait(position, await self.queue_snapshot(queue))
