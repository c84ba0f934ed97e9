"""The event log's retention: events older than `hub.event_log_days` are deleted by the retention job.

Every ticket change, handoff and queue wait appends to `events` (one to three per escalated message), so without
a limit the log grows for as long as the desk runs. Its readers need only recent events: the history's
aggregates read what came after their watermark (every few seconds), realtime follows the change stream, and
`switchboard metrics rebuild` recomputes from the tickets and conversations, not from the log. So the log keeps
`days` (30 by default), and never an event the aggregates have not read yet: a cutoff is the earlier of `now -
days` and the aggregates' watermark minus their overlap, and with no watermark at all (the aggregates never ran
on this database) nothing is deleted.

Not a TTL index: secantusd-py's TTL sweeper reads every document of a collection with a TTL index, under its
global lock, each minute. Instead the job reads five minutes of the `at` index at a time, from where its last run
stopped (a mark in `settings`), and deletes by `_id` in transactions of 100 (`Store.delete_in_batches`:
transactions append events, and a plain many-document delete can lock against them on secantusd-py), pausing
after each as long as it took, so that the trim never takes more than half of the embedded server. Measured with a
scratch script on a fresh secantusd-py, 20,000 events due: batches of 100 took 16 ms each (at most 21), 3.3 s in
all; batches of 500 took 235 ms each, 9.3 s in all (an `$in` costs it more per value the longer it is).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from hub.store import WRITE_BATCH, Store

#: How much of the log one read covers (at 40 messages a second, a few thousand events).
WINDOW = timedelta(minutes=5)
#: The `settings` document (the retention job's) and its field holding where the last run stopped.
MARK_ID, MARK_FIELD = "retention", "events_done_before"

ReadUntil = Callable[[], Awaitable[datetime | None]]


class EventLogRetention:
    def __init__(self, store: Store, days: int | None, read_until: ReadUntil | None = None) -> None:
        self.store = store
        #: None: the log is kept whole.
        self.days = days
        #: The time up to which every event has been read by those who must (the aggregates); None: unknown.
        self.read_until = read_until

    async def cutoff(self, now: datetime) -> datetime | None:
        """Events before this may go; None: none may."""
        if self.days is None:
            return None
        cutoff = now - timedelta(days=self.days)
        if self.read_until is not None:
            read = await self.read_until()
            if read is None:
                return None
            cutoff = min(cutoff, read)
        return cutoff

    async def run(self, now: datetime, still_mine: Callable[[], Awaitable[object]]) -> int:
        """Delete what is due at `now`, five minutes of the log at a time; returns how many events went.
        `still_mine` renews the caller's lease after each of them."""
        cutoff = await self.cutoff(now)
        if cutoff is None:
            return 0
        start = await self._done_before() or await self._oldest(None, cutoff)
        if start is None:  # nothing due yet (a young log): later runs start here, not at the log's beginning
            await self._mark(cutoff)
            return 0
        removed = 0
        while start is not None and start < cutoff:
            until = min(start + WINDOW, cutoff)
            ids = [e["_id"] async for e in self.store.events.find({"at": {"$gte": start, "$lt": until}},
                                                                  projection={"_id": 1})]
            removed += await self._delete(ids)
            # An empty window (a quiet night, a gap of months): jump to the next event rather than walk them all.
            start = until if ids else await self._oldest(until, cutoff)
            await self._mark(start or cutoff)  # everything before the next start is gone (all, if none is left)
            await still_mine()
        return removed

    async def _delete(self, ids: list[Any]) -> int:
        removed = 0
        for first in range(0, len(ids), WRITE_BATCH):  # a transaction each (100: about 16 ms of the server's)
            began = time.monotonic()
            removed += await self.store.delete_in_batches(self.store.events, "_id", ids[first:first + WRITE_BATCH])
            await asyncio.sleep(time.monotonic() - began)  # pacing, not waiting for anything: the desk comes first
        return removed

    async def _mark(self, done_before: datetime) -> None:
        """Where the next run starts: nothing before it is left."""
        await self.store.settings.update_one({"_id": MARK_ID}, {"$max": {MARK_FIELD: done_before}}, upsert=True)

    async def _done_before(self) -> datetime | None:
        mark = await self.store.settings.find_one({"_id": MARK_ID})
        done = (mark or {}).get(MARK_FIELD)
        return done if isinstance(done, datetime) else None

    async def _oldest(self, after: datetime | None, cutoff: datetime) -> datetime | None:
        """The time of the first event in [after, cutoff)."""
        when = {"$lt": cutoff} if after is None else {"$gte": after, "$lt": cutoff}
        first = await self.store.events.find({"at": when}, projection={"at": 1}, sort=[("at", 1)],
                                             limit=1).to_list()
        return first[0]["at"] if first else None
