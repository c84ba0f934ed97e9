"""The live desk's numbers, counted once for every agent who asks at the same time.

Every agent's desk reloads its sidebar after each ticket change anywhere on the desk: the queue
badges (tickets new and active in each queue) and the view counts (all, mine, unassigned). Counted
one query per number, two per queue and three more, that cost the embedded server about 300 ms per
agent per change at 1,000 active tickets (`secantusd-py` reads every counted document), so ten agents
kept it busy whenever the desk was. Here one pass reads three fields of the active tickets and
counts everything; calls that arrive while a pass runs share the next one (hub.freshreads). So a burst
of reloads after a change costs at most two passes however many agents reload, and every answer counts
every write finished before its call began (no pass begun earlier is reused: no cache to go stale).
The supervisor's live view (queue depths, each agent's open tickets), which also redraws on every
change, and the Prometheus scrape's queue depths read the same passes (hub.metrics).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hub.freshreads import FreshReads
from hub.store import Doc, ObjectId, Store

#: The facet every active (new, open, pending) ticket carries in `keys` (hub.ticketindex), indexed.
ACTIVE_KEY = "active"
FIELDS = {"_id": 0, "status": 1, "queue": 1, "assignee_id": 1}


@dataclass(frozen=True)
class ActiveCounts:
    """Active tickets counted in one pass."""

    active: int = 0
    unassigned: int = 0
    by_assignee: Counter[ObjectId] = field(default_factory=Counter)
    new_by_queue: Counter[str] = field(default_factory=Counter)
    active_by_queue: Counter[str] = field(default_factory=Counter)

    def views(self, agent_id: ObjectId, queues: Iterable[str]) -> dict[str, Any]:
        """The desk's view counts: all, this agent's, unassigned and each queue's active tickets."""
        return {"active": self.active, "mine": self.by_assignee[agent_id], "unassigned": self.unassigned,
                "queues": {q: self.active_by_queue[q] for q in queues}}


def tally_of(tickets: Iterable[dict[str, Any]]) -> ActiveCounts:
    by_assignee: Counter[ObjectId] = Counter()
    new_by_queue: Counter[str] = Counter()
    active_by_queue: Counter[str] = Counter()
    active = unassigned = 0
    for t in tickets:
        active += 1
        active_by_queue[t.get("queue")] += 1
        if t.get("status") == "new":
            new_by_queue[t.get("queue")] += 1
        if t.get("assignee_id") is None:
            unassigned += 1
        else:
            by_assignee[t["assignee_id"]] += 1
    return ActiveCounts(active, unassigned, by_assignee, new_by_queue, active_by_queue)


class DeskTally:
    """Counts the active tickets for everyone who asks, one pass at a time (see the module)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._passes: FreshReads[None, ActiveCounts] = FreshReads()

    @property
    def passes(self) -> int:
        """Passes read so far (tests and benchmarks count them)."""
        return self._passes.reads

    async def current(self) -> ActiveCounts:
        """Counts read after this call began (a pass already running when it arrived is not enough)."""
        return await self._passes.get(None, self._count)

    async def _count(self) -> ActiveCounts:
        return tally_of(await self._read())

    async def _read(self) -> list[Doc]:
        """The three fields of every active ticket, through the `keys` index (bounded by the live desk)."""
        return await self.store.tickets.find({"keys": ACTIVE_KEY}, projection=FIELDS).to_list()
