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

A saved view's count ("Urgent email (3)", hub.savedviews) needs more of each ticket (its facets and followers):
the same pass reads them, and each view is counted in memory from the facets' ticket sets. Measured at 1,000
active tickets (benchmarks/desk_refresh.py, 2026-12-08, two runs each): a reload 72-124 ms with the three
fields, 83-89 ms with these; a second pass of its own for the views made a reload with five views 194-208 ms,
and reading the SLA clocks too (to count views by SLA state) made every reload 122-125 ms.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from hub.freshreads import FreshReads
from hub.models import utcnow
from hub.store import Doc, ObjectId, Store
from hub.ticketindex import TicketQuery, matcher, wanted_keys

#: The facet every active (new, open, pending) ticket carries in `keys` (hub.ticketindex), indexed.
ACTIVE_KEY = "active"
#: What a pass reads of each active ticket: what the counts need, and what the list's filter looks at to count a
#: saved view (hub.ticketindex `matcher`, for the views `counted_live` admits: no words, no SLA state).
FIELDS = {"_id": 0, "status": 1, "queue": 1, "assignee_id": 1, "keys": 1, "followers": 1}


class ViewCounts:
    """The active tickets as one pass read them, to count saved views in: each view's candidates are the tickets
    carrying all its facets (a set intersection), then its other conditions are checked on those alone."""

    def __init__(self, tickets: list[Doc]) -> None:
        self.tickets = tickets
        self._by_key: dict[str, set[int]] | None = None

    def count(self, q: TicketQuery) -> int:
        """How many active tickets match `q` (hub.ticketindex `counted_live` says which queries it can count)."""
        if self._by_key is None:
            self._by_key = {}
            for i, t in enumerate(self.tickets):
                for key in t.get("keys") or []:
                    self._by_key.setdefault(key, set()).add(i)
        sets = sorted((self._by_key.get(k, set()) for k in wanted_keys(q)), key=len)
        candidates = set.intersection(*sets) if sets else range(len(self.tickets))
        keep = matcher(q, utcnow())
        return sum(1 for i in candidates if keep(self.tickets[i]))


@dataclass(frozen=True)
class ActiveCounts:
    """Active tickets counted in one pass."""

    active: int = 0
    unassigned: int = 0
    by_assignee: Counter[ObjectId] = field(default_factory=Counter)
    new_by_queue: Counter[str] = field(default_factory=Counter)
    active_by_queue: Counter[str] = field(default_factory=Counter)
    #: The tickets the pass read, to count saved views in.
    listed: ViewCounts = field(default_factory=lambda: ViewCounts([]))

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
        tickets = await self._read()
        return replace(tally_of(tickets), listed=ViewCounts(tickets))

    async def _read(self) -> list[Doc]:
        """`FIELDS` of every active ticket, through the `keys` index (bounded by the live desk)."""
        return await self.store.tickets.find({"keys": ACTIVE_KEY}, projection=FIELDS).to_list()
