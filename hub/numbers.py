"""Human numbers (tickets, contacts) handed out from blocks reserved in one database command.

Like a database sequence's cache: a process reserves `size` numbers with one `$inc` of `size` on
the counter and hands them out from memory, so most tickets and contacts cost no counter command
(an escalation and a first message each paid a findAndModify). What it gives up:

* gaps: numbers a process reserved and did not hand out are lost when it stops, and when a block
  is older than `max_age_seconds` (the rest is dropped and a new block reserved). Numbers were
  already gap-tolerant (a ticket number burnt by an escalation that joined an existing ticket);
* order across processes: numbers are unique everywhere and increase within one process, but two
  hub processes hand out from different blocks, so a number reflects creation order across
  processes only to within `max_age_seconds` (the desk's "newest first" is by number). One process
  (and the command-line tools, which reserve one number at a time) keeps creation order.

Every number comes from the counter, so the counter's value stays above every number handed out
(the ticket list and contact search start their walks from it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

#: Numbers reserved per database command, by counter; a counter not listed is taken one at a time.
BLOCK_SIZES = {"ticket": 16, "contact": 16}
#: A block's numbers are handed out at most this long after it was reserved (order across processes).
MAX_AGE_SECONDS = 60.0


@dataclass
class _Block:
    next: int
    last: int
    until: float


class NumberBlocks:
    """`take(name)`: the next number of a counter, reserving a new block only when the last is used up."""

    def __init__(self, increment: Callable[[str, int], Awaitable[int]],
                 sizes: dict[str, int] | None = None, max_age_seconds: float = MAX_AGE_SECONDS) -> None:
        #: Adds n to the counter and returns its new value (the last number of the block reserved).
        self._increment = increment
        self.sizes = dict(BLOCK_SIZES if sizes is None else sizes)
        self.max_age_seconds = max_age_seconds
        self._blocks: dict[str, _Block] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def take(self, name: str) -> int:
        size = max(1, self.sizes.get(name, 1))
        if size == 1:
            return await self._increment(name, 1)
        number = self._from_block(name)
        if number is not None:
            return number
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:  # callers at once wait for one reservation instead of each reserving a block
            number = self._from_block(name)
            if number is not None:
                return number
            last = await self._increment(name, size)
            self._blocks[name] = _Block(next=last - size + 2, last=last,
                                        until=time.monotonic() + self.max_age_seconds)
            return last - size + 1

    def _from_block(self, name: str) -> int | None:
        block = self._blocks.get(name)
        if block is None or block.next > block.last or time.monotonic() >= block.until:
            return None
        block.next += 1
        return block.next - 1
