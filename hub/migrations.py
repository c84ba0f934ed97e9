"""The database's schema version, and the migrations that bring an older database up to it.

Every hub process runs `migrate` at start, after the indexes. The version is one document in
`settings` (`{_id: "schema", version: N}`). A database without it was written by a release
from before versions (up to the release of 2026-11-30), or is new: version 0 either way (on an
empty database every migration finds nothing to do).

Each migration is idempotent (it only touches documents still in the old shape) and the
version moves only after a migration finished, so a hub stopped halfway runs the rest on its
next start: resumable. One process migrates at a time (a lease); the others wait for the
version to arrive. A database newer than this release is refused: old code on new data would
silently drop what it does not know.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pymongo.errors import OperationFailure

from hub.aggregates import Aggregates
from hub.audit import AuditLog
from hub.contactbook import ContactBook
from hub.history import HistoryService
from hub.leases import Lease
from hub.models import LIVE_CHANNELS, utcnow
from hub.queuebook import SEED_ID, stored_fields
from hub.store import ONE_TIME, Doc, Store
from hub.ticketindex import ACTIVE, TicketIndex, word_document
from hub.tickets import QueueConfig

log = logging.getLogger(__name__)

SCHEMA_ID = "schema"
UNUSED_EVENT_INDEXES = ("type_1_at_1", "ticket_id_1_at_1")
OLD_TICKET_WORD_INDEXES = ("words_1_number_-1", "active_words_1_number_-1")

LEASE = "schema-migration"
LEASE_SECONDS = 300.0


class SchemaTooNew(Exception):
    """The database was written by a newer release than this one."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    #: (the store, the configured queues) -> how many documents it changed (for the log)
    apply: Callable[[Store, dict[str, QueueConfig]], Awaitable[int]]


async def _ticket_list_fields(store: Store, queues: dict[str, QueueConfig]) -> int:
    """Tickets from before the searchable list get their list fields (`hub.ticketindex`)."""
    return await TicketIndex(store).backfill()


async def _customer_names_from_ids(store: Store, queues: dict[str, QueueConfig]) -> int:
    """Contacts once named after their channel identity (`demo:visitor:…`) lose that name.

    The desk then shows their email, phone or "Visitor N" (`hub.display`) instead of an id.
    """
    changed = 0
    async for contact in store.contacts.find({"name": {"$regex": r"^[\w.-]+:visitor:"}},
                                             projection={"name": 1, "identities": 1}, comment=ONE_TIME):
        ids = {i.get("external_id") for i in contact.get("identities") or []}
        if contact.get("name") in ids:
            result = await store.contacts.update_one({"_id": contact["_id"], "name": contact["name"]},
                                                     {"$unset": {"name": "", "name_lower": ""}})
            changed += result.modified_count
    return changed


async def _drop_old_login_counters(store: Store, queues: dict[str, QueueConfig]) -> int:
    """`login_failures` (a hard lockout anyone could impose) gave way to `login_throttle`."""
    if "login_failures" not in await store.db.list_collection_names():
        return 0
    count = await store.db["login_failures"].count_documents({})
    await store.db.drop_collection("login_failures")
    return count


async def _contact_search_keys(store: Store, queues: dict[str, QueueConfig]) -> int:
    """Contacts from before contact search get their search keys and a visitor number (`hub.contactbook`)."""
    return await ContactBook(store, TicketIndex(store), AuditLog(store)).backfill()


async def _metric_buckets(store: Store, queues: dict[str, QueueConfig]) -> int:
    """The supervisor history's buckets, computed once from every ticket and conversation so far.

    After this the hubs keep them up to date from the event log (`hub.aggregates`). On a large
    database this is the slow step of the upgrade (about 2 minutes per 20,000 tickets measured on
    2 cores); `switchboard metrics rebuild` does the same by hand.
    """
    written = await Aggregates(store, HistoryService(store, queues)).rebuild()
    return sum(written.values())


