"""Outbound messages: stored first, then delivered by the channel's sender, retried with backoff.

A reply is written to `messages` and `outbox` in the same transaction as whatever
caused it, so nothing the bot or an agent said is lost if a provider is down. A
worker claims due entries with a lease (safe with several hub processes), calls
the channel's `OutboundSender`, and on failure reschedules with exponential
backoff (honouring `Retry-After`) until `max_attempts`, after which the message is
marked failed and an event tells the desk.

Entries with a `kind` (webhook deliveries, hub.webhooks) go through the same claim,
lease and backoff; a handler registered in `handlers` makes the attempt. One entry of a
`lane` (a conversation, or a webhook endpoint) is in flight per process at a time.

A conversation's messages go out in the order they were queued, across processes and retries
(`_ahead`): before sending, the worker looks for an unsent entry of the same conversation queued
before this one (another process's delivery in flight, a retry waiting for its time). If there is
one, this entry is put back, due when that one is (or in `HOLD_SECONDS` while it is in flight), and
is sent only once every earlier entry is sent or has failed for good. Webhook deliveries keep their
per-process lanes only (an endpoint receives each event with its time and id, so order is theirs to
restore).

The worker reads due entries only when there may be some (docs/ingest.md, "Outbox claims"):
when `wake()` says a commit queued entries, when a delivery ends whose lane has a due entry
waiting (or that frees a slot a full pass wanted), when a retry this process scheduled comes
due, when another process queues an entry it cannot send at once (`spill_mark`, seen on the change
stream), and otherwise every `poll_seconds` (retries of a process that stopped, entries whose wake was
missed while the change stream was down). One read claims up to as many entries as slots are free.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from hub.models import Attachment, AuthorKind, Direction, OutboundMessage, QuickReply, SendError, utcnow
from hub.ports import FILES_BYTES, OutboundSender, delivered_by_store, file_delivery
from hub.realtime import RealtimeBus
from hub.store import OUTBOX_DUE, Doc, ObjectId, PyMongoError, Store
from hub.tasks import cancel_and_wait
from hub.telemetry import Telemetry

log = logging.getLogger(__name__)

#: How often an idle worker looks for due entries nobody woke it for (other processes' entries, their retries).
POLL_SECONDS = 5.0
#: After a database error, the worker tries again this soon.
ERROR_RETRY_SECONDS = 1.0
#: A retry's wake-up comes this long after its due time, so that the read's clock (`utcnow`) is surely past it.
RETRY_MARGIN_SECONDS = 0.01
#: Due entries read per round trip of a claim (more than the free slots: entries of busy lanes are skipped).
CLAIM_BATCH = 16
#: An entry behind one of its conversation's that another process is sending looks again this soon (and
#: then each time twice as late, up to the idle poll): a delivery takes a fraction of a second, a
#: crashed process's lease two minutes.
HOLD_SECONDS = 0.5
#: Outbox states of an entry not yet delivered nor given up.
UNSENT = ("pending", "sending")


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 2.0
    max_seconds: float = 600.0
    max_attempts: int = 8
    lease_seconds: float = 120.0

    def delay(self, attempts: int, retry_after: float | None) -> float:
        backoff = min(self.max_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        backoff *= 0.8 + 0.4 * random.random()
        return max(backoff, retry_after or 0.0)


def _channel_data(conversation: Doc, message: Doc) -> Doc:
    """What the sender reads about the conversation (`OutboundMessage.metadata`: the channel's data), with whom the
    message itself copies (`metadata.cc`, hub.tickets.copies) over the conversation's: the reply goes to the people
    named when it was written, not to whoever a later mail copied."""
    data = dict(conversation.get("channel_data") or {})
    kept = (message.get("metadata") or {}).get("cc")
    if kept is not None:
        data["cc"] = kept
    return data


class Outbox:
    def __init__(self, store: Store, senders: dict[str, OutboundSender], policy: RetryPolicy | None = None,
                 concurrency: int = 8, blobs: Any | None = None, poll_seconds: float = POLL_SECONDS) -> None:
        self.store = store
        self.senders = senders
        #: Where attachment bytes live (hub.blobs.BlobStore), for senders that take `files = "bytes"`.
        self.blobs = blobs
        self.policy = policy or RetryPolicy()
        #: How often an idle worker reads due entries without being woken (`outbox.poll_seconds`).
        self.poll_seconds = poll_seconds
        self.concurrency = concurrency
        self._wake = asyncio.Event()
        self._inflight: set[ObjectId] = set()
        self._running = 0  # deliveries in flight in this process (at most `concurrency`)
        #: Lanes in flight for which the last pass skipped a due entry: their delivery's end wakes the worker.
        self._waiting_lanes: set[ObjectId] = set()
        self._slots_wanted = False  # the last pass stopped with every slot taken: a delivery's end wakes it
        self._retry_timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        #: Attempt makers for entries of other kinds than messages: `kind` -> handler (raises SendError).
        self.handlers: dict[str, Callable[[Doc], Awaitable[None]]] = {}
        #: Called with each stored non-private message in its transaction (hub.webhooks' message.created).
        self.on_message: Callable[[Doc, Doc, AsyncClientSession | None], Awaitable[None]] | None = None
        #: Counts for operators (hub.telemetry); the hub shares one with its other services.
        self.telemetry = Telemetry(store)
        #: Told of each failed delivery attempt of a message: (channel, reason) (hub.channelstatus).
        self.on_failure: Callable[[str, str], None] | None = None
        self._worker_up = False  # `run` is going in this process
        #: Entries queued here without a spill mark since the worker's last pass began: slots they will take.
        self._promised = 0
        #: Passes the worker has made (each: claim what is due into the free slots), for tests and debugging.
        self.passes = 0

    def spill_mark(self) -> Doc:
        """Fields for an entry this process queues: `spill: true` when its own worker will not take it at
        once (no worker here, as in a command-line tool, or every slot busy or promised to entries queued
        before it: a burst larger than the free slots spills its excess).

        Other processes' workers follow such inserts on their change stream (`follow_spills`) and claim
        them, instead of finding them at their next idle poll. An entry this process will send itself at
        once is not marked, so it wakes nobody else: no claim read in every other process per message.
        An entry counted here whose insert is then abandoned (a transaction aborted) only makes the next
        ones spill sooner, until the worker's next pass.
        """
        if self._worker_up and self._running + self._promised < self.concurrency:
            self._promised += 1
            return {}
        return {"spill": True}

    def follow_spills(self, bus: RealtimeBus) -> None:
        """Wake this worker when another process queues an entry it cannot send at once (`spill_mark`)."""
        bus.on_insert("outbox", {"spill": True}, lambda _entry: self.wake())

    async def post(
        self,
        conversation: Doc,
        author_kind: AuthorKind,
        text: str,
        *,
        session: AsyncClientSession | None = None,
        author_id: ObjectId | None = None,
        author_name: str | None = None,
        quick_replies: tuple[QuickReply, ...] = (),
        private: bool = False,
        nlu: dict[str, Any] | None = None,
        attachments: list[Doc] | None = None,
        touch_conversation: bool = True,
        metadata: Doc | None = None,
        answer_to: ObjectId | None = None,
    ) -> Doc:
        """Store an outbound message (and queue it for delivery unless it is a private note).

        `touch_conversation=False` when the caller updates the conversation itself anyway
        (saves a write in the bot's hot path). `answer_to`: the customer message this one answers (the
        bot's answer), unique among messages, so that writing the answer twice raises `DuplicateKeyError`.
        A channel whose delivery is the store itself (`hub.ports.delivered_by_store`: the widget)
        gets the message written as sent, with no outbox entry.
        """
        now = utcnow()
        message_id = ObjectId()
        by_store = not private and delivered_by_store(self.senders.get(conversation["channel"]))
        delivery: Doc = {"status": "internal" if private else "queued", "attempts": 0}
        if by_store:
            delivery = {"status": "sent", "attempts": 1, "sent_at": now}
        doc: Doc = {
            "_id": message_id,
            "conversation_id": conversation["_id"],
            "contact_id": conversation["contact_id"],
            "channel": conversation["channel"],
            "thread_key": conversation["thread_key"],
            "external_id": f"sb-{message_id}",
            "direction": Direction.OUTBOUND.value,
            "author": {"kind": author_kind.value, "id": author_id, "name": author_name},
            "text": text,
            "attachments": attachments or [],
            "quick_replies": [{"title": q.title, "payload": q.payload} for q in quick_replies],
            "private": private,
            "created_at": now,
            "delivery": delivery,
        }
        if nlu is not None:
            doc["nlu"] = nlu
        if metadata:
            doc["metadata"] = metadata
        if answer_to is not None:
            doc["answer_to"] = answer_to
        await self.store.insert_later(self.store.messages, doc, session)  # in a transaction: with its last writes
        if by_store:  # counted when the caller's transaction commits, if there is one
            self.telemetry.count("delivery", session, channel=conversation["channel"], result="sent")
            self.telemetry.count("message", session, channel=conversation["channel"], direction="out")
        elif not private:
            await self.store.insert_later(
                self.store.outbox,
                {
                    "message_id": message_id,
                    "conversation_id": conversation["_id"],
                    "channel": conversation["channel"],
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    **self.spill_mark(),
                },
                session,
            )
            self.store.on_commit(session, self.wake)  # now, or once the caller's transaction has committed
        if touch_conversation:
            await self.store.update(
                self.store.conversations, {"_id": conversation["_id"]}, {"$set": {"last_message_at": now}}, session
            )
        if not private and self.on_message is not None:
            await self.on_message(doc, conversation, session)
        return doc

    def wake(self) -> None:
        """Tell the worker new entries are due (called after a transaction commits)."""
        self._wake.set()

    async def run(self) -> None:
        """The delivery loop; runs until cancelled. Each pass reads due entries once (more only while
        the read fills every free slot), then the worker sleeps until woken or `poll_seconds` pass."""
        self._worker_up = True
        try:
            await self._passes()
        finally:
            self._worker_up = False

    async def _passes(self) -> None:
        loop = asyncio.get_running_loop()
        next_lease_check = 0.0
        while True:
            self._wake.clear()  # before the read: a commit during the pass makes another pass
            sleep = self.poll_seconds
            try:
                if loop.time() >= next_lease_check:
                    await self._release_expired_leases()
                    next_lease_check = loop.time() + min(10.0, self.policy.lease_seconds / 4)
                await self._drain()
                self.passes += 1
            except PyMongoError as exc:
                log.warning("outbox: database unavailable (%s); retrying", exc)
                sleep = min(sleep, ERROR_RETRY_SECONDS)
            # asyncio.timeout rather than wait_for, which can lose a cancellation on Python 3.11.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(sleep):
                    await self._wake.wait()

    async def _drain(self) -> int:
        """Claim due entries into the free slots and start their deliveries; returns how many."""
        self._waiting_lanes.clear()
        self._slots_wanted = False
        self._promised = 0  # what was queued unmarked is due now: this pass claims it, or finds the slots full
        claimed = 0
        while True:
            free = self.concurrency - self._running
            if free <= 0:
                self._slots_wanted = True
                return claimed
            entries, seen_all = await self._claim(free)
            for entry in entries:
                self._running += 1
                task = asyncio.create_task(self._deliver(entry))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            claimed += len(entries)
            if seen_all:
                return claimed

    async def _claim(self, limit: int = 1) -> tuple[list[Doc], bool]:
        """Take up to `limit` of the most overdue entries of lanes not in flight here, one per lane.

        Returns them (leased, their lanes marked in flight) and whether every due entry was read:
        False when the read stopped at `limit`, so more may be due.

        Shaped for secantusd-py, whose findAndModify scans the whole collection (see
        `Store.claim_by_id`): the due entries are read in order on the `OUTBOX_DUE` index's own
        fields only (lanes in flight are skipped here, not in the filter), and each free one is
        taken with an update keyed by `_id` that re-checks it is still pending. Another process
        taking it first makes that update match nothing, and the next due entry is tried. A
        skipped entry's lane is remembered: when its delivery ends, the worker looks again.
        """
        now = utcnow()
        lease = {"status": "sending", "lease_until": now + timedelta(seconds=self.policy.lease_seconds)}
        taken: list[Doc] = []
        due = self.store.outbox.find({"status": "pending", "next_attempt_at": {"$lte": now}},
                                     sort=[("next_attempt_at", 1)], batch_size=max(limit, CLAIM_BATCH))
        try:
            async for candidate in due:
                busy = {key for key in (candidate.get("conversation_id"), candidate.get("lane"))
                        if key is not None and key in self._inflight}
                if busy:
                    self._waiting_lanes |= busy
                    continue
                try:
                    result = await self.store.outbox.update_one({"_id": candidate["_id"], "status": "pending"},
                                                                {"$set": lease})
                except PyMongoError:
                    if not taken:
                        raise
                    return taken, False  # what is leased and marked in flight must be delivered: go with it
                if result.modified_count != 1:
                    continue
                entry = {**candidate, **lease}
                self._inflight.add(_lane(entry))
                taken.append(entry)
                if len(taken) >= limit:
                    return taken, False
        finally:
            await due.close()
        return taken, True

    async def _release_expired_leases(self) -> None:
        """Entries left `sending` by a crashed process become due again.

        A plain multi-document update, the one kept (tests/test_many_writes.py): no transaction writes an
        existing outbox entry (they only insert), so it cannot wait on one the way `Store.update_in_batches`
        explains; and its filter needs the hinted index, which only a write can use without a scan."""
        await self.store.outbox.update_many(
            {"status": "sending", "next_attempt_at": {"$lte": utcnow()}, "lease_until": {"$lt": utcnow()}},
            {"$set": {"status": "pending", "released": True}},  # its attempt may have reached the provider
            hint=OUTBOX_DUE,
        )

    async def _deliver(self, entry: Doc) -> None:
        try:
            await self._attempt(entry)
        except PyMongoError as exc:
            log.warning("outbox: could not record delivery of %s (%s); lease will expire", entry["_id"], exc)
        except Exception:
            log.exception("outbox: unexpected error delivering %s", entry["_id"])
            await self._reschedule(entry, "internal error", None)
        finally:
            lane = _lane(entry)
            self._inflight.discard(lane)
            self._running -= 1
            if self._slots_wanted or lane in self._waiting_lanes:  # else the last pass left nothing due here
                self._slots_wanted = False
                self._waiting_lanes.discard(lane)
                self._wake.set()

    async def _attempt(self, entry: Doc) -> None:
        if entry.get("kind"):
            await self._attempt_other(entry)
            return
        ahead = await self._ahead(entry)
        if ahead is not None:
            await self._hold(entry, ahead)
            return
        sender = self.senders.get(entry["channel"])
        try:
            outbound = await self._build(entry, with_bytes=file_delivery(sender) == FILES_BYTES)
        except SendError as exc:
            await self._fail(entry, exc.reason)
            return
        if outbound is None:
            await self._fail(entry, "message or conversation vanished")
            return
        if sender is None:
            await self._fail(entry, f"no sender configured for channel {entry['channel']}")
            return
        try:
            result = await sender.send(outbound)
        except SendError as exc:
            await self._failed_attempt(entry, exc)
            return
        now = utcnow()
        await self.store.outbox.update_one(
            {"_id": entry["_id"]},
            {"$set": {"status": "sent", "sent_at": now}, "$inc": {"attempts": 1}, "$unset": {"lease_until": ""}},
        )
        update: Doc = {"delivery.status": "sent", "delivery.sent_at": now}
        self.telemetry.count("delivery", channel=entry["channel"], result="sent")
        self.telemetry.count("message", channel=entry["channel"], direction="out")
        if result.provider_id:
            update["provider_id"] = result.provider_id
        await self.store.messages.update_one(
            {"_id": entry["message_id"]}, {"$set": update, "$inc": {"delivery.attempts": 1}}
        )

    async def _failed_attempt(self, entry: Doc, exc: SendError) -> None:
        """Try again later while the error is transient and attempts remain; else the entry has failed."""
        if exc.transient and entry["attempts"] + 1 < self.policy.max_attempts:
            await self._reschedule(entry, exc.reason, exc.retry_after)
        else:
            await self._fail(entry, exc.reason)

    async def _attempt_other(self, entry: Doc) -> None:
        handler = self.handlers.get(entry["kind"])
        if handler is None:
            await self._fail(entry, f"no handler for outbox entries of kind {entry['kind']!r}")
            return
        try:
            await handler(entry)
        except SendError as exc:
            await self._failed_attempt(entry, exc)
            return
        await self.store.outbox.update_one(
            {"_id": entry["_id"]},
            {"$set": {"status": "sent", "sent_at": utcnow()}, "$inc": {"attempts": 1}, "$unset": {"lease_until": ""}},
        )
        self.telemetry.count("delivery", channel=_channel(entry), result="sent")

    async def _ahead(self, entry: Doc) -> Doc | None:
        """The first unsent entry of the entry's conversation queued before it, if any (one indexed read).

        Queued order is `(created_at, _id)`: a total order, so two entries never wait for each other."""
        mine = (entry["created_at"], entry["_id"])
        unsent = self.store.outbox.find(
            {"conversation_id": entry["conversation_id"], "status": {"$in": list(UNSENT)}},
            projection={"created_at": 1, "status": 1, "next_attempt_at": 1},
        )
        earlier = [e async for e in unsent if (e["created_at"], e["_id"]) < mine]
        return min(earlier, key=lambda e: (e["created_at"], e["_id"]), default=None)

    async def _hold(self, entry: Doc, ahead: Doc) -> None:
        """Put the entry back until the one ahead of it may have gone: its due time if it waits for a
        retry, else (in flight elsewhere) a short, growing pause. Neither an attempt nor an error."""
        holds = int(entry.get("holds") or 0)
        pause = min(HOLD_SECONDS * 2**holds, self.poll_seconds)
        now = utcnow()
        due = now + timedelta(seconds=pause)
        if ahead["status"] == "pending":
            due = max(due, ahead["next_attempt_at"] + timedelta(seconds=RETRY_MARGIN_SECONDS))
        log.debug("outbox: %s waits for %s of its conversation (%s)", entry["_id"], ahead["_id"], ahead["status"])
        await self.store.outbox.update_one(
            {"_id": entry["_id"], "status": "sending"},
            {"$set": {"status": "pending", "next_attempt_at": due}, "$inc": {"holds": 1},
             "$unset": {"lease_until": ""}},
        )
        self._wake_after((due - now).total_seconds() + RETRY_MARGIN_SECONDS)

    async def _reschedule(self, entry: Doc, reason: str, retry_after: float | None) -> None:
        attempts = entry["attempts"] + 1
        delay = self.policy.delay(attempts, retry_after)
        due = utcnow() + timedelta(seconds=delay)
        log.info("outbox: %s failed (%s), attempt %d, retry at %s", entry["_id"], reason, attempts, due)
        # Only while still ours: an entry given up meanwhile (its contact erased, hub.privacy) stays given up.
        await self.store.outbox.update_one(
            {"_id": entry["_id"], "status": "sending"},
            {"$set": {"status": "pending", "next_attempt_at": due, "last_error": reason, "attempts": attempts},
             "$unset": {"lease_until": ""}},
        )
        self._wake_after(delay + RETRY_MARGIN_SECONDS)
        self.telemetry.count("delivery", channel=_channel(entry), result="retry")
        self._failed(entry, reason)
        if "message_id" not in entry:
            return
        await self.store.messages.update_one(
            {"_id": entry["message_id"]},
            {"$set": {"delivery.status": "retrying", "delivery.error": reason, "delivery.attempts": attempts}},
        )

    async def _fail(self, entry: Doc, reason: str) -> None:
        now = utcnow()
        log.warning("outbox: giving up on %s: %s", entry["_id"], reason)
        await self.store.outbox.update_one(
            {"_id": entry["_id"]},
            {"$set": {"status": "failed", "failed_at": now, "last_error": reason},
             "$inc": {"attempts": 1}, "$unset": {"lease_until": ""}},
        )
        self.telemetry.count("delivery", channel=_channel(entry), result="failed")
        self._failed(entry, reason)
        if "message_id" not in entry:
            return
        await self.store.messages.update_one(
            {"_id": entry["message_id"]},
            {"$set": {"delivery.status": "failed", "delivery.error": reason}},
        )
        # The provider's words (an address, a number) stay on the message and the entry, where an erasure
        # redacts them: the event log is not rewritten.
        await self.store.append_event("message.failed", now, message_id=entry["message_id"],
                                      conversation_id=entry["conversation_id"])

    def _failed(self, entry: Doc, reason: str) -> None:
        if self.on_failure is not None and entry.get("channel") and not entry.get("kind"):
            self.on_failure(str(entry["channel"]), reason)

    async def mark_failed_by_external_id(self, channel: str, external_id: str, reason: str) -> bool:
        """A provider told us later that a sent message failed (an email bounce, a status callback)."""
        message = await self.store.messages.find_one({"channel": channel, "external_id": external_id},
                                                     projection={"conversation_id": 1, "delivery": 1})
        if message is None:
            by_provider = await self.store.messages.find(
                {"provider_id": external_id}, projection={"conversation_id": 1, "channel": 1, "delivery": 1}
            ).to_list()
            message = next((m for m in by_provider if m["channel"] == channel), None)
        if message is None:
            return False
        if message.get("delivery", {}).get("status") == "failed":
            return True  # the same bounce delivered twice: already recorded
        await self.store.messages.update_one(
            {"_id": message["_id"]}, {"$set": {"delivery.status": "failed", "delivery.error": reason}}
        )
        await self.store.append_event("message.failed", utcnow(), message_id=message["_id"],
                                      conversation_id=message["conversation_id"])  # the reason: as in `_fail`
        return True

    async def _build(self, entry: Doc, with_bytes: bool = False) -> OutboundMessage | None:
        message = await self.store.messages.find_one({"_id": entry["message_id"]})
        if message is None:
            return None
        conversation = await self.store.conversations.find_one({"_id": message["conversation_id"]})
        if conversation is None:
            return None
        ticket_number = None
        if conversation.get("ticket_id") is not None:
            ticket = await self.store.tickets.find_one({"_id": conversation["ticket_id"]}, {"number": 1})
            ticket_number = ticket["number"] if ticket else None
        references = await self._references(conversation["_id"], message["_id"])
        return OutboundMessage(
            outbox_id=str(entry["_id"]),
            message_id=str(message["_id"]),
            conversation_id=str(conversation["_id"]),
            channel=conversation["channel"],
            thread_key=conversation["thread_key"],
            recipient=conversation["recipient"],
            text=message["text"],
            author_kind=AuthorKind(message["author"]["kind"]),
            author_name=message["author"].get("name"),
            quick_replies=tuple(QuickReply(q["title"], q["payload"]) for q in message.get("quick_replies", [])),
            subject=conversation.get("subject"),
            external_id=message.get("external_id"),
            ticket_number=ticket_number,
            conversation_token=conversation.get("token"),
            inbox=conversation.get("inbox"),
            references=references,
            metadata=_channel_data(conversation, message),
            attachments=await self._attachments(message, with_bytes),
            maybe_delivered_since=entry["created_at"] if entry.get("attempts") or entry.get("released") else None,
        )

    async def _attachments(self, message: Doc, with_bytes: bool) -> tuple[Attachment, ...]:
        """The message's files; with their bytes when the sender uploads them to the provider."""
        files = []
        for a in message.get("attachments", []):
            data = None
            if with_bytes and a.get("blob_id"):
                found = await self.blobs.get(a["blob_id"]) if self.blobs is not None else None
                if found is None:
                    raise SendError(f"attachment {a.get('filename')!r} is no longer stored", transient=False)
                data = found[0]
            files.append(Attachment(filename=a.get("filename") or "attachment",
                                    content_type=a.get("content_type") or "application/octet-stream",
                                    data=data, size=int(a.get("size") or 0), blob_id=a.get("blob_id")))
        return tuple(files)

    async def _references(self, conversation_id: ObjectId, before: ObjectId) -> tuple[str, ...]:
        """External ids of the thread's earlier messages, oldest first (email threading needs them)."""
        cursor = self.store.messages.find(
            {"conversation_id": conversation_id},
            projection={"external_id": 1, "provider_id": 1, "direction": 1},
            sort=[("created_at", 1)],
            limit=50,
        )
        refs: list[str] = []
        async for doc in cursor:
            if doc["_id"] == before:
                break
            ref = doc.get("provider_id") if doc["direction"] == Direction.OUTBOUND.value else doc["external_id"]
            if ref:
                refs.append(ref)
        return tuple(refs)

    def _wake_after(self, seconds: float) -> None:
        """Wake the worker when a retry this process scheduled comes due (no poll needed for it)."""
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._retry_timers.discard(handle)
            self._wake.set()

        handle = loop.call_later(seconds, fire)
        self._retry_timers.add(handle)

    async def stop(self) -> None:
        for handle in self._retry_timers:
            handle.cancel()
        self._retry_timers.clear()
        await cancel_and_wait(list(self._tasks))


def _channel(entry: Doc) -> str:
    """The channel an entry goes out on; other kinds (webhooks) by their kind."""
    return str(entry.get("channel") or entry.get("kind") or "unknown")


def _lane(entry: Doc) -> ObjectId:
    """What must not have two entries in flight at once: the entry's lane, else its conversation."""
    lane: ObjectId = entry.get("lane") or entry["conversation_id"]
    return lane
