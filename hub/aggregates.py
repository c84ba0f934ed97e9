"""Incremental history aggregates: hour buckets kept up to date, exactly once across hub processes.

Storage (docs/metrics.md, "Aggregates"):

- `metric_hours`: one document per (hour, queue, channel, agent, intent, tags) with summed counters
  `c.*` (and histogram bins `c.fr_<i>`, `c.rs_<i>`): the fine buckets, read for combined filters.
- `metric_rollups`: the same counters rolled up per hour (`g: h`) and per day (`g: d`) and one dimension
  (`dim`: all, queue, channel, agent, intent, tag; `val` its value): what a range with at most one filter reads;
  `dim: agents` holds every agent's counters in one document per hour, day and aligned block of 4, 16 and
  64 days (`g: d4`, `d16`, `d64`; `c.<agent id>.<counter>`): a 90-day agent table reads about a dozen.
- `metric_contributions`: per ticket (`t:<id>`) and bot conversation (`c:<id>`) the parts it has added
  to the buckets (`hub.metricdefs`) and a version `v`.

Exactly once: applying a record recomputes its contribution from the record, and in ONE transaction
`$inc`s the buckets by the difference to the stored contribution and replaces the stored contribution,
guarded by its version (`update_one({_id, v: old})`, or an insert for a first one that a concurrent
insert makes fail). Two processes applying the same record at once: one commits, the other's guard or
write conflict aborts its whole transaction (bucket increments included) and it recomputes from the
new state, finding no difference. Applying again is a no-op, so re-reading events is harmless.

What to apply comes from the event log (`events`, written with every ticket change already): a batch
job (`run`), held by one process at a time through a lease, reads the events since its watermark
(a few seconds back of it), then once more each slice of the log a minute after its time (for
transactions that committed late; `catch_up`), and applies each ticket and conversation they name.
The message path writes nothing more (tests/test_command_budget.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import AutoReconnect, BulkWriteError

from hub.history import CONVERSATION_FIELDS, HOURS, ROLLUPS, TICKET_FIELDS, HistoryService
from hub.leases import Lease
from hub.metricdefs import (
    BLOCK_DAYS,
    Counters,
    Parts,
    block_of,
    conversation_parts,
    day_of,
    delta,
    floor_day,
    merge_into,
    parts_from_doc,
    parts_to_doc,
    ticket_parts,
)
from hub.models import utcnow
from hub.store import ONE_TIME, Doc, DuplicateKeyError, ObjectId, PyMongoError, Store

log = logging.getLogger(__name__)

CONTRIBUTIONS = "metric_contributions"
STATE = "metric_state"
#: How long after its time an event is read once more (transactions that committed late); the event log's
#: retention keeps this much before the watermark (`events_read_until`).
OVERLAP_SECONDS = 60.0
#: How far back of its watermark each pass reads (an event whose transaction committed just after the pass
#: before read past it is counted now, not a minute later).
RECENT_SECONDS = 5.0
LEASE = "metrics.aggregates"
PAGE = 2000
#: Records applied together in one transaction by the batch job (`_apply_all`).
BATCH = 100
#: Events that close a ticket's conversations (so their bot contribution may change too).
CLOSING = frozenset({"ticket.solved", "ticket.closed", "ticket.abandoned"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: `Record.kind`: the prefix of its contribution's `_id`.
TICKET, CONVERSATION = "t", "c"
#: Events that change no record the buckets count: a conversation opened (counted when it closes) and a waiting
#: customer's place in the line (hub.waitannouncer writes it as an event for the widget; the ticket is untouched).
UNCOUNTED = frozenset({"conversation.opened", "queue.wait"})


class Conflict(Exception):
    """Another process changed the contribution first: this attempt is discarded and redone."""


@dataclass(frozen=True)
class Record:
    """A ticket (`kind` "t") or a conversation ("c") whose contribution is to be brought up to date."""

    kind: str
    id: ObjectId

    @property
    def source(self) -> str:
        """Its contribution's `_id`: `t:<id>` or `c:<id>`."""
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class Change:
    """What applying a record writes: its new parts, the stored contribution they replace, the difference."""

    record: Record
    new: Parts
    stored: Doc | None
    delta: Parts

    @property
    def version(self) -> int:
        return int(self.stored["v"]) if self.stored is not None else 0


