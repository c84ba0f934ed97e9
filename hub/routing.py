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
from datetime import datetime, timedelta

from pymongo.asynchronous.client_session import AsyncClientSession

from hub.models import Role, TicketStatus, utcnow
from hub.store import Doc, ObjectId, PyMongoError, ReturnDocument, Store
from hub.ticketindex import index_update
from hub.tickets import ACTIVE, TicketService
from hub.waitestimate import QueueSnapshot, estimate_wait

log = logging.getLogger(__name__)

#: Recent answered tickets of a queue that give its pace (handle and reaction times).
PACE_SAMPLE = 50
#: A queue's snapshot is reused this long: estimates move with the queue, not with every message.
SNAPSHOT_SECONDS = 5.0


class Router:
    def __init__(self, store: Store, tickets: TicketService) -> None:
        self.store = store
        self.tickets = tickets
        self._snapshots: dict[str, tuple[datetime, QueueSnapshot]] = {}
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
            index_update(waiting, {"$set": {"assignee_id": agent["_id"], "assigned_at": now, "updated_at": now}}),
            session=session,
        )
        if claimed is None:
            return None
        taken = await self.tickets.index.settle(claimed, session)  # `waiting` was read before the transaction
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
                released = await self.store.tickets.find_one_and_update(
                    {"_id": ticket["_id"], "assignee_id": ticket["assignee_id"], "first_agent_reply_at": None},
                    {"$set": {"assignee_id": None, "updated_at": now},
                     "$addToSet": {"passed_by": ticket["assignee_id"]}},
                    hint=[("_id", 1)], return_document=ReturnDocument.AFTER,
                )
                if released is None:
                    continue  # answered or moved meanwhile
                await self.tickets.index.settle(released)  # its assignee keys
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
            {"presence": "online"}, projection={"password_hash": 0}, hint=[("presence", 1)]
        ).to_list()
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
        """The queue's serving capacity now and its recent pace (hub.waitestimate), at most 3 queries."""
        cached = self._snapshots.get(queue)
        now = utcnow()
        if cached is not None and cached[0] > now:
            return cached[1]
        agents = await self.store.agents.find(
            {"presence": "online"}, projection={"roles": 1, "disabled": 1, "queues": 1, "capacity": 1},
            hint=[("presence", 1)],
        ).to_list()
        serving = [a for a in agents if Role.AGENT.value in a.get("roles", []) and not a.get("disabled")
                   and (not a.get("queues") or queue in a["queues"])]
        active: Counter[ObjectId] = Counter()
        if serving:  # their active tickets, through the list's facet keys (bounded by the live load)
            keys = [f"active.assignee:{a['_id']}" for a in serving]
            async for ticket in self.store.tickets.find({"keys": {"$in": keys}}, projection={"assignee_id": 1}):
                active[ticket["assignee_id"]] += 1
        recent = await self.store.tickets.find(
            {"queue": queue, "first_agent_reply_at": {"$gte": now - timedelta(days=7)}},
            projection={"handoff_at": 1, "assigned_at": 1, "first_agent_reply_at": 1, "solved_at": 1},
            sort=[("queue", 1), ("first_agent_reply_at", -1)], limit=PACE_SAMPLE,
        ).to_list()
        handles = [(t["solved_at"] - t["assigned_at"]).total_seconds() for t in recent
                   if t.get("solved_at") and t.get("assigned_at")]
        reactions = [(t["first_agent_reply_at"] - max(t.get("assigned_at") or t["handoff_at"], t["handoff_at"]))
                     .total_seconds() for t in recent]
        snapshot = QueueSnapshot(
            total_slots=sum(int(a.get("capacity", 5)) for a in serving),
            free_slots=sum(max(0, int(a.get("capacity", 5)) - active[a["_id"]]) for a in serving),
            handle_seconds=statistics.fmean(handles) if handles else None,
            reaction_seconds=max(0.0, statistics.median(reactions)) if reactions else None,
        )
        self._snapshots[queue] = (now + timedelta(seconds=self.snapshot_seconds), snapshot)
        return snapshot

    async def estimated_wait_seconds(self, queue: str, position: int) -> float | None:
        """Seconds until an agent answers the customer at `position`; None when nobody serves the queue."""
        return estimate_wait(position, await self.queue_snapshot(queue))