async def _agent_blocks(store: Store, queues: dict[str, QueueConfig]) -> int:
    """The agent table's 4/16/64-day blocks (`hub.aggregates`), summed from its day buckets (idempotent:
    the blocks are dropped and written again; the batch job keeps them up to date after this)."""
    from hub.aggregates import agent_blocks_from_days

    return await agent_blocks_from_days(store)


async def _queue_definitions(store: Store, queues: dict[str, QueueConfig]) -> int:
    """Queues stored before the queue book held only what the desk listed (title, targets, routing) and
    were re-written from the configuration at every start: the configuration's definition fills in the
    other fields, and the stored names count as seeded (the book never re-seeds them)."""
    changed = 0
    names = []
    async for doc in store.queues.find({}):
        names.append(doc["name"])
        q = queues.get(doc["name"]) or QueueConfig(name=doc["name"])
        missing = {k: v for k, v in stored_fields(q).items() if k not in doc}
        if missing:
            await store.queues.update_one({"_id": doc["_id"]}, {"$set": missing})
            changed += 1
    if names:
        await store.settings.update_one({"_id": SEED_ID}, {"$addToSet": {"names": {"$each": names}}}, upsert=True)
    return changed


async def _unused_event_indexes(store: Store, queues: dict[str, QueueConfig]) -> int:
    """The event log's `(type, at)` and `(ticket_id, at)` indexes: no query reads the log by type or by ticket
    (the aggregates' batch job reads it by time, the realtime bus through the change stream), and every
    ticket and conversation change writes events."""
    dropped = 0
    existing = await store.events.index_information()
    for name in UNUSED_EVENT_INDEXES:
        if name in existing:
            with suppress(OperationFailure):  # another hub process starting at the same time dropped it
                await store.events.drop_index(name)
                dropped += 1
    return dropped


async def _ticket_words_apart(store: Store, queues: dict[str, QueueConfig]) -> int:
    """Tickets' search words indexed in `ticket_words` (hub.ticketindex), one document per ticket with all its
    words, and the tickets' own word indexes dropped: the embedded server rewrote those entries on every write
    of a ticket (benchmarks/ticket_write_cost.py). One read of the tickets; resumable (a ticket that has its
    word documents already is left)."""
    written = 0
    batch: list[Doc] = []

    async def index(tickets: list[Doc]) -> int:
        have = {d["ticket_id"] async for d in store.ticket_words.find(
            {"ticket_id": {"$in": [t["_id"] for t in tickets]}}, projection={"ticket_id": 1})}
        docs = [d for t in tickets if t["_id"] not in have and (d := word_document(t)) is not None]
        if docs:
            await store.ticket_words.insert_many(docs)
        return len(docs)

    async for ticket in store.tickets.find({}, projection={"number": 1, "words": 1, "status": 1}, comment=ONE_TIME):
        batch.append(ticket)
        if len(batch) == 500:
            written += await index(batch)
            batch = []
    if batch:
        written += await index(batch)
    existing = await store.tickets.index_information()
    for name in OLD_TICKET_WORD_INDEXES:
        if name in existing:
            with suppress(OperationFailure):  # another hub process starting at the same time dropped it
                await store.tickets.drop_index(name)
    return written


async def _live_words_flag(store: Store, queues: dict[str, QueueConfig]) -> int:
    """Tickets' second copy of their words (`active_words`, the live desk's, unindexed since migration 9)
    replaced by a flag (`words_live`, hub.ticketindex): every write of a ticket carried the copy. One read
    of the tickets, then writes in batches by status; resumable (a ticket with the flag is left)."""
    by_state: dict[bool, list[Any]] = {True: [], False: []}
    async for ticket in store.tickets.find({"words_live": {"$exists": False}}, projection={"status": 1},
                                           comment=ONE_TIME):
        by_state[ticket.get("status") in ACTIVE].append(ticket["_id"])
    return sum([await store.update_in_batches(store.tickets, "_id", ids, {
        "$set": {"words_live": live}, "$unset": {"active_words": ""}}) for live, ids in by_state.items()])


