"""Reads shared by the callers that ask for the same thing at the same time, never served stale.

Every open desk asks the same questions after each ticket change: three requests at once per agent, each
checking its session, and every agent's list read with the same query. Asked one by one, each costs the
database a command. Here a call joins a read of its key that has not begun yet, or waits for the next one
when a read of that key is already running; that next read starts when the running one ends. So every
answer comes from a read begun after its call began: it reflects every write finished before the call
(nothing is cached, nothing can be stale, a logged-out session is refused at once), and a burst of calls
for one key costs at most two reads, however many callers. A failed read reaches its callers; the next
call reads anew. (hub.desktally counts the live desk's numbers this way.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class FreshReads(Generic[K, V]):
    """One read at a time per key, shared by every call that arrives before it begins (see the module)."""

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Task[V]] = {}
        #: The read that starts when the running one ends: every call for the key arriving meanwhile joins it.
        self._next: dict[K, asyncio.Task[V]] = {}
        #: Reads made so far (tests and benchmarks count them).
        self.reads = 0

    async def get(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        """The result of a read of `key` begun after this call (`read` makes it, if this call starts one)."""
        task = self._next.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._read(key, self._running.get(key), read))
            self._next[key] = task
        return await asyncio.shield(task)

    async def _read(self, key: K, before: asyncio.Task[V] | None, read: Callable[[], Awaitable[V]]) -> V:
        if before is not None:
            await asyncio.wait([before])  # its callers hear of its failure, if it failed; this one reads anew
        me = asyncio.current_task()
        assert me is not None
        self._running[key] = me
        del self._next[key]  # from here on, a new call needs the read after this one
        try:
            self.reads += 1
            return await read()
        finally:
            if self._running.get(key) is me:
                del self._running[key]
