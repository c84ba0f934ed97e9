"""The realtime bus: a change stream on the store fans out to in-process subscribers.

Because the feed is the database's own change stream, every hub process behind a
load balancer sees every message, ticket and event, whichever process wrote it.
Subscribers (desk and widget WebSockets) get a bounded queue each; a slow one
loses its oldest items rather than slowing everybody down, and re-syncs over REST.

A customer's socket wants only the changes of its own thread, so it subscribes by thread key and
the bus hands it only the changes that name that thread (`threads_of`): a change costs one
dictionary lookup, not a wake-up of every open widget on the site (docs/realtime.md, "Fan-out").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hub.store import WATCHED_COLLECTIONS, Doc, PyMongoError, Store

log = logging.getLogger(__name__)

#: Default pause between two change-stream reads: what one message writes within it comes back in one
#: read. The added delay is at most this, and only for a change following another (docs/realtime.md).
READ_GAP_SECONDS = 0.05


@dataclass(frozen=True)
class Change:
    collection: str
    operation: str
    document: Doc
    #: What subscribers derive from the change the same way each (a desk's frame, encoded): made once, shared.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def shared(self, key: str, make: Callable[[Change], Any]) -> Any:
        """`make(self)`, computed by the first subscriber that asks for `key` and kept for the others."""
        if key not in self.memo:
            self.memo[key] = make(self)
        return self.memo[key]


def threads_of(collection: str, doc: Doc) -> set[str]:
    """The conversation threads a change is about, for the subscriptions made by thread key.

    A message names its thread; an event its thread (`conversation.handoff`) or, in its data, the thread it
    tells about (`queue.wait`); a ticket's collision record the threads of the ticket's conversations
    (`thread_keys`: who the typing hint goes to). Tickets and anything else name none.
    """
    keys: set[str] = set()
    if collection == "messages" or collection == "events":
        if isinstance(key := doc.get("thread_key"), str):
            keys.add(key)
        data = doc.get("data") if collection == "events" else None
        if isinstance(data, dict) and isinstance(key := data.get("thread_key"), str):
            keys.add(key)
    elif collection == "ticket_activity":
        keys.update(k for k in doc.get("thread_keys") or () if isinstance(k, str))
    return keys


class Subscription:
    def __init__(self, bus: RealtimeBus, maxsize: int, accept: Callable[[Change], bool] | None = None,
                 thread_key: str | None = None) -> None:
        self._bus = bus
        self.queue: asyncio.Queue[Change] = asyncio.Queue(maxsize=maxsize)
        self._accept = accept
        #: Offered only the changes naming this thread (`threads_of`); None: every change.
        self.thread_key = thread_key

    def offer(self, change: Change) -> None:
        if self._accept is not None and not self._accept(change):
            return  # not wanted: the subscriber's task is not even woken
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(change)

    async def get(self) -> Change:
        return await self.queue.get()

    def drain(self) -> list[Change]:
        """The changes offered and not yet taken, without waiting (for a subscriber that stops)."""
        taken: list[Change] = []
        while not self.queue.empty():
            taken.append(self.queue.get_nowait())
        return taken

    def close(self) -> None:
        self._bus.unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[Change]:
        while True:
            yield await self.queue.get()


class RealtimeBus:
    def __init__(self, store: Store, read_gap_seconds: float = READ_GAP_SECONDS) -> None:
        self.store = store
        #: The pause after each change-stream read before the next (docs/realtime.md, "Reads").
        self.read_gap_seconds = read_gap_seconds
        self._subs: set[Subscription] = set()  # offered every change
        self._by_thread: dict[str, set[Subscription]] = {}  # offered the changes naming their thread
        self._resume_token: Any = None
        self.ready = asyncio.Event()
        #: Event type -> callbacks called (synchronously, in the stream's loop) for each such event: for
        #: rare events (a setting changed) that need no subscriber woken up by every change.
        self._event_hooks: dict[str, list[Callable[[Doc], None]]] = {}
        self._change_hooks: dict[str, list[Callable[[Doc], None]]] = {}
        #: (collection, condition on the inserted document, callback): inserts into collections the bus does
        #: not otherwise follow, read with the same stream (`on_insert`).
        self._insert_hooks: list[tuple[str, Doc, Callable[[Doc], None]]] = []
        self._reloads: set[asyncio.Task[None]] = set()

    def subscribe(self, maxsize: int = 1000, accept: Callable[[Change], bool] | None = None,
                  thread_key: str | None = None) -> Subscription:
        """A queue of the changes from now on: with `thread_key`, only those about that thread (`threads_of`); of
        those, only the ones `accept` returns true for, if given."""
        sub = Subscription(self, maxsize, accept, thread_key)
        if thread_key is None:
            self._subs.add(sub)
        else:
            self._by_thread.setdefault(thread_key, set()).add(sub)
        return sub

    @property
    def subscriber_count(self) -> int:
        """Subscribers in this process (operators' gauge)."""
        return len(self._subs) + sum(len(subs) for subs in self._by_thread.values())

    def on_event(self, event_type: str, callback: Callable[[Doc], None]) -> None:
        """Call `callback(event)` whenever an event of this type passes (any process wrote it)."""
        self._event_hooks.setdefault(event_type, []).append(callback)

    def on_change(self, collection: str, callback: Callable[[Doc], None]) -> None:
        """Call `callback(document)` for every change of a collection the bus follows (any process wrote it),
        synchronously as it passes: for caches kept in memory, no task or queue per watcher."""
        self._change_hooks.setdefault(collection, []).append(callback)

    def on_insert(self, collection: str, condition: Doc, callback: Callable[[Doc], None]) -> None:
        """Call `callback(document)` for each document inserted into `collection` (any process) whose fields
        equal `condition`'s: the server filters, so other inserts cost the stream nothing. Register before
        `run`: the stream's filter is built when it opens."""
        self._insert_hooks.append((collection, dict(condition), callback))

    def reload_on(self, event_type: str, load: Callable[[], Awaitable[Any]], what: str) -> None:
        """Run `load()` (re-read something every process keeps in memory) whenever an event of this type
        passes; a database error keeps what was loaded (the next such event, or a restart, reads it again)."""

        async def reload() -> None:
            try:
                await load()
            except PyMongoError as exc:
                log.warning("%s: database unavailable (%s); keeping what was loaded", what, exc)

        def spawn(_event: Doc) -> None:
            task = asyncio.get_running_loop().create_task(reload())
            self._reloads.add(task)
            task.add_done_callback(self._reloads.discard)

        self.on_event(event_type, spawn)

    def unsubscribe(self, sub: Subscription) -> None:
        if sub.thread_key is None:
            self._subs.discard(sub)
            return
        subs = self._by_thread.get(sub.thread_key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_thread[sub.thread_key]

    async def run(self) -> None:
        """Follow the change stream forever, resuming after errors from the last token seen."""
        pipeline = [{"$match": self._filter()}]
        failures = 0
        while True:
            try:
                async with await self.store.db.watch(
                    pipeline, full_document="updateLookup", resume_after=self._resume_token
                ) as stream:
                    self.ready.set()
                    failures = 0
                    await self._follow(stream)
            except PyMongoError as exc:
                failures += 1
                if failures >= 3 and self._resume_token is not None:
                    # The token may have fallen out of the oplog: start from now; clients re-sync over REST.
                    log.warning("realtime: cannot resume the change stream (%s); restarting from now", exc)
                    self._resume_token = None
                else:
                    log.warning("realtime: change stream interrupted (%s); resuming", exc)
                await asyncio.sleep(min(10.0, 0.5 * 2**failures))

    def _filter(self) -> Doc:
        """The stream's `$match`: changes to the followed collections, and the inserts asked for by `on_insert`."""
        followed: Doc = {"ns.coll": {"$in": list(WATCHED_COLLECTIONS)},
                         "operationType": {"$in": ["insert", "update", "replace"]}}
        if not self._insert_hooks:
            return followed
        inserts = [{"ns.coll": collection, "operationType": "insert",
                    **{f"fullDocument.{field}": value for field, value in condition.items()}}
                   for collection, condition, _ in self._insert_hooks]
        return {"$or": [followed, *inserts]}

    async def _follow(self, stream: Any) -> None:
        """Read the stream one batch at a time, at most one read (`getMore`) per `read_gap_seconds`.

        The server answers a waiting `getMore` as soon as one change exists, so without the gap the
        writes of one message (the customer's message, the pipeline's lease, the bot's answer, its
        delivery status) come back in as many reads. After each read the bus pauses before the
        next; what was written meanwhile comes back together. A change written while the stream was
        idle (its read waiting on the server) is still pushed at once: only a change following
        another within the gap waits, at most the gap.
        """
        while stream.alive:
            change = await stream.try_next()  # at most one getMore, when nothing is buffered
            if stream.resume_token is not None:  # an empty read may move it on too (postBatchResumeToken)
                self._resume_token = stream.resume_token
            if change is not None:
                self._dispatch(change)
                if _buffered(stream):
                    continue  # the rest of this read's batch first
            if self.read_gap_seconds > 0:
                await asyncio.sleep(self.read_gap_seconds)

    def _dispatch(self, change: Doc) -> None:
        doc = change.get("fullDocument")
        if doc is None:
            return
        item = Change(change["ns"]["coll"], change["operationType"], doc)
        if item.collection not in WATCHED_COLLECTIONS:  # an insert asked for by `on_insert`, for its hooks only
            for collection, condition, callback in self._insert_hooks:
                if collection == item.collection and all(doc.get(k) == v for k, v in condition.items()):
                    callback(doc)
            return
        for sub in list(self._subs):
            sub.offer(item)
        if self._by_thread:
            for key in threads_of(item.collection, doc):
                for sub in list(self._by_thread.get(key, ())):
                    sub.offer(item)
        for change_hook in self._change_hooks.get(item.collection, ()):
            change_hook(doc)
        if item.collection == "events" and self._event_hooks:
            for hook in self._event_hooks.get(doc.get("type"), ()):
                hook(doc)


def _buffered(stream: Any) -> bool:
    """Whether the stream still holds changes of its last read (the next `try_next` makes no `getMore`).

    PyMongo has no public call for this; its own `ChangeStream.try_next` asks the cursor the same way.
    Unknown (a PyMongo without it): True, so the bus reads as it did before the gap rather than pausing
    after every change (tests/test_realtime.py fails then).
    """
    has_next = getattr(getattr(stream, "_cursor", None), "_has_next", None)
    return bool(has_next()) if callable(has_next) else True