async def _addresses_out_of_events(store: Store, queues: dict[str, QueueConfig]) -> int:
    """The handoff events of channels without a live connection carried the thread key, the customer's address
    there (a phone number on SMS, a chat id on Telegram), in a log that erasure does not rewrite; they no
    longer do (hub.models.LIVE_CHANNELS). One read of the log; resumable (an event without it is left)."""
    ids = [e["_id"] async for e in store.events.find({"type": "conversation.handoff"},
                                                     projection={"channel": 1, "thread_key": 1}, comment=ONE_TIME)
           if e.get("thread_key") is not None and e.get("channel") not in LIVE_CHANNELS]
    return await store.update_in_batches(store.events, "_id", ids, {"$unset": {"thread_key": ""}})


#: In order. Add new ones at the end with the next number; never change a released one.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "ticket list fields (search, filters, sorts)", _ticket_list_fields),
    Migration(2, "customer names that were channel ids", _customer_names_from_ids),
    Migration(3, "old login-failure counters dropped", _drop_old_login_counters),
    Migration(4, "contact search keys and visitor numbers", _contact_search_keys),
    Migration(5, "supervisor history buckets from the records so far", _metric_buckets),
    Migration(6, "agent table blocks of 4, 16 and 64 days from the day buckets", _agent_blocks),
    Migration(7, "queue definitions in the database (hub.queuebook)", _queue_definitions),
    Migration(8, "unused event-log indexes dropped", _unused_event_indexes),
    Migration(9, "ticket search words indexed apart from the tickets", _ticket_words_apart),
    Migration(10, "tickets' live copy of their words replaced by a flag", _live_words_flag),
    Migration(11, "customers' channel addresses out of the event log", _addresses_out_of_events),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


async def schema_version(store: Store) -> int | None:
    """The stored version; None for a database that has none yet."""
    doc = await store.settings.find_one({"_id": SCHEMA_ID})
    return int(doc["version"]) if doc and isinstance(doc.get("version"), int) else None


async def _set_version(store: Store, version: int) -> None:
    await store.settings.update_one({"_id": SCHEMA_ID},
                                    {"$set": {"version": version, "migrated_at": utcnow()}}, upsert=True)


async def mark_current(store: Store) -> None:
    """Record that the database is already in this release's shape (a bulk load that writes every field the
    migrations would add, like `switchboard bench reports`' seed): a hub started on it migrates nothing."""
    await _set_version(store, SCHEMA_VERSION)


async def migrate(store: Store, queues: dict[str, QueueConfig] | None = None, wait_seconds: float = 600.0,
                  poll_seconds: float = 0.5) -> list[str]:
    """Bring the database to `SCHEMA_VERSION`; the names of the migrations this process ran."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    lease = Lease(store, LEASE, LEASE_SECONDS)
    ran: list[str] = []
    while True:
        version = await schema_version(store)
        if version is not None and version > SCHEMA_VERSION:
            raise SchemaTooNew(f"the database has schema version {version}, written by a newer Switchboard; "
                               f"this release knows up to {SCHEMA_VERSION}: upgrade Switchboard or restore a "
                               f"backup made by this release")
        if version == SCHEMA_VERSION:
            return ran
        if await lease.acquire(utcnow()):
            break
        if asyncio.get_running_loop().time() > deadline:  # another process migrates a large database
            raise TimeoutError(f"another hub process has been migrating the database for over {wait_seconds:g}s")
        await asyncio.sleep(poll_seconds)  # the version document has no event to wait on
    try:
        version = await schema_version(store) or 0
        for migration in MIGRATIONS:
            if migration.version <= version:
                continue
            await lease.acquire(utcnow())  # extend it before each step
            changed = await migration.apply(store, queues or {})
            await _set_version(store, migration.version)
            log.info("database migrated to schema %d: %s (%d documents)", migration.version, migration.name, changed)
            ran.append(migration.name)
    finally:
        await store.leases.update_one({"_id": LEASE, "holder": lease.holder},
                                      {"$set": {"until": utcnow() - timedelta(seconds=1)}})
    return ran