class LeaseLost(Exception):
    """The batch job's lease went to another holder (a rebuild took it): stop applying."""


def _hours_id(key: tuple[Any, ...]) -> str:
    return json.dumps([key[0], *key[1:5], list(key[5])], separators=(",", ":"))


def bucket_increments(parts: Parts) -> tuple[dict[str, tuple[Doc, Counters]], dict[str, tuple[Doc, Counters]]]:
    """The fine (`metric_hours`) and rolled-up (`metric_rollups`) documents `parts` add to: id -> (fields, counters)."""
    hours: dict[str, tuple[Doc, Counters]] = {}
    rollups: dict[str, tuple[Doc, Counters]] = {}

    def add(target: dict[str, tuple[Doc, Counters]], _id: str, fields: Doc, counters: Counters) -> None:
        slot = target.setdefault(_id, (fields, {}))[1]
        for name, value in counters.items():
            slot[name] = slot.get(name, 0) + value

    for key, counters in parts.items():
        hour = datetime.fromisoformat(key[0])
        queue, channel, agent, intent, tags = key[1:]
        add(hours, _hours_id(key), {"t": hour, "queue": queue, "channel": channel, "agent": agent,
                                    "intent": intent, "tags": list(tags)}, counters)
        day = day_of(key[0])
        cells: list[tuple[str, str, Any, datetime]] = []
        for g, t in (("h", hour), ("d", day), *((f"d{size}", block_of(day, size)) for size in BLOCK_DAYS)):
            if g in ("h", "d"):
                cells += [(g, "all", None, t), (g, "queue", queue, t), (g, "channel", channel, t),
                          (g, "agent", agent, t), (g, "intent", intent, t)]
                cells += [(g, "tag", tag, t) for tag in tags]
            if agent is not None:  # every agent's counters in one document per hour, day and block: the agent table
                add(rollups, json.dumps([g, "agents", None, t.isoformat()], separators=(",", ":")),
                    {"g": g, "dim": "agents", "val": None, "t": t},
                    {f"{agent}.{name}": value for name, value in counters.items()})
        for g, dim, val, t in cells:
            add(rollups, json.dumps([g, dim, val, t.isoformat()], separators=(",", ":")),
                {"g": g, "dim": dim, "val": val, "t": t}, counters)
    return hours, rollups


def _updates(increments: dict[str, tuple[Doc, Counters]]) -> list[UpdateOne]:
    ops = []
    for _id, (fields, counters) in increments.items():
        inc = {f"c.{name}": value for name, value in counters.items() if value}
        if inc:
            ops.append(UpdateOne({"_id": _id}, {"$inc": inc, "$setOnInsert": fields}, upsert=True))
    return ops


def _nested(counters: Counters) -> Doc:
    """`{"a.b": 1}` as `{"a": {"b": 1}}` (what `$inc` on `c.a.b` makes), zeros left out."""
    out: Doc = {}
    for name, value in counters.items():
        if value:
            head, _, tail = name.partition(".")
            if tail:
                out.setdefault(head, {})[tail] = value
            else:
                out[head] = value
    return out


async def events_read_until(store: Store, overlap: timedelta = timedelta(seconds=OVERLAP_SECONDS)) -> datetime | None:
    """Every event before this time has been applied and will not be read again (the batch job's watermark minus
    the overlap `catch_up` re-reads); None before its first pass on this database. The event log's retention
    deletes nothing later (hub.eventlog)."""
    state = await store.db[STATE].find_one({"_id": "events"})
    return state["at"] - overlap if state else None  # type: ignore[no-any-return]


