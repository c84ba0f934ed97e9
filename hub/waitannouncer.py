"""Waiting customers hear their place and wait again as the queue moves.

One pass looks at every queue's waiting tickets (new, unassigned), in order, and estimates each
one's wait from the agents serving the queue now (`hub.waitestimate`). What a customer was last
told is kept in `wait_notices` (not on the ticket: desks would re-render on every tick).

* The widget shows place and wait live: each change is a `queue.wait` event that the visitor's
  socket forwards; an empty place (assigned, or left) hides it.
* Other channels (email, SMS, Slack, Telegram) get a message only when the wait moved a lot
  (by half of itself and five minutes, or nobody / somebody is online now), at most every ten
  minutes, so nobody is flooded.

Passes run in one process at a time (a lease), the only writer of `wait_notices`. Every
`interval` seconds (agents come online, time passes) a full pass reads each queue's line and
notices from the database. In between, a ticket change (the change stream) wakes a pass that
reads nothing: the process keeps each line and its notices in memory and moves the changed
tickets in them, so a pass costs only what it tells (`queue.wait` events, notices written or
deleted), each queue's in one command however many customers moved (`_flush`; three against a
server without the client-level `bulkWrite`, hub.laterwrites). A
customer appended at the end moves nobody else, and the escalation message already
told them their place: only their notice is written. A customer further back than the places told
(`hub.waitestimate.told_place`: "at least 50 ahead of you") is not moved by the head of the line
moving, so a pass writes for the first places only, however long the line. The escalation message
carries the place and wait as data (`metadata.wait`) and the widget's socket shows the banner from
it, so no `queue.wait` event is written for a new ticket while what it told holds (seen on the change
stream: `message_seen`). The collection stays the durable copy: `current` reads it for reconnecting
customers, and a process that takes the lease (or a pass that failed) starts from it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from hub.laterwrites import LaterWrite
from hub.leases import Lease
from hub.models import LIVE_CHANNELS, AuthorKind, TicketStatus, utcnow
from hub.outbox import Outbox
from hub.realtime import Change, RealtimeBus
from hub.routing import Router
from hub.store import Doc, ObjectId, PyMongoError, Store
from hub.tickets import TicketService
from hub.waitestimate import changed_enough, describe_wait, told_place, told_wait, wait_view

log = logging.getLogger(__name__)

#: A message on another channel: the wait moved by this share of itself and this many seconds.
MESSAGE_SHARE = 0.5
MESSAGE_FLOOR_SECONDS = 300.0
MESSAGE_EVERY = timedelta(minutes=10)
#: After a pass, the next one waits at least this long even if tickets keep changing.
MIN_PASS_GAP_SECONDS = 1.0
#: Tickets whose status/assignee/queue the process remembers (forgotten all at once beyond this).
SEEN_LIMIT = 50_000
#: What a pass needs of a waiting ticket (kept in memory for each queue's line).
LINE_FIELDS = ("queue", "status", "assignee_id", "channel", "conversation_ids", "created_at")


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
        #: The tickets whose status/assignee/queue changed since the last pass: their latest state.
        self._changed: dict[Any, Doc] = {}
        #: As of the last pass (the lease holder's copy): each queue's waiting line, and every notice.
        self._lines: dict[str, list[Doc]] = {}
        self._notices: dict[Any, Doc] = {}
        #: A live conversation's thread key, from its messages on the change stream (saves a read).
        self._threads: dict[Any, str] = {}
        #: New tickets whose escalation message showed the banner (its `wait`): (position, estimate).
        self._shown: dict[Any, tuple[Any, Any]] = {}
        self._full_at: datetime | None = None  # when the next pass must read everything again
        #: What settling a queue writes (emptied when it starts), sent together when it is done (`_flush`): its
        #: `queue.wait` events, then its notices' upserts and deletes, in one command (hub.laterwrites).
        self._events: list[Doc] = []
        self._writes: list[LaterWrite] = []
        self._lease_until: datetime | None = None
        self._retry_at: datetime | None = None  # not the holder: when to try for the lease again

    async def announce(self, now: datetime | None = None, queues: set[str] | None = None) -> int:
        """A pass reading these queues' lines and notices (default: all); how many customers were told."""
        now = now or utcnow()
        told = 0
        for queue in list(self.tickets.queues):
            if queues is None or queue in queues:
                told += await self._read_queue(queue, now)
        return told

    async def announce_changes(self, now: datetime | None = None) -> int:
        """A pass over the queues the changed tickets moved, from memory (a queue not read yet is read)."""
        now = now or utcnow()
        changed, self._changed = self._changed, {}
        queues, self._dirty = self._dirty, set()
        for queue, line in self._lines.items():
            kept = [t for t in line if t["_id"] not in changed]
            joined = [t for t in changed.values() if _waits_in(t, queue)]
            if joined or len(kept) != len(line):
                queues.add(queue)
                self._lines[queue] = sorted(kept + joined, key=_line_order) if joined else kept
        told = 0
        for queue in list(self.tickets.queues):
            if queue in queues:
                told += await (self._settle(queue, now) if queue in self._lines else self._read_queue(queue, now))
        return told

    async def _read_queue(self, queue: str, now: datetime) -> int:
        self._lines[queue] = [t for t in await self.store.tickets.find(  # unassigned checked here: a null match scans
            {"status": TicketStatus.NEW.value, "queue": queue},
            projection=dict.fromkeys(LINE_FIELDS, 1),
            sort=[("status", 1), ("queue", 1), ("created_at", 1)],
        ).to_list() if t.get("assignee_id") is None]
        for notice_id in [k for k, n in self._notices.items() if n.get("queue") == queue]:
            del self._notices[notice_id]
        self._notices.update({n["_id"]: n async for n in self.store.wait_notices.find({"queue": queue})})
        return await self._settle(queue, now)

    async def _settle(self, queue: str, now: datetime) -> int:
        """Tell the queue's line (as remembered) their places; forget those no longer in it. Its writes go
        out together at the end, the events and the notices in one command (and a message to
        each customer of another channel whose wait moved a lot, as it is due)."""
        self._events, self._writes = [], []
        reached = await self._settle_line(queue, now)
        await self._flush()
        return reached

    async def _flush(self) -> None:
        # the frames first, then the notices, as each customer's were written before, in one command where the
        # server can (hub.laterwrites); an upsert for each ticket in the line, a delete for each that left it
        await self.store.write_together([LaterWrite(self.store.events, "insert", e) for e in self._events]
                                        + self._writes)

    async def _settle_line(self, queue: str, now: datetime) -> int:
        waiting = self._lines[queue]
        ids = {t["_id"] for t in waiting}
        for notice in [n for n in self._notices.values() if n.get("queue") == queue and n["_id"] not in ids]:
            # answered, assigned, moved or gone
            if notice.get("channel") in LIVE_CHANNELS:
                self._publish(notice, None, None, now)
            self._writes.append(LaterWrite(self.store.wait_notices, "delete", {}, {"_id": notice["_id"]}))
            del self._notices[notice["_id"]]
        if not waiting:
            return 0
        snapshot = await self.router.queue_snapshot(queue)
        reached = 0
        for index, ticket in enumerate(waiting):
            position = told_place(index + 1)  # further back than told: the same as before, nothing written
            estimate = told_wait(position, snapshot)
            if await self._tell(ticket, queue, position, estimate, now):
                reached += 1
        return reached

    async def _tell(self, ticket: Doc, queue: str, position: int, estimate: float | None, now: datetime) -> bool:
        """Record the ticket's place and wait; tell the customer if worth it. True if they were told."""
        stored = self._notices.get(ticket["_id"])
        notice = stored if stored is not None and stored.get("queue") == queue else None  # moved: told anew
        after = (position, round(estimate) if estimate is not None else None)
        live = ticket.get("channel") in LIVE_CHANNELS
        if notice is not None and (notice["position"], notice.get("estimate_seconds")) == after and (
                live or (notice["told_position"], notice.get("told_estimate")) == after):
            return False
        ids = ticket.get("conversation_ids") or []
        if not ids:
            return False
        update: Doc = {"queue": queue, "position": position, "estimate_seconds": after[1],
                       "channel": ticket.get("channel"), "updated_at": now}
        if notice is None:  # the escalation message just told them this
            update.update(told_position=position, told_estimate=after[1], conversation_id=ids[-1])
        message_due = (not live and notice is not None
                       and changed_enough((notice["told_position"], notice.get("told_estimate")), after,
                                          share=MESSAGE_SHARE, floor_seconds=MESSAGE_FLOOR_SECONDS)
                       and (notice.get("message_at") is None or now - notice["message_at"] >= MESSAGE_EVERY))
        told = False
        if live:  # the banner, the thread key read at most once
            thread_key = (stored or {}).get("thread_key") or await self._thread_key(ids[-1])
            if thread_key is None:
                return False
            update["thread_key"] = thread_key
            shown = self._shown.pop(ticket["_id"], None)
            if not (notice is None and shown == after):  # else the escalation message showed it (its `wait`)
                self._publish({**update, "_id": ticket["_id"]}, position, after[1], now,
                              describe_wait(position, estimate))
            told = True
        elif message_due:
            conversation = await self.store.conversations.find_one({"_id": ids[-1]})
            if conversation is None:
                return False
            await self.outbox.post(conversation, AuthorKind.SYSTEM, describe_wait(position, estimate),
                                   author_name="Switchboard")
            update.update(thread_key=conversation.get("thread_key"), conversation_id=conversation["_id"],
                          message_at=now, told_position=position, told_estimate=after[1])
            told = True
        self._writes.append(LaterWrite(self.store.wait_notices, "update", {"$set": update}, {"_id": ticket["_id"]},
                                       upsert=True))
        self._notices[ticket["_id"]] = {**(stored or {}), **update, "_id": ticket["_id"]}  # as `$set` leaves it
        return told

    async def _thread_key(self, conversation_id: Any) -> str | None:
        """A live conversation's thread key: seen on its messages' way past, else read."""
        thread_key = self._threads.get(conversation_id)
        if thread_key is None:
            conversation = await self.store.conversations.find_one({"_id": conversation_id},
                                                                   projection={"thread_key": 1})
            thread_key = conversation.get("thread_key") if conversation is not None else None
        return thread_key

    def _publish(self, notice: Doc, position: int | None, estimate: int | None, now: datetime,
                 text: str | None = None) -> None:
        """A `queue.wait` event for the customer's socket (an empty place hides the banner), sent by `_flush`."""
        self._events.append({"_id": ObjectId(), "type": "queue.wait", "at": now, "ticket_id": notice["_id"], "data": {
            "channel": notice.get("channel"), "thread_key": notice.get("thread_key"), "position": position,
            "estimate_seconds": estimate, "text": text}})

    async def current(self, channel: str, thread_key: str) -> Doc | None:
        """What a (re)connecting customer should see now: the last notice of their waiting ticket."""
        notice = await self.store.wait_notices.find_one({"channel": channel, "thread_key": thread_key})
        if notice is None:
            return None
        return wait_view(notice["position"], notice.get("estimate_seconds"))

    async def _hold_lease(self) -> bool:
        """Whether this process runs the passes: the lease is renewed once half of it has gone by.

        A process that did not hold it all along forgets what it remembers: another may have written."""
        now = utcnow()
        if self._lease_until is not None and now < self._lease_until - timedelta(seconds=self.lease.seconds / 2):
            return True
        if self._lease_until is None or now >= self._lease_until:
            self._forget()
            if self._retry_at is not None and now < self._retry_at:
                return False  # another process has it: try again every `interval`, not on every change
        held = await self.lease.acquire(now)
        self._lease_until = now + timedelta(seconds=self.lease.seconds) if held else None
        self._retry_at = None if held else now + timedelta(seconds=self.interval)
        return held

    def _forget(self) -> None:
        """The next pass reads every line and notice from the database."""
        self._lines.clear()
        self._notices.clear()
        self._changed.clear()
        self._dirty.clear()
        self._full_at = None

    def ticket_changed(self, ticket: Doc) -> None:
        """A ticket changed somewhere: its queue's line moved if its status, assignee or queue did."""
        key = (ticket.get("status"), ticket.get("assignee_id"), ticket.get("queue"))
        before = self._seen.get(ticket.get("_id"))
        if before == key:
            return  # a customer's message, a tag, a note: nobody's place or wait changes
        if len(self._seen) > SEEN_LIMIT:
            self._seen.clear()
        self._seen[ticket.get("_id")] = key
        if len(self._changed) > SEEN_LIMIT:  # nobody took them (not the lease holder): read it all if ever
            self._forget()
        self._changed[ticket.get("_id")] = {k: ticket[k] for k in ("_id", *LINE_FIELDS) if k in ticket}
        self._dirty.update(q for q in (key[2], before[2] if before else None) if isinstance(q, str))
        self._wake.set()

    def message_seen(self, message: Doc) -> None:
        """A live channel's message went by: remember its conversation's thread key for a new ticket's banner,
        and the banner an escalation message showed (its `metadata.wait`, the widget shows it from there)."""
        if len(self._threads) > SEEN_LIMIT:
            self._threads.clear()
        if message.get("thread_key") is not None:
            self._threads[message.get("conversation_id")] = message["thread_key"]
        wait = (message.get("metadata") or {}).get("wait")
        if isinstance(wait, dict) and wait.get("ticket_id") is not None:
            if len(self._shown) > SEEN_LIMIT:
                self._shown.clear()
            self._shown[wait["ticket_id"]] = (wait.get("position"), wait.get("estimate_seconds"))

    async def run(self, bus: RealtimeBus) -> None:
        """Passes while this process holds the lease: over what moved, and over everything every `interval`."""
        watcher = asyncio.create_task(self._watch(bus))
        try:
            while True:
                try:
                    await self._pass()
                except PyMongoError as exc:
                    log.warning("wait announcements: database unavailable (%s)", exc)
                    self._forget()  # what was written is uncertain: the collection says
                await asyncio.sleep(MIN_PASS_GAP_SECONDS)  # rate limit: a busy desk changes tickets all the time
                # a full pass is due every `interval` even while tickets keep changing (agents come and go)
                due = self.interval if self._full_at is None else (self._full_at - utcnow()).total_seconds()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, due))
                self._wake.clear()
        finally:
            watcher.cancel()

    async def _pass(self) -> None:
        if not await self._hold_lease():
            self._changed.clear()
            self._dirty.clear()
            return
        now = utcnow()
        if self._full_at is None or now >= self._full_at:
            self._changed.clear()  # the reads below see them
            self._dirty.clear()
            self._full_at = now + timedelta(seconds=self.interval)
            await self.announce(now)
        else:
            await self.announce_changes(now)

    async def _watch(self, bus: RealtimeBus) -> None:
        sub = bus.subscribe(maxsize=1000, accept=_wanted)
        try:
            while True:
                change = await sub.get()
                if change.collection == "tickets":
                    self.ticket_changed(change.document)
                else:
                    self.message_seen(change.document)
        finally:
            sub.close()


def _wanted(change: Change) -> bool:
    """Ticket changes, and new messages of live channels (their thread keys)."""
    return change.collection == "tickets" or (
        change.collection == "messages" and change.operation == "insert"
        and change.document.get("channel") in LIVE_CHANNELS)


def _waits_in(ticket: Doc, queue: str) -> bool:
    """Whether the ticket is in the queue's line: new and unassigned (what the full pass reads)."""
    return (ticket.get("status") == TicketStatus.NEW.value and ticket.get("assignee_id") is None
            and ticket.get("queue") == queue)


def _line_order(ticket: Doc) -> tuple[Any, Any]:
    return ticket["created_at"], ticket["_id"]
