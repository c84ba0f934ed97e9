"""SLA that is watched: queues' business-hours calendars, and the job that emits warnings and breaches.

Calendars live in the `calendars` collection (`_id`: name; `queues`: the queues that use it),
seeded from the configuration's top-level `calendars` map when absent and edited by admins in the
desk (agents_ui/calendars.py). Every hub process reads them through a short cache.

The same watcher opens again a pending ticket whose `pending_until` has come (`TicketService.end_pending`):
while a ticket is pending its SLA clock is paused, so its `sla_next` is that time instead.

The watcher runs in every hub process; each round first takes the `sla` lease (hub.leases), so one
process at a time does the work. A ticket's next warning or breach time is its indexed `sla_next`
(hub.ticketindex keeps it with the list fields), so a round reads only the tickets that are due:
`{sla_next: {$gte: EPOCH, $lte: now}}`. Each warning and breach is claimed with a conditional write on the ticket
(`sla.events.<target>_<kind>` absent), so it is emitted exactly once per ticket and target even if two
processes overlap, written in one transaction with its `ticket.sla_warning` / `ticket.sla_breached`
event (the ticket's history and the desk's live feed), and counted for Prometheus after commit.
Between rounds the watcher sleeps until the nearest `sla_next`, woken early by the change stream
when a ticket gets a nearer one: it never polls every second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from hub.calendars import ALWAYS, Calendar, CalendarError, parse_calendar
from hub.leases import Lease
from hub.models import utcnow
from hub.realtime import RealtimeBus
from hub.slaclock import pending_events
from hub.store import Doc, PyMongoError, Store

log = logging.getLogger(__name__)

EVENT_TYPES = {"warning": "ticket.sla_warning", "breach": "ticket.sla_breached"}
#: The lower bound of every `sla_next` range: without one, secantusd-py walks the index from its start,
#: through every ticket without a due time (indexed as null), that is the whole history.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class Calendars:
    """The business-hours calendars and which queue uses which (a queue in none: 24/7)."""

    def __init__(self, store: Store, cache_seconds: float = 30.0) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._by_queue: dict[str, Calendar] = {}
        self._loaded_at: float | None = None

    async def seed(self, raw: dict[str, Any], queue_calendars: dict[str, str]) -> int:
        """Store each configured calendar that the database lacks (an admin's edits win). Returns how many."""
        added = 0
        for name, spec in (raw or {}).items():
            calendar = parse_calendar(str(name), spec)
            queues = sorted(q for q, c in queue_calendars.items() if c == name)
            result = await self.store.calendars.update_one(
                {"_id": calendar.name},
                {"$setOnInsert": {**_stored(calendar), "queues": queues, "updated_at": utcnow(), "seeded": True}},
                upsert=True)
            added += int(result.upserted_id is not None)
        self._loaded_at = None
        return added

    async def list(self) -> list[Doc]:
        return await self.store.calendars.find({}, sort=[("_id", 1)]).to_list()

    async def save(self, name: str, raw: dict[str, Any], queues: list[str], known_queues: set[str]) -> Doc:
        """Create or replace a calendar (raises CalendarError with the reason). A queue listed here
        leaves the calendar it was in."""
        calendar = parse_calendar(name, raw)
        unknown = sorted(set(queues) - known_queues)
        if unknown:
            raise CalendarError(f"queues: no queue named {', '.join(unknown)}")
        doc = {**_stored(calendar), "queues": sorted(set(queues)), "updated_at": utcnow()}
        await self.store.calendars.update_many({"queues": {"$in": doc["queues"]}, "_id": {"$ne": name}},
                                               {"$pull": {"queues": {"$in": doc["queues"]}}})
        await self.store.calendars.replace_one({"_id": name}, {"_id": name, **doc}, upsert=True)
        self._loaded_at = None
        return {"_id": name, **doc}

    async def delete(self, name: str) -> bool:
        result = await self.store.calendars.delete_one({"_id": name})
        self._loaded_at = None
        return result.deleted_count > 0

    async def for_queue(self, queue: str) -> Calendar:
        """The queue's calendar (ALWAYS without one), from a cache re-read every `cache_seconds`."""
        if self._loaded_at is None or time.monotonic() - self._loaded_at > self.cache_seconds:
            by_queue: dict[str, Calendar] = {}
            for doc in await self.list():
                try:
                    calendar = parse_calendar(doc["_id"], doc)
                except CalendarError as exc:  # stored before a rule tightened: 24/7 rather than no SLA
                    log.warning("calendar %s unusable (%s): its queues run 24/7", doc["_id"], exc)
                    continue
                for q in doc.get("queues") or []:
                    by_queue[q] = calendar
            self._by_queue, self._loaded_at = by_queue, time.monotonic()
        return self._by_queue.get(queue, ALWAYS)


def _stored(calendar: Calendar) -> Doc:
    shape = calendar.as_dict()
    shape.pop("name")
    return shape


@dataclass
class SlaRun:
    """One round: whether this process held the lease, and what it emitted."""

    ran: bool
    emitted: list[tuple[int, str, str]] = field(default_factory=list)  # (ticket number, target, kind)
    reopened: list[int] = field(default_factory=list)  # numbers of the pending tickets whose time came


class SlaWatcher:
    def __init__(self, store: Store, tickets: Any, *, lease_seconds: float = 60.0, batch: int = 200,
                 max_sleep_seconds: float = 300.0, holder: str | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.tickets = tickets  # hub.tickets.TicketService: index, notify, telemetry
        self.lease = Lease(store, "sla", lease_seconds, holder)
        self.batch = batch
        self.max_sleep_seconds = max_sleep_seconds
        #: The watcher's clock (tests freeze it).
        self.clock = clock

    async def run_once(self, now: datetime | None = None) -> SlaRun:
        """Emit every warning and breach due at `now`, if this process gets the lease."""
        now = now or self.clock()
        if not await self.lease.acquire(now):
            return SlaRun(False)
        run = SlaRun(True)
        seen: set[Any] = set()
        while True:
            due = [t for t in await self.store.tickets.find({"sla_next": {"$gte": EPOCH, "$lte": now}},
                                                              limit=self.batch).to_list()
                   if t["_id"] not in seen]
            if not due:
                return run
            for ticket in due:
                seen.add(ticket["_id"])
                if ticket.get("status") == "pending":  # its `sla_next` is its `pending_until`
                    if await self.tickets.end_pending(ticket["_id"], now) is not None:
                        run.reopened.append(int(ticket["number"]))
                    continue
                run.emitted += await self._emit(ticket, now)

    async def _emit(self, ticket: Doc, now: datetime) -> list[tuple[int, str, str]]:
        events = [(at, target, kind) for at, target, kind in pending_events(ticket) if at <= now]
        if any(kind == "breach" for _, _, kind in events):  # a warning is moot once its target is breached
            breached = {target for _, target, kind in events if kind == "breach"}
            events = [e for e in events if e[2] == "breach" or e[1] not in breached]

        async def work(session: AsyncClientSession) -> list[tuple[int, str, str]]:
            done = []
            latest = ticket
            for at, target, kind in events:
                flag = f"sla.events.{target}_{kind}"
                claimed = await self.store.claim_by_id(self.store.tickets, ticket["_id"], {flag: {"$exists": False}},
                                                       {"$set": {flag: now}}, session=session)
                if claimed is None:
                    continue  # another round emitted it
                latest = claimed
                await self.store.append_event(EVENT_TYPES[kind], now, session=session, ticket_id=ticket["_id"],
                                              queue=ticket["queue"],
                                              data={"target": target, "due": at if kind == "breach" else
                                                    (ticket.get("sla") or {}).get(f"{target}_due"),
                                                    "number": ticket["number"]})
                self.tickets.telemetry.count("sla", session, queue=ticket["queue"], target=target, kind=kind)
                done.append((int(ticket["number"]), target, kind))
            # the next wake-up (`sla_next`) and the SLA rank follow the flags just set
            latest = await self.tickets.index.settle(latest, session)
            if done:
                await self.tickets.notify("ticket.sla_breached" if any(d[2] == "breach" for d in done)
                                          else "ticket.sla_warning", latest, session)
            return done

        return await self.store.run_in_transaction(work)

    async def next_due(self, now: datetime) -> datetime | None:
        """The nearest `sla_next` within `max_sleep_seconds` (the index's due range only)."""
        horizon = now + timedelta(seconds=self.max_sleep_seconds)
        nearest = await self.store.tickets.find({"sla_next": {"$gte": EPOCH, "$lte": horizon}},
                                                projection={"sla_next": 1}, sort=[("sla_next", 1)], limit=1).to_list()
        return nearest[0]["sla_next"] if nearest else None

    async def run(self, bus: RealtimeBus | None = None) -> None:
        """Background loop: a round, then sleep until the nearest due time (or a lease expiry, or a
        ticket change with a nearer `sla_next`)."""
        sub = bus.subscribe() if bus is not None else None
        try:
            while True:
                wait = self.max_sleep_seconds
                try:
                    now = self.clock()
                    run = await self.run_once(now)
                    nearest = await self.next_due(now)
                    if nearest is not None:
                        wait = min(wait, max(0.05, (nearest - self.clock()).total_seconds()))
                    if not run.ran:  # someone else watches; take over once their lease may have expired
                        wait = min(wait, self.lease.seconds)
                except PyMongoError as exc:
                    log.warning("sla: database unavailable (%s)", exc)
                    wait = 5.0
                except Exception:  # a bug must not stop the watcher for the rest of the process's life
                    log.exception("sla: a round failed; trying again in 30 s")
                    wait = 30.0
                await self._sleep(wait, sub)
        finally:
            if sub is not None:
                sub.close()

    async def _sleep(self, seconds: float, sub: Any) -> None:
        """Sleep `seconds`, or less when a ticket change brings a nearer `sla_next`."""
        if sub is None:
            await asyncio.sleep(seconds)
            return
        loop = asyncio.get_running_loop()
        wake = self.clock() + timedelta(seconds=seconds)
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                change = await asyncio.wait_for(sub.get(), left)
            except TimeoutError:
                return
            nxt = change.document.get("sla_next") if change.collection == "tickets" else None
            if nxt is not None and nxt < wake:
                return
