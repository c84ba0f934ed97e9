"""Waiting customers hear their place and wait again as the queue moves.

One pass looks at every queue's waiting tickets (new, unassigned), in order, and estimates each
one's wait from the agents serving the queue now (`hub.waitestimate`). What a customer was last
told is kept in `wait_notices` (not on the ticket: desks would re-render on every tick).

* The widget shows place and wait live: each change is a `queue.wait` event that the visitor's
  socket forwards; an empty place (assigned, or left) hides it.
* Other channels (email, SMS, Slack, Telegram) get a message only when the wait moved a lot
  (by half of itself and five minutes, or nobody / somebody is online now), at most every ten
  minutes, so nobody is flooded.

A pass runs in one process at a time (a lease), when a ticket changes anywhere (the change
stream) and at least every `interval` seconds (agents come online, time passes).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from hub.leases import Lease
from hub.models import AuthorKind, TicketStatus, utcnow
from hub.outbox import Outbox
from hub.realtime import RealtimeBus
from hub.routing import Router
from hub.store import Doc, PyMongoError, Store
from hub.tickets import TicketService
from hub.waitestimate import changed_enough, describe_wait, estimate_wait

log = logging.getLogger(__name__)

LIVE_CHANNELS = ("widget",)
#: A message on another channel: the wait moved by this share of itself and this many seconds.
MESSAGE_SHARE = 0.5
MESSAGE_FLOOR_SECONDS = 300.0
MESSAGE_EVERY = timedelta(minutes=10)
#: After a pass, the next one waits at least this long even if tickets keep changing.
MIN_PASS_GAP_SECONDS = 1.0
#: Tickets whose status/assignee/queue the process remembers (forgotten all at once beyond this).
SEEN_LIMIT = 50_000


class WaitAnnouncer:
    def __init__(self, store: Store, tickets: TicketService, router: Router, outbox: Outbox,
                 interval: float = 15.0) -> None:
        self.store = store
        self.tickets = tickets
        self.router = router
        self.outbox = outbox
        self.interval = interval
        self.lease = Lease(store, "wait-announcer", seconds=max(30.0, 3 * interval))
        self._wake = asyncio.Event()
        #: Queues whose waiting line may have moved since the last pass, and what moves it per ticket.
        self._dirty: set[str] = set()
        self._seen: dict[Any, tuple[Any, ...]] = {}
        self._lease_until: datetime | None = None

    async def announce(self, now: datetime | None = None, queues: set[str] | None = None) -> int:
        """One pass over these queues (default: all); how many customers were told something new."""
        now = now or utcnow()
        told = 0
        for queue in list(self.tickets.queues):
            if queues is None or queue in queues:
                told += await self._announce_queue(queue, now)
        return told

    async def _announce_queue(self, queue: str, now: datetime) -> int:
        waiting = [t for t in await self.store.tickets.find(  # unassigned checked here: a null match scans
            {"status": TicketStatus.NEW.value, "queue": queue},
            projection={"channel": 1, "conversation_ids": 1, "created_at": 1, "assignee_id": 1},
            sort=[("status", 1), ("queue", 1), ("created_at", 1)],
        ).to_list() if t.get("assignee_id") is None]
        notices = {n["_id"]: n async for n in self.store.wait_notices.find({"queue": queue})}
        for notice_id in notices.keys() - {t["_id"] for t in waiting}:  # answered, assigned, moved or gone
            notice = notices[notice_id]
            if notice.get("channel") in LIVE_CHANNELS:
                await self._publish(notice, None, None, now)
            await self.store.wait_notices.delete_one({"_id": notice_id})
        if not waiting:
            return 0
        snapshot = await self.router.queue_snapshot(queue)
        reached = 0
        for index, ticket in enumerate(waiting):
            position = index + 1
            estimate = estimate_wait(position, snapshot)
            if await self._tell(ticket, queue, notices.get(ticket["_id"]), position, estimate, now):
                reached += 1
        return reached

    async def _tell(self, ticket: Doc, queue: str, notice: Doc | None, position: int, estimate: float | None,
                    now: datetime) -> bool:
        """Record the ticket's place and wait; tell the customer if worth it. True if they were told."""
        after = (position, round(estimate) if estimate is not None else None)
        live = ticket.get("channel") in LIVE_CHANNELS
        if notice is not None and (notice["position"], notice.get("estimate_seconds")) == after and (
                live or (notice["told_position"], notice.get("told_estimate")) == after):
            return False
        update: Doc = {"queue": queue, "position": position, "estimate_seconds": after[1],
                       "channel": ticket.get("channel"), "updated_at": now}
        if notice is None:  # the escalation message just told them this
            update.update(told_position=position, told_estimate=after[1])
        message_due = (not live and notice is not None
                       and changed_enough((notice["told_position"], notice.get("told_estimate")), after,
                                          share=MESSAGE_SHARE, floor_seconds=MESSAGE_FLOOR_SECONDS)
                       and (notice.get("message_at") is None or now - notice["message_at"] >= MESSAGE_EVERY))
        told = False
        if live or message_due or notice is None:
            conversation = await self._conversation(ticket)
            if conversation is None:
                return False
            update.update(thread_key=conversation.get("thread_key"), conversation_id=conversation["_id"])
            text = describe_wait(position, estimate)
            if live:
                await self._publish({**update, "_id": ticket["_id"]}, position, after[1], now, text)
                told = True
            elif message_due:
                await self.outbox.post(conversation, AuthorKind.SYSTEM, text, author_name="Switchboard")
                update.update(message_at=now, told_position=position, told_estimate=after[1])
                told = True
        await self.store.wait_notices.update_one({"_id": ticket["_id"]}, {"$set": update}, upsert=True)
        return told

    async def _conversation(self, ticket: Doc) -> Doc | None:
        ids = ticket.get("conversation_ids") or []
        if not ids:
            return None
        return await self.store.conversations.find_one({"_id": ids[-1]})

    async def _publish(self, notice: Doc, position: int | None, estimate: int | None, now: datetime,
                       text: str | None = None) -> None:
        await self.store.append_event("queue.wait", now, ticket_id=notice["_id"], data={
            "channel": notice.get("channel"), "thread_key": notice.get("thread_key"), "position": position,
            "estimate_seconds": estimate, "text": text})

    async def current(self, channel: str, thread_key: str) -> Doc | None:
        """What a (re)connecting customer should see now: the last notice of their waiting ticket."""
        notice = await self.store.wait_notices.find_one({"channel": channel, "thread_key": thread_key})
        if notice is None:
            return None
        return {"position": notice["position"], "estimate_seconds": notice.get("estimate_seconds"),
                "text": describe_wait(notice["position"], notice.get("estimate_seconds"))}

    async def _hold_lease(self) -> bool:
        """Whether this process runs the passes: the lease is renewed once half of it has gone by."""
        now = utcnow()
        if self._lease_until is not None and now < self._lease_until - timedelta(seconds=self.lease.seconds / 2):
            return True
        held = await self.lease.acquire(now)
        self._lease_until = now + timedelta(seconds=self.lease.seconds) if held else None
        return held

    def ticket_changed(self, ticket: Doc) -> None:
        """A ticket changed somewhere: its queue's line moved if its status, assignee or queue did."""
        key = (ticket.get("status"), ticket.get("assignee_id"), ticket.get("queue"))
        before = self._seen.get(ticket.get("_id"))
        if before == key:
            return  # a customer's message, a tag, a note: nobody's place or wait changes
        if len(self._seen) > SEEN_LIMIT:
            self._seen.clear()
        self._seen[ticket.get("_id")] = key
        self._dirty.update(q for q in (key[2], before[2] if before else None) if isinstance(q, str))
        self._wake.set()

    async def run(self, bus: RealtimeBus) -> None:
        """Passes while this process holds the lease: over the queues that moved, and all every `interval`."""
        watcher = asyncio.create_task(self._watch(bus))
        queues: set[str] | None = None  # the first pass looks at every queue
        try:
            while True:
                try:
                    if await self._hold_lease():
                        await self.announce(queues=queues)
                except PyMongoError as exc:
                    log.warning("wait announcements: database unavailable (%s)", exc)
                await asyncio.sleep(MIN_PASS_GAP_SECONDS)  # rate limit: a busy desk changes tickets all the time
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
                    queues = set(self._dirty)
                except TimeoutError:
                    queues = None  # time passed, agents came and went: everyone's wait may have moved
                self._wake.clear()
                self._dirty.clear()
        finally:
            watcher.cancel()

    async def _watch(self, bus: RealtimeBus) -> None:
        sub = bus.subscribe(maxsize=1000)
        try:
            while True:
                change = await sub.get()
                if change.collection == "tickets":
                    self.ticket_changed(change.document)
        finally:
            sub.close()

