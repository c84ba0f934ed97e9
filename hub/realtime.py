"""The realtime bus: a change stream on the store fans out to in-process subscribers.

Because the feed is the database's own change stream, every hub process behind a
load balancer sees every message, ticket and event, whichever process wrote it.
Subscribers (desk and widget WebSockets) get a bounded queue each; a slow one
loses its oldest items rather than slowing everybody down, and re-syncs over REST.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from hub.store import WATCHED_COLLECTIONS, Doc, PyMongoError, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    collection: str
    operation: str
    document: Doc


class Subscription:
    def __init__(self, bus: RealtimeBus, maxsize: int, accept: Callable[[Change], bool] | None = None) -> None:
        self._bus = bus
        self.queue: asyncio.Queue[Change] = asyncio.Queue(maxsize=maxsize)
        self._accept = accept

    def offer(self, change: Change) -> None:
        if self._accept is not None and not self._accept(change):
            return  # not wanted: the subscriber's task is not even woken
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(change)

    async def get(self) -> Change:
        return await self.queue.get()

    def close(self) -> None:
        self._bus.unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[Change]:
        while True:
            yield await self.queue.get()


class RealtimeBus:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._subs: set[Subscription] = set()
        self._resume_token: Any = None
        self.ready = asyncio.Event()
        #: Event type -> callbacks called (synchronously, in the stream's loop) for each such event: for
        #: rare events (a setting changed) that need no subscriber woken up by every change.
        self._event_hooks: dict[str, list[Callable[[Doc], None]]] = {}

    def subscribe(self, maxsize: int = 1000, accept: Callable[[Change], bool] | None = None) -> Subscription:
        """A queue of the changes from now on (only those `accept` returns true for, if given)."""
        sub = Subscription(self, maxsize, accept)
        self._subs.add(sub)
        return sub

    @property
    def subscriber_count(self) -> int:
        """Subscribers in this process (operators' gauge)."""
        return len(self._subs)

    def on_event(self, event_type: str, callback: Callable[[Doc], None]) -> None:
        """Call `callback(event)` whenever an event of this type passes (any process wrote it)."""
        self._event_hooks.setdefault(event_type, []).append(callback)

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    async def run(self) -> None:
        """Follow the change stream forever, resuming after errors from the last token seen."""
        pipeline = [{"$match": {"ns.coll": {"$in": list(WATCHED_COLLECTIONS)},
                                "operationType": {"$in": ["insert", "update", "replace"]}}}]
        failures = 0
        while True:
            try:
                async with await self.store.db.watch(
                    pipeline, full_document="updateLookup", resume_after=self._resume_token
                ) as stream:
                    self.ready.set()
                    failures = 0
                    async for change in stream:
                        self._resume_token = stream.resume_token
                        doc = change.get("fullDocument")
                        if doc is None:
                            continue
                        item = Change(change["ns"]["coll"], change["operationType"], doc)
                        for sub in list(self._subs):
                            sub.offer(item)
                        if item.collection == "events" and self._event_hooks:
                            for hook in self._event_hooks.get(doc.get("type"), ()):
                                hook(doc)
            except PyMongoError as exc:
                failures += 1
                if failures >= 3 and self._resume_token is not None:
                    # The token may have fallen out of the oplog: start from now; clients re-sync over REST.
                    log.warning("realtime: cannot resume the change stream (%s); restarting from now", exc)
                    self._resume_token = None
                else:
                    log.warning("realtime: change stream interrupted (%s); resuming", exc)
                await asyncio.sleep(min(10.0, 0.5 * 2**failures))