class Aggregates:
    def __init__(self, store: Store, history: HistoryService, *, overlap_seconds: float = OVERLAP_SECONDS,
                 recent_seconds: float = RECENT_SECONDS, settle_seconds: float = 1.0,
                 lease_seconds: float = 60.0) -> None:
        self.store = store
        self.history = history
        self.overlap = timedelta(seconds=overlap_seconds)
        self.recent = timedelta(seconds=min(recent_seconds, overlap_seconds))
        self.settle = timedelta(seconds=settle_seconds)
        self.lease = Lease(store, LEASE, lease_seconds)
        #: Applies redone because another process changed the same contribution first.
        self.conflicts = 0
        #: Events this process has applied recently (the overlap re-reads them): id -> at.
        self._seen: dict[ObjectId, datetime] = {}

    async def read_until(self) -> datetime | None:
        return await events_read_until(self.store, self.overlap)

    @property
    def hours(self) -> Any:
        return self.store.db[HOURS]

    @property
    def rollups(self) -> Any:
        return self.store.db[ROLLUPS]

    @property
    def contributions(self) -> Any:
        return self.store.db[CONTRIBUTIONS]

    # ---- one record ------------------------------------------------------------------------------

    async def apply_ticket(self, ticket_id: ObjectId, fenced: bool = False) -> bool:
        """Bring the buckets in line with this ticket as it is now; True if anything changed.

        `fenced`: only while this process holds the batch job's lease (checked by a write to the lease
        in the same transaction, so a rebuild taking the lease aborts an apply that overlaps it)."""
        return await self._apply(Record(TICKET, ticket_id), fenced)

    async def apply_conversation(self, conversation_id: ObjectId, fenced: bool = False) -> bool:
        return await self._apply(Record(CONVERSATION, conversation_id), fenced)

    async def _parts(self, records: list[Record]) -> dict[Record, Parts | None]:
        """Each record's contribution as its ticket or conversation says now (None: a conversation never
        closed, which counts nowhere yet and has nothing stored). One read per collection for all of them:
        an `_id` `$in` is served by secantusd-py's `_id` index (flat from 1,000 to 20,000 documents,
        `benchmarks/query_cost.py`), where a read per record made the batch job's passes cost two commands a
        record (about 0.5 of the 10.5 commands per message of `bench load`'s closed loop)."""
        tickets = await self._by_id(self.store.tickets, [r.id for r in records if r.kind == TICKET], TICKET_FIELDS)
        conversations = await self._by_id(self.store.conversations,
                                          [r.id for r in records if r.kind == CONVERSATION], CONVERSATION_FIELDS)
        parts: dict[Record, Parts | None] = {}
        for record in records:
            if record.kind == TICKET:
                ticket = tickets.get(record.id)
                parts[record] = ticket_parts(ticket, self.history.target(ticket.get("queue"))) if ticket else {}
                continue
            conv = conversations.get(record.id)
            if conv is None:
                parts[record] = {}
            elif conv.get("closed_at") is None:
                # Never closed (`closed_at` is never unset, a reopened conversation keeps it): its contribution
                # need not be read. Most events name such one.
                parts[record] = None
            else:
                parts[record] = conversation_parts(conv)
        return parts

    @staticmethod
    async def _by_id(collection: Any, ids: list[ObjectId], projection: Any = None) -> dict[Any, Doc]:
        if not ids:
            return {}
        return {doc["_id"]: doc async for doc in collection.find({"_id": {"$in": ids}}, projection=projection)}

    async def _look(self, records: list[Record]) -> list[Change]:
        """What applying `records` would write, read outside any transaction: the changes of those whose
        contribution moved.

        Most records the event log names changed nothing the buckets count (a ticket's wait notice, a
        message): such a look costs its share of two or three reads and no transaction. The writes stay
        exact without reading inside their transaction: each contribution's write is guarded by the version
        read (or by its `_id` for a first one), so a contribution changed in between (another process, a
        rebuild) aborts the whole transaction and the record is looked at again; a record changed after it
        was read has an event of its own, applied by a later pass."""
        counted = {r: new for r, new in (await self._parts(records)).items() if new is not None}
        stored = await self._by_id(self.contributions, [r.source for r in counted])
        changes = []
        for record, new in counted.items():
            before = stored.get(record.source)
            change = delta(parts_from_doc(before["parts"]) if before else {}, new)
            if change:
                changes.append(Change(record, new, before, change))
        return changes

    async def _write(self, changes: list[Change], fenced: bool) -> bool:
        """One transaction: the fence, every change's bucket increments summed, their contributions."""
        total: Parts = {}
        for change in changes:
            merge_into(total, change.delta)
        hours, rollups = bucket_increments(total)
        fresh = [c for c in changes if c.stored is None]
        kept = [c for c in changes if c.stored is not None]

        async def work(session: Any) -> bool:
            if fenced:
                held = await self.store.leases.update_one({"_id": LEASE, "holder": self.lease.holder},
                                                          {"$inc": {"applied": len(changes)}}, session=session)
                if held.matched_count == 0:
                    raise LeaseLost(changes[0].record.source)
            await self.hours.bulk_write(_updates(hours), ordered=False, session=session)
            await self.rollups.bulk_write(_updates(rollups), ordered=False, session=session)
            if fresh:
                try:
                    await self.contributions.insert_many(
                        [{"_id": c.record.source, "v": 1, "parts": parts_to_doc(c.new)} for c in fresh],
                        ordered=False, session=session)
                except (DuplicateKeyError, BulkWriteError) as exc:
                    raise Conflict(fresh[0].record.source) from exc
            if kept:
                done = await self.contributions.bulk_write([
                    UpdateOne({"_id": c.record.source, "v": c.version},
                              {"$set": {"v": c.version + 1, "parts": parts_to_doc(c.new)}})
                    for c in kept], ordered=False, session=session)
                if done.matched_count != len(kept):
                    raise Conflict(kept[0].record.source)
            return True

        return await self.store.run_in_transaction(work)

    async def _apply(self, record: Record, fenced: bool) -> bool:
        for _ in range(10):
            changes = await self._look([record])
            if not changes:
                return False
            try:
                return await self._write(changes, fenced)
            except Conflict:
                self.conflicts += 1
        raise RuntimeError(f"aggregates: {record.source} kept changing under us")

    async def _apply_all(self, records: list[Record], fenced: bool) -> int:
        """Apply several records in one transaction (a batch pass names a few dozen every few seconds: one fence,
        one write per bucket collection and the contributions', one commit, instead of five commands each).
        A conflict on any of them aborts it all; each is then applied on its own. Returns how many changed."""
        changes = await self._look(records)
        if not changes:
            return 0
        try:
            await self._write(changes, fenced)
        except Conflict:
            self.conflicts += 1
            return sum([await self._apply(c.record, fenced) for c in changes])
        return len(changes)

    # ---- the batch job ---------------------------------------------------------------------------

    async def catch_up(self, until: datetime | None = None, fenced: bool = True) -> int:
        """Apply every ticket and conversation named by events up to `until` (default now - settle), if
        this process gets (or holds) the batch job's lease. Returns how many records changed the buckets."""
        if fenced and not await self.lease.acquire(utcnow()):
            return 0  # another process does it
        until = until or utcnow() - self.settle
        state = await self.store.db[STATE].find_one({"_id": "events"})
        changed = 0
        for start, end in self.windows(state["at"] if state else None, until):
            async for page in self._events(start, end):
                changed += await self._apply_page(page, fenced)
        await self.store.db[STATE].update_one({"_id": "events"}, {"$set": {"at": until}}, upsert=True)
        horizon = until - 2 * self.overlap
        self._seen = {k: at for k, at in self._seen.items() if at >= horizon}
        return changed

    def windows(self, mark: datetime | None, until: datetime) -> list[tuple[datetime, datetime]]:
        """The spans of event time a pass reads, given the watermark `mark` the pass before left: the new
        events (from `recent` back of the mark to `until`), then the slice whose time is now `overlap` behind,
        [mark - overlap, until - overlap), which the pass before read too early to be sure of it.

        The slices of successive passes tile the log (each starts where the one before ended, the mark), so
        an event is read at least once after `overlap` has passed since its time, when its transaction has
        long committed, whatever the pauses between passes. Until 2026-12-05 every pass read back the whole
        overlap, [mark - overlap, until): about 3,100 events a pass at 40 msg/s for a few dozen records
        (docs/performance.md, "The history's pass reads a slice of the log"), two long reads of the server
        every 5 s that the customers' answers queued behind."""
        if mark is None:
            return [(EPOCH, until)]
        recent = min(mark - self.recent, until)
        late = (mark - self.overlap, min(until - self.overlap, recent))
        return [(recent, until)] + ([late] if late[1] > late[0] else [])

    async def _events(self, start: datetime, end: datetime) -> AsyncIterator[list[Doc]]:
        """The events of [start, end) in pages of PAGE, in time order."""
        while True:
            page = await self.store.events.find(
                {"at": {"$gte": start, "$lt": end}},
                projection={"type": 1, "at": 1, "ticket_id": 1, "conversation_id": 1},
                sort=[("at", 1)], limit=PAGE).to_list()
            yield page
            if len(page) < PAGE:
                return
            last = page[-1]["at"]
            start = last if last > start else start + timedelta(milliseconds=1)

    async def _apply_page(self, page: list[Doc], fenced: bool) -> int:
        """Apply the records a page of events names that this process has not applied for them yet."""
        changed = 0
        tickets: dict[ObjectId, bool] = {}
        conversations: set[ObjectId] = set()
        for event in page:
            if event["_id"] in self._seen or event["type"] in UNCOUNTED:
                continue
            if event.get("ticket_id") is not None:
                tickets[event["ticket_id"]] = tickets.get(event["ticket_id"], False) or event["type"] in CLOSING
            if event.get("conversation_id") is not None:
                conversations.add(event["conversation_id"])
        closed = await self._by_id(self.store.tickets, [t for t, closing in tickets.items() if closing],
                                   {"conversation_ids": 1})
        for ticket in closed.values():
            conversations.update(ticket.get("conversation_ids") or [])
        records = [Record(TICKET, t) for t in tickets] + [Record(CONVERSATION, c) for c in conversations]
        for at in range(0, len(records), BATCH):
            changed += await self._apply_all(records[at:at + BATCH], fenced)
        for event in page:
            self._seen[event["_id"]] = event["at"]
        return changed

    async def run(self, interval: float) -> None:
        """Every `interval` seconds, if this process holds the lease: catch up with the event log."""
        while True:
            try:
                await self.catch_up()
            except LeaseLost:
                log.info("aggregates: the lease went to another holder (a rebuild); pausing")
            except PyMongoError as exc:
                log.warning("aggregates: database unavailable (%s)", exc)
            await asyncio.sleep(interval)

    # ---- rebuild -----------------------------------------------------------------------------------

    async def rebuild(self, since: datetime | None = None, *, batch: int = 500) -> dict[str, int]:
        """Recompute the buckets from the raw records: all of them, or the hours from `since` on (widened to the
        first day of the 64-day block that holds it).

        Holds the batch job's lease while it runs (the running hubs' batch jobs pause); records changed
        meanwhile are applied by the batch job after it, from the event log. Returns what it wrote."""
        started = utcnow()
        await self._take_lease()
        # from the start of the largest block holding `since`: the blocks' documents are rebuilt whole
        since = block_of(floor_day(since), max(BLOCK_DAYS)) if since else None
        try:
            total: Parts = {}
            contributions: list[Doc] = []
            kept = 0
            old_docs: dict[str, list[Doc]] = {}
            if since is not None:
                async for doc in self.contributions.find({}, projection={"parts": 1}, comment=ONE_TIME):
                    early = [p for p in doc["parts"] if datetime.fromisoformat(p["k"][0]) < since]
                    if early:
                        old_docs[doc["_id"]] = early
            await self.contributions.delete_many({}, comment=ONE_TIME)
            if since is None:
                await self.hours.delete_many({}, comment=ONE_TIME)
                await self.rollups.delete_many({}, comment=ONE_TIME)
            else:
                await self.hours.delete_many({"t": {"$gte": since}})
                await self.rollups.delete_many({"t": {"$gte": since}})

            async def flush() -> None:
                nonlocal contributions
                if contributions:
                    await _insert_chunk(self.contributions, contributions)
                    contributions = []

            async def take(source: str, parts: Parts) -> None:
                nonlocal kept
                recent = {k: c for k, c in parts.items() if since is None or datetime.fromisoformat(k[0]) >= since}
                merge_into(total, recent)
                stored = parts_to_doc(recent) + old_docs.pop(source, [])
                if stored:
                    contributions.append({"_id": source, "v": 1, "parts": stored})
                    kept += 1
                if len(contributions) >= batch:
                    await flush()
                    await self._take_lease()

            async for ticket in self.store.tickets.find({}, projection=TICKET_FIELDS, comment=ONE_TIME):
                await take(f"t:{ticket['_id']}", ticket_parts(ticket, self.history.target(ticket.get("queue"))))
            async for conv in self.store.conversations.find({"closed_at": {"$ne": None}},
                                                            projection=CONVERSATION_FIELDS, comment=ONE_TIME):
                await take(f"c:{conv['_id']}", conversation_parts(conv))
            for source, early in old_docs.items():  # records gone since: keep what they added before `since`
                contributions.append({"_id": source, "v": 1, "parts": early})
            await flush()
            hours, rollups = bucket_increments(total)
            written = await self._insert(self.hours, hours, batch) + await self._insert(self.rollups, rollups, batch)
            await self.store.db[STATE].update_one({"_id": "events"}, {"$set": {"at": started}}, upsert=True)
        finally:
            await self.store.leases.update_one({"_id": LEASE, "holder": self.lease.holder},
                                               {"$set": {"until": utcnow()}})
        return {"records": kept, "buckets": written}

    async def _take_lease(self) -> None:
        """Take the batch job's lease from whoever holds it (a hub's batch job stops at its next apply)."""
        await self.store.leases.update_one(
            {"_id": LEASE}, {"$set": {"holder": self.lease.holder, "until": utcnow() + timedelta(minutes=10),
                                      "taken_at": utcnow()}}, upsert=True)

    @staticmethod
    async def _insert(collection: Any, increments: dict[str, tuple[Doc, Counters]], batch: int) -> int:
        docs: Iterable[Doc] = ({"_id": _id, **fields, "c": _nested(counters)} for _id, (fields, counters)
                               in increments.items())
        chunk: list[Doc] = []
        count = 0
        for doc in docs:
            chunk.append(doc)
            if len(chunk) >= batch:
                await _insert_chunk(collection, chunk)
                count += len(chunk)
                chunk = []
        if chunk:
            await _insert_chunk(collection, chunk)
            count += len(chunk)
        return count


