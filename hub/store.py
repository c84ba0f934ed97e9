"""The conversation store: collections, indexes and the few queries the hub runs.

This is the one module of `hub/` that speaks to the database driver (PyMongo's
native asyncio API). Every query below is served by an index created in
`ensure_indexes`; `tests/test_store_indexes.py` checks the plans.

The desk's ticket list (`hub.ticketindex`) is the exception to "one index per query shape":
its filters combine freely, so tickets carry denormalised `keys` (one string per facet) and
sortable `wait_rank` / `sla_rank`, their search words are indexed in `ticket_words` (documents
written once per write that brings words, not with every write of the ticket), and each list query
seeds from one of them; `benchmarks/ticket_list.py` measures the cost at 1,000 and 20,000 tickets.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from typing import Any, TypeVar

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument, WriteConcern
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure, PyMongoError

from hub.laterwrites import LaterWrite, together_supported, write_all
from hub.numbers import NumberBlocks

log = logging.getLogger(__name__)

Doc = dict[str, Any]
T = TypeVar("T")

#: Index hints for queries with predicates beyond an index's keys. MongoDB would pick the
#: index on its own; secantusd-py's planner only does so when every filtered field is in
#: the index, and scans otherwise. A hint is honoured by both (and fails loudly if the
#: index is missing), so some updates and deletes with residual filters carry one. But
#: secantusd-py walks the whole hinted index for a hinted *find* (a find by `_id` 0.9 ms
#: unhinted, 650 ms hinted at 20,000 documents), while hinted updates and deletes stay flat:
#: no find carries a hint, each filters on an index's own fields and checks the rest in
#: Python (tests/test_query_cost.py times them as the data grows).
BY_ID = [("_id", 1)]
OUTBOX_DUE = [("status", 1), ("next_attempt_at", 1)]
TICKETS_BY_CONTACT = [("contact_id", 1), ("created_at", -1)]
MESSAGES_BY_CONVERSATION = [("conversation_id", 1), ("created_at", 1)]
CONVERSATIONS_BY_THREAD = [("channel", 1), ("thread_key", 1)]
CONVERSATIONS_BY_CLOSED = [("channel", 1), ("closed_at", 1)]
CONVERSATIONS_BY_CONTACT = [("contact_id", 1), ("last_message_at", -1)]
#: A file is attached to one message; a forwarded or re-sent one to a few more.
MAX_FILE_HOLDERS = 50

#: The write that makes a message "accepted": acknowledged only once it is in the journal on
#: disk (j: secantusd-py and mongod fsync the log before answering) and, on a replica set, on
#: a majority of members (so a failover cannot roll it back). Every write the server committed
#: before it is covered too: the journal and the oplog are sequential.
ACCEPTED = WriteConcern(w="majority", j=True)

#: Values (ids, mostly) one `update_in_batches` / `delete_in_batches` transaction takes: its writes
#: are held in the server's memory until it commits, and a conflict repeats only the batch. On
#: secantusd-py an `_id` `$in` costs more per value the longer it is: 2,000 messages updated by id at
#: 1.07 ms each in batches of 500, 0.76 in batches of 100, deleted at 0.63 and 0.33 ms (20,000 in the
#: collection, a scratch script, 2026-12-05), and a batch holds the collection a fifth as long.
WRITE_BATCH = 100

#: The comment on a read or delete that walks a whole collection once on purpose (a schema migration, a
#: rebuild of the metrics), never per request: tests/query_plans.py lets these scan.
ONE_TIME = "one-time whole-collection pass"

#: Collections the realtime bus follows with a change stream.
WATCHED_COLLECTIONS = ("messages", "tickets", "events", "ticket_activity", "ticket_reads")


def oid(value: str | ObjectId) -> ObjectId:
    """Parse an id coming from outside; a malformed one raises `NotFound`-worthy ValueError."""
    if isinstance(value, ObjectId):
        return value
    if not ObjectId.is_valid(value):
        raise ValueError(f"not an id: {value!r}")
    return ObjectId(value)


class Store:
    """Owns the client and the database; hands out collections to the hub's services."""

    def __init__(self, uri: str, db_name: str = "switchboard", event_listeners: list[Any] | None = None) -> None:
        self.client: AsyncMongoClient[Doc] = AsyncMongoClient(
            uri, tz_aware=True, serverSelectionTimeoutMS=5000, connect=False, event_listeners=event_listeners or []
        )
        self.db: AsyncDatabase[Doc] = self.client[db_name]
        #: Callbacks to run once the transaction of a session (by id) commits (`on_commit`).
        self._after_commit: dict[int, list[Callable[[], None]]] = {}
        #: Writes (events among them) made inside each `run_in_transaction` session that wait for its last
        #: round trip, just before it commits (hub.laterwrites).
        self._later: dict[int, list[LaterWrite]] = {}
        #: Whether those go in one client-level `bulkWrite` (MongoDB 8.0+, secantusd-py); None: ask the server.
        self.together: bool | None = None
        #: Ticket and contact numbers come from blocks reserved with one command (hub.numbers).
        self.numbers = NumberBlocks(self._increment)
        self.contacts = self.db["contacts"]
        self.conversations = self.db["conversations"]
        self.messages = self.db["messages"]
        #: `messages` for the insert that accepts an inbound message (see ACCEPTED).
        self.accepted_messages = self.messages.with_options(write_concern=ACCEPTED)
        self.tickets = self.db["tickets"]
        #: hub.ticketindex: a ticket's search words, one document per write that brought some
        self.ticket_words = self.db["ticket_words"]
        self.queues = self.db["queues"]
        self.agents = self.db["agents"]
        self.sessions = self.db["sessions"]
        self.presence = self.db["presence"]
        self.responses = self.db["responses"]
        self.login_throttle = self.db["login_throttle"]  # hub.login_throttle
        self.events = self.db["events"]
        self.outbox = self.db["outbox"]
        self.counters = self.db["counters"]
        self.intents = self.db["intents"]
        self.models = self.db["models"]
        self.settings = self.db["settings"]
        self.api_tokens = self.db["api_tokens"]  # hub.apitokens
        self.webhooks = self.db["webhooks"]  # hub.webhooks: endpoints
        self.webhook_deliveries = self.db["webhook_deliveries"]  # hub.webhooks: one record per attempt
        self.audit = self.db["audit"]  # hub.audit: append-only
        self.leases = self.db["leases"]  # hub.leases: once-across-processes jobs
        self.wait_notices = self.db["wait_notices"]  # hub.waitannouncer: what each waiting customer was told
        self.saved_views = self.db["saved_views"]  # hub.savedviews: each desk user's views of the list (_id: user)
        self.ticket_fields = self.db["ticket_fields"]  # hub.ticketfields: admins' ticket fields (_id: key)
        self.ticket_activity = self.db["ticket_activity"]  # hub.activity: who views / types on a ticket now
        self.ticket_reads = self.db["ticket_reads"]  # hub.ticketreads: when each agent last read each ticket
        self.done_news = self.db["done_news"]  # hub.donenews: who hears that a colleague solved a ticket, for a week
        self.news_mail = self.db["news_mail"]  # hub.newsmail: the news each agent was emailed, per ticket
        self.calendars = self.db["calendars"]  # hub.sla: business-hours calendars (_id: name)
        self.kb_articles = self.db["kb_articles"]  # hub.knowledge: help-center articles
        self.automation_rules = self.db["automation_rules"]  # hub.automation: admins' rules
        self.automation_runs = self.db["automation_runs"]  # hub.automation: one per (rule, event), the claim
        self.macros = self.db["macros"]  # hub.automation: agents' one-click actions
        self.kb_feedback = self.db["kb_feedback"]  # hub.knowledge: one "was it helpful?" per visitor and article
        self.totp = self.db["totp"]  # hub.totp: each user's secret, last accepted step, recovery code digests
        self.login_pending = self.db["login_pending"]  # hub.totp: logins waiting for their code (_id: digest)

    async def close(self) -> None:
        await self.client.close()

    async def ping(self) -> bool:
        try:
            await self.client.admin.command("ping")
        except PyMongoError:
            return False
        return True

    async def ensure_indexes(self) -> None:
        """Create every index the hub's queries rely on (idempotent, run at start-up)."""
        await self.contacts.create_index(
            [("identities.channel", ASCENDING), ("identities.external_id", ASCENDING)],
            unique=True,
            name="identity_unique",
        )
        await self.contacts.create_index("emails")
        await self.contacts.create_index("phones")
        await self.contacts.create_index([("name_lower", ASCENDING)])
        # hub.contactbook: contact search seeds from one key and pages back by contact number
        await self.contacts.create_index([("search_keys", ASCENDING), ("number", DESCENDING)])
        await self.contacts.create_index("merged_into", sparse=True)  # hub.privacy: erase what was merged in
        await self.conversations.create_index(
            [("channel", ASCENDING), ("thread_key", ASCENDING)],
            unique=True,
            partialFilterExpression={"open": True},
            name="open_thread_unique",
        )
        await self.conversations.create_index([("channel", ASCENDING), ("thread_key", ASCENDING)])
        await self.conversations.create_index("token", unique=True)
        await self.conversations.create_index([("contact_id", ASCENDING), ("last_message_at", DESCENDING)])
        await self.conversations.create_index([("started_at", ASCENDING)])
        await self.conversations.create_index([("state", ASCENDING), ("started_at", ASCENDING)])  # hub.history bot_open
        await self.conversations.create_index("abandon_at")  # hub.departures
        await self.conversations.create_index(CONVERSATIONS_BY_CLOSED)  # hub.retention
        await self.messages.create_index(
            [("channel", ASCENDING), ("external_id", ASCENDING)], unique=True, name="channel_external_unique"
        )
        await self.messages.create_index([("conversation_id", ASCENDING), ("created_at", ASCENDING)])
        await self.messages.create_index(
            [("pending_bot", ASCENDING), ("created_at", ASCENDING)],
            partialFilterExpression={"pending_bot": True},
            name="pending_bot",
        )
        # hub.pipeline: one bot answer per customer message, even when two processes answer it (a lease ran out)
        await self.messages.create_index("answer_to", unique=True, name="one_answer",
                                         partialFilterExpression={"answer_to": {"$exists": True}})
        await self.messages.create_index([("review.reason", ASCENDING), ("created_at", DESCENDING)])
        # hub.metrics article deflection: only knowledge-base turns carry `nlu.kb`
        await self.messages.create_index([("nlu.kb", ASCENDING), ("created_at", ASCENDING)], sparse=True,
                                         name="nlu_kb")
        await self.messages.create_index("provider_id", sparse=True)
        await self.messages.create_index("attachments.blob_id")  # who may download a file
        await self.tickets.create_index("number", unique=True)
        await self.tickets.create_index([("status", ASCENDING), ("queue", ASCENDING), ("created_at", ASCENDING)])
        await self.tickets.create_index([("assignee_id", ASCENDING), ("status", ASCENDING)])
        await self.tickets.create_index([("contact_id", ASCENDING), ("created_at", DESCENDING)])
        await self.tickets.create_index("conversation_ids")
        await self.tickets.create_index("merged_conversation_ids", sparse=True)  # hub.privacy: merged tickets
        await self.tickets.create_index([("created_at", ASCENDING)])
        await self.tickets.create_index([("queue", ASCENDING), ("first_agent_reply_at", DESCENDING)])
        # hub.ticketindex: the desk list. `keys` holds one string per facet (status, queue, assignee,
        # channel, priority, tag; again prefixed `active.` while the ticket is active), `words` the
        # searchable words; each list query seeds from one key and pages by ticket number or rank.
        await self.tickets.create_index([("keys", ASCENDING), ("number", DESCENDING)])
        await self.tickets.create_index([("keys", ASCENDING), ("wait_rank", ASCENDING)])
        await self.tickets.create_index([("keys", ASCENDING), ("sla_rank", ASCENDING)])
        # the search words: in documents of their own (hub.ticketindex), since the embedded server rewrites every
        # index entry of a ticket on each of its writes (benchmarks/ticket_write_cost.py)
        await self.ticket_words.create_index("ticket_id")
        await self.ticket_words.create_index([("words", ASCENDING), ("number", DESCENDING)])
        await self.ticket_words.create_index([("live_words", ASCENDING), ("number", DESCENDING)])
        await self.tickets.create_index("sla_next")  # hub.sla: the watcher's next warning or breach
        await self.automation_rules.create_index("enabled")  # hub.automation: the cache's read
        await self.automation_runs.create_index([("ticket_id", ASCENDING), ("at", ASCENDING)])  # the loop guard
        await self.tickets.create_index([("status", ASCENDING), ("updated_at", ASCENDING)])  # automation: idle
        await self.calendars.create_index("queues")  # hub.sla: a queue's business-hours calendar
        await self.queues.create_index("name", unique=True)
        await self.agents.create_index("username", unique=True)
        await self.agents.create_index("presence")
        # hub.presence: one document per open desk connection
        await self.presence.create_index([("agent_id", ASCENDING), ("seen_at", ASCENDING)])
        await self.presence.create_index([("customer", ASCENDING), ("seen_at", ASCENDING)])
        await self.presence.create_index("instance")
        await self.responses.create_index("shortcut", unique=True)  # hub.responses
        await self.kb_articles.create_index("slug", unique=True)  # hub.knowledge
        await self.kb_articles.create_index([("published", ASCENDING), ("language", ASCENDING),
                                             ("category", ASCENDING), ("title", ASCENDING)])
        await self.kb_articles.create_index([("updated_at", DESCENDING)])
        await self.kb_feedback.create_index([("article_id", ASCENDING), ("visitor", ASCENDING)], unique=True)
        await self.presence.create_index("seen_at")
        await self.sessions.create_index("expires_at", expireAfterSeconds=0)
        await self.sessions.create_index("agent_id")
        await self.db["password_links"].create_index("agent_id")  # hub.useradmin: one live link per user
        await self.db["password_links"].create_index("expires_at", expireAfterSeconds=0)
        await self.login_throttle.create_index("expires_at", expireAfterSeconds=0)
        await self.login_pending.create_index("expires_at", expireAfterSeconds=0)  # hub.totp
        await self.login_pending.create_index("agent_id")
        # hub.aggregates reads the event log by time; nothing reads it by type or ticket (migration 8 dropped
        # those two indexes: each cost every event written and ~7 % of the index build of a large database)
        await self.events.create_index([("at", ASCENDING)])
        await self.outbox.create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])
        await self._unique_message_per_outbox_entry()
        await self.outbox.create_index("webhook_id", sparse=True)
        await self.outbox.create_index("contact_id", sparse=True)  # hub.privacy: erase webhook bodies
        # hub.outbox: a conversation's unsent entries, so that its messages go out in order
        await self.outbox.create_index([("conversation_id", ASCENDING), ("status", ASCENDING)])
        await self.api_tokens.create_index("hash", unique=True)
        await self.api_tokens.create_index([("owner_id", ASCENDING), ("created_at", DESCENDING)])
        await self.api_tokens.create_index([("created_at", DESCENDING)])
        await self.webhooks.create_index([("events", ASCENDING), ("active", ASCENDING)])
        await self.webhooks.create_index([("active", ASCENDING), ("created_at", ASCENDING)])  # loaded at start
        await self.webhook_deliveries.create_index([("webhook_id", ASCENDING), ("at", DESCENDING)])
        await self.intents.create_index("name", unique=True)
        # hub.audit: newest first, by action or by actor
        await self.audit.create_index([("at", DESCENDING)])
        await self.audit.create_index([("action", ASCENDING), ("at", DESCENDING)])
        await self.audit.create_index([("actor.id", ASCENDING), ("at", DESCENDING)])
        await self.wait_notices.create_index([("queue", ASCENDING)])
        await self.ticket_activity.create_index([("ticket_id", ASCENDING)])
        await self.ticket_activity.create_index("expires_at", expireAfterSeconds=0)
        await self.ticket_reads.create_index("expires_at", expireAfterSeconds=0)
        await self.done_news.create_index("agent_id")  # hub.donenews: an agent's notes, read with their news
        await self.done_news.create_index("expires_at", expireAfterSeconds=0)
        await self.tickets.create_index("mentioned.ids", sparse=True)  # hub.ticketreads: who was mentioned
        await self.tickets.create_index("followers", sparse=True)  # hub.ticketreads: who follows a ticket
        await self.wait_notices.create_index([("thread_key", ASCENDING), ("channel", ASCENDING)])
        await self.models.create_index([("created_at", DESCENDING)])
        # the bot trainer's workbench (bot.versions, bot.model_sync)
        await self.db["training_versions"].create_index("number", unique=True)
        await self.models.create_index("number", unique=True)
        await self.db["training_jobs"].create_index([("started_at", DESCENDING)])
        await self.db["evaluations"].create_index([("created_at", DESCENDING)])

        # hub.aggregates: the history's buckets (rolled up by dimension and day; fine per hour)
        await self.db["metric_rollups"].create_index([("dim", ASCENDING), ("val", ASCENDING), ("g", ASCENDING),
                                                      ("t", ASCENDING)])
        await self.db["metric_hours"].create_index([("t", ASCENDING)])
        await self.db["metric_hours"].create_index([("agent", ASCENDING), ("t", ASCENDING)])
        await self.db["metric_hours"].create_index([("queue", ASCENDING), ("t", ASCENDING)])

    async def _unique_message_per_outbox_entry(self) -> None:
        """One outbox entry per message; webhook entries have no message (so the index is partial).

        Databases created before webhooks have a plain unique index, which would allow only
        one entry without a message: it is replaced.
        """
        if "message_id_1" in await self.outbox.index_information():
            with suppress(OperationFailure):  # another hub process starting at the same time dropped it
                await self.outbox.drop_index("message_id_1")
        await self.outbox.create_index("message_id", unique=True, name="message_id_unique",
                                       partialFilterExpression={"message_id": {"$exists": True}})

    async def run_in_transaction(self, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        """Run `work` in a transaction, retrying the whole of it on transient errors.

        The session is not causally consistent: a retried attempt would otherwise send `readConcern:
        {afterClusterTime}` with its first command, which secantusd-py refuses on a `bulkWrite` (the waiting
        writes are the first command of an attempt whose work wrote nothing else). The session lives for one
        transaction's attempts, all on the primary, and an aborted attempt leaves nothing to read back: causal
        consistency adds nothing to it."""
        callbacks: list[Callable[[], None]] = []
        later: list[LaterWrite] = []

        async def attempt(session: AsyncClientSession) -> T:
            callbacks.clear()  # a retried attempt starts again: what the aborted one queued never happened
            later.clear()
            self._after_commit[id(session)] = callbacks
            self._later[id(session)] = later
            result = await work(session)
            await self.flush(session)  # the writes that waited, in one command, just before the commit
            return result

        async with self.client.start_session(causal_consistency=False) as session:
            try:
                result = await session.with_transaction(attempt)
            finally:
                self._after_commit.pop(id(session), None)
                self._later.pop(id(session), None)
        for callback in callbacks:
            callback()
        return result

    async def update_in_batches(self, collection: Any, field: str, values: Sequence[Any], update: Doc, *,
                                condition: Doc | None = None, hint: Any = None) -> int:
        """Update the documents whose `field` is one of `values` (and that meet `condition`), a
        transaction per `WRITE_BATCH` values; returns how many changed.

        The way to write many documents of a collection that transactions also write (messages,
        conversations, tickets, outbox) outside a transaction of the caller's. secantusd-py runs a
        plain multi-document update in chunks and retries a chunk's write conflict *while holding the
        collection's lock*; a transaction that wrote one of those documents and has another statement
        for the same collection (processing updates the customer's message and inserts the answer) waits
        for that lock, and neither ever finishes: every write to the collection stops
        (docs/performance.md, "Every many-document write on a busy collection"). In a transaction the
        conflict aborts at once, the lock is let go and the batch is retried. On MongoDB it costs a
        commit per batch.
        """
        return await self._in_batches(values, "modified_count", lambda among, session: collection.update_many(
            {field: among, **(condition or {})}, update, hint=hint, session=session))

    async def delete_in_batches(self, collection: Any, field: str, values: Sequence[Any], *,
                                condition: Doc | None = None, hint: Any = None) -> int:
        """Delete the documents whose `field` is one of `values` (and that meet `condition`), a
        transaction per `WRITE_BATCH` values, for the reason `update_in_batches` gives; returns how many went."""
        return await self._in_batches(values, "deleted_count", lambda among, session: collection.delete_many(
            {field: among, **(condition or {})}, hint=hint, session=session))

    async def _in_batches(self, values: Sequence[Any], counted: str,
                          write: Callable[[Doc, AsyncClientSession], Awaitable[Any]]) -> int:
        total = 0
        for start in range(0, len(values), WRITE_BATCH):
            among = {"$in": list(values[start:start + WRITE_BATCH])}

            async def attempt(session: AsyncClientSession, among: Doc = among) -> int:
                return int(getattr(await write(among, session), counted))
            total += await self.run_in_transaction(attempt)
        return total

    async def insert_later(self, collection: Any, doc: Doc, session: AsyncClientSession | None) -> None:
        """Insert `doc` with the transaction's other waiting writes, just before its commit (hub.laterwrites); with
        a `gathered` session's writes; at once outside both. Nothing in the transaction may read it back (or
        `flush` first)."""
        await self._later_or_now(LaterWrite(collection, "insert", doc), session)

    async def update(self, collection: Any, filter: Doc, update: Doc, session: AsyncClientSession | None,
                     *, many: bool = False) -> None:
        """`update_one` (`update_many` if `many`), for a write whose result nothing looks at. In a `gathered`
        session it waits with the other writes. In a transaction it is made now, after the waiting inserts into
        the same collection (it may update one of them): a transaction takes the documents it changes where it
        changes them, as before. Deferring those updates to the last round trip as well was measured and
        dropped: the closed loop's answer p99 grew, by 130-570 ms in 10 of 11 paired runs (docs/ingest.md,
        "Writes together")."""
        write = LaterWrite(collection, "update_many" if many else "update", update, filter)
        waiting = self._later.get(id(session)) if session is not None else None
        if waiting is not None and session is not None and session.in_transaction:
            if any(w.collection.full_name == collection.full_name for w in waiting):
                await self.flush(session)
            await write.alone(session)
        else:
            await self._later_or_now(write, session)

    async def _later_or_now(self, write: LaterWrite, session: AsyncClientSession | None) -> None:
        waiting = self._later.get(id(session)) if session is not None else None
        if waiting is None:
            await write.alone(session)
        else:
            waiting.append(write)

    async def flush(self, session: AsyncClientSession | None) -> None:
        """Make the transaction's waiting writes now: before a read in it that must see them."""
        waiting = self._later.get(id(session)) if session is not None else None
        if waiting:
            writes = list(waiting)
            waiting.clear()
            await self.write_together(writes, session)

    async def write_together(self, writes: list[LaterWrite], session: AsyncClientSession | None = None,
                             write_concern: WriteConcern | None = None) -> None:
        """Make `writes` in order, in one command where the server can (hub.laterwrites); `write_concern` (say
        ACCEPTED) for all of them instead of the client's."""
        together = self.together
        if together is None:  # asked once the client knows the server (a write follows the reads that found it)
            together = self.together = together_supported(self.client)
        await write_all(self.client, writes, session, together=bool(together), write_concern=write_concern)

    @asynccontextmanager
    async def gathered(self) -> AsyncIterator[AsyncClientSession]:
        """A session, without a transaction, whose `insert_later` / `update` writes go out together when
        the block ends (in order, stopping at the first that fails), then its `on_commit` callbacks run: a few
        single-document writes, each safe to repeat, in one round trip (the bot's answer, hub.pipeline)."""
        callbacks: list[Callable[[], None]] = []
        async with self.client.start_session() as session:
            self._later[id(session)] = []
            self._after_commit[id(session)] = callbacks
            try:
                yield session
                await self.flush(session)
            finally:
                self._later.pop(id(session), None)
                self._after_commit.pop(id(session), None)
        for callback in callbacks:
            callback()

    def on_commit(self, session: AsyncClientSession | None, callback: Callable[[], None]) -> None:
        """Run `callback` once `session`'s transaction (from `run_in_transaction`) has committed;
        now when there is no such transaction. For side effects outside the database (counters)."""
        pending = self._after_commit.get(id(session)) if session is not None else None
        if pending is None:
            callback()
        else:
            pending.append(callback)

    async def claim_by_id(self, collection: Any, _id: Any, condition: Doc, update: Doc,
                          session: AsyncClientSession | None = None) -> Doc | None:
        """`find_one_and_update({_id, **condition}, update)` returning the updated document, in the
        shapes secantusd-py serves from its `_id` index (an empty `condition`: update one known document).

        Its findAndModify writes with `{_id, $and: [query]}`, which scans the whole collection (and a
        hint walks the whole hinted index): the cost grows with the collection (benchmarks/query_cost.py).
        An `update_one` keyed by `_id` with the condition beside it is as atomic (the condition is checked
        in the write) and is served by the index; the read after it is an exact `{_id}` lookup. The caller
        holds what it claimed, so reading it back after the write is safe.
        """
        result = await collection.update_one({"_id": _id, **condition}, update, session=session)
        if result.matched_count == 0:
            return None
        doc: Doc | None = await collection.find_one({"_id": _id}, session=session)
        return doc

    async def messages_with_file(self, blob_id: str) -> list[Doc]:
        """The messages holding the file `blob_id` (normally one): who may download it is decided from them.

        Filtered on the `attachments.blob_id` index's own field, with no hint: secantusd-py walks a whole
        hinted index for a find (1.1 s at 20,000 messages, benchmarks/query_cost.py `attachment_owner`)."""
        return await self.messages.find({"attachments.blob_id": blob_id},
                                        projection={"channel": 1, "thread_key": 1, "private": 1},
                                        limit=MAX_FILE_HOLDERS).to_list()

    async def next_number(self, name: str) -> int:
        """A gap-tolerant sequence (ticket numbers people can read out on the phone), unique across
        processes; tickets and contacts are handed out from blocks (hub.numbers)."""
        return await self.numbers.take(name)

    async def _increment(self, name: str, by: int) -> int:
        """Add `by` to a counter; its new value."""
        doc = await self.counters.find_one_and_update(
            {"_id": name}, {"$inc": {"seq": by}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        if doc is None:
            # secantusd-py can answer None to racing upserts (two first contacts at once) although it
            # applied them: the counter exists now, so take the next numbers (a gap, never a repeat).
            doc = await self.counters.find_one_and_update(
                {"_id": name}, {"$inc": {"seq": by}}, return_document=ReturnDocument.AFTER
            )
        if doc is None:
            raise OperationFailure(f"counter {name!r} could not be incremented")
        return int(doc["seq"])

    async def append_event(
        self, event_type: str, at: datetime, session: AsyncClientSession | None = None, **fields: Any
    ) -> ObjectId:
        """Append one event to the log. Inside `run_in_transaction` it is written with the transaction's other
        waiting writes in one command before the commit (nothing reads the log inside a transaction): a ticket
        change that logs two or three events pays no command of its own for them (hub.laterwrites)."""
        doc = self.event(event_type, at, **fields)
        await self.insert_later(self.events, doc, session)
        return doc["_id"]

    @staticmethod
    def event(event_type: str, at: datetime, **fields: Any) -> Doc:
        """An event document of the log, not yet written (`append_event` writes one)."""
        return {"_id": ObjectId(), "type": event_type, "at": at, **{k: v for k, v in fields.items() if v is not None}}


__all__ = [
    "ACCEPTED",
    "BY_ID",
    "CONVERSATIONS_BY_CLOSED",
    "CONVERSATIONS_BY_CONTACT",
    "MESSAGES_BY_CONVERSATION",
    "ONE_TIME",
    "OUTBOX_DUE",
    "TICKETS_BY_CONTACT",
    "WATCHED_COLLECTIONS",
    "ConnectionFailure",
    "Doc",
    "DuplicateKeyError",
    "ObjectId",
    "OperationFailure",
    "PyMongoError",
    "ReturnDocument",
    "Store",
    "oid",
]