async def agent_blocks_from_days(store: Store, batch: int = 500) -> int:
    """Write the `agents` rollups' 4/16/64-day blocks as the sums of its day documents (what
    `bucket_increments` adds to them, for buckets built before the blocks existed). Returns the blocks written."""
    rollups = store.db[ROLLUPS]
    await rollups.delete_many({"dim": "agents", "g": {"$in": [f"d{size}" for size in BLOCK_DAYS]}}, comment=ONE_TIME)
    blocks: dict[str, tuple[Doc, Counters]] = {}
    async for doc in rollups.find({"dim": "agents", "val": None, "g": "d"}, projection={"t": 1, "c": 1},
                                  comment=ONE_TIME):
        day = doc["t"] if doc["t"].tzinfo else doc["t"].replace(tzinfo=UTC)
        flat = {f"{agent}.{name}": value for agent, counters in doc["c"].items() for name, value in counters.items()}
        for size in BLOCK_DAYS:
            t = block_of(day, size)
            slot = blocks.setdefault(json.dumps([f"d{size}", "agents", None, t.isoformat()], separators=(",", ":")),
                                     ({"g": f"d{size}", "dim": "agents", "val": None, "t": t}, {}))[1]
            for name, value in flat.items():
                slot[name] = slot.get(name, 0) + value
    return await Aggregates._insert(rollups, blocks, batch)


async def _insert_chunk(collection: Any, docs: list[Doc], attempts: int = 5) -> None:
    """Insert documents with deterministic ids, again after a dropped connection: the ones the failed attempt
    wrote come back as duplicates of themselves, which is what they are."""
    for attempt in range(attempts):
        try:
            await collection.insert_many(docs, ordered=False)
            return
        except BulkWriteError as exc:
            if all(e.get("code") == 11000 for e in exc.details.get("writeErrors", [])) and \
                    not exc.details.get("writeConcernErrors"):
                return
            raise
        except AutoReconnect:
            if attempt == attempts - 1:
                raise
            log.warning("aggregates: rebuild lost the database connection; retrying a batch")
            await asyncio.sleep(1 + attempt)
