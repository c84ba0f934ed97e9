"""The supervisor's history: any range, bucketed by hour or day, filtered by queue, channel, agent, intent, tag.

`HistoryService.query` reads the pre-aggregated buckets (`hub.aggregates`); `HistoryService.raw`
computes the same answer from the raw ticket and conversation records (exact percentiles). Both
sum the contributions defined in `hub.metricdefs`. Definitions: docs/metrics.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from hub.countervector import CounterVector
from hub.metricdefs import (
    ALPHA,
    PERCENTILE_ERROR,
    Counters,
    Parts,
    ceil_hour,
    conversation_parts,
    day_blocks,
    exact_percentile,
    floor_day,
    hour_of,
    ticket_parts,
)
from hub.store import Doc, Store
from hub.tickets import ACTIVE, QueueConfig

MAX_RANGE = timedelta(days=366)
FILTERS = ("queue", "channel", "agent", "intent", "tag")
COUNTERS = ("opened", "escalated", "solved", "abandoned", "answered", "bot_contained", "bot_closed", "fallbacks",
            "bot_messages", "csat_ratings", "csat_satisfied")
ROLLUPS = "metric_rollups"
HOURS = "metric_hours"
T = TypeVar("T")
#: Documents per reply of the history's bucket reads: a year of day rollups in one round trip (the driver's
#: first batch is 101 documents, then a `getMore` each).
BATCH = 1000

TICKET_FIELDS = {"queue": 1, "channel": 1, "intent": 1, "tags": 1, "assignee_id": 1, "first_responder_id": 1,
                 "status": 1, "reason": 1, "created_at": 1, "handoff_at": 1, "first_agent_reply_at": 1,
                 "solved_at": 1, "abandoned_at": 1, "abandon_reason": 1, "sla.paused_seconds": 1, "csat": 1}
CONVERSATION_FIELDS = {"channel": 1, "open": 1, "closed_at": 1, "handoff_at": 1, "ticket_id": 1, "bot": 1}


async def active_by_agent(store: Store) -> dict[Any, int]:
    """Active tickets (new, open, pending) per assignee, counted by the database: one `$group` per status over
    an equality on the `(status, queue, created_at)` index. (A count per agent with `status: {$in}` walks every
    ticket the agent ever had on `(assignee_id, status)`; reading the active tickets to count them here cost
    the database three times as much at 200,000 tickets, for 370 active ones.)"""
    counts: dict[Any, int] = {}
    for groups in await asyncio.gather(*(tickets_per_assignee(store, status) for status in ACTIVE)):
        for assignee, n in groups.items():
            if assignee is not None:
                counts[assignee] = counts.get(assignee, 0) + n
    return counts


async def tickets_per_assignee(store: Store, status: str) -> dict[Any, int]:
    """Tickets of one status per assignee (None: unassigned), grouped by the database."""
    cursor = await store.tickets.aggregate([{"$match": {"status": status}},
                                            {"$group": {"_id": "$assignee_id", "n": {"$sum": 1}}}])
    return {group["_id"]: group["n"] async for group in cursor}


async def _none() -> None:
    return None


async def _cancel(task: asyncio.Future[Any]) -> None:
    task.cancel()
    with contextlib.suppress(BaseException):
        await task


class HistoryError(ValueError):
    """A request the history cannot answer (bad range, unknown agent): a 400."""


@dataclass
class Filters:
    queue: str | None = None
    channel: str | None = None
    agent: str | None = None  # the agent's id (str); the API takes a username
    intent: str | None = None
    tag: str | None = None

    def given(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FILTERS if getattr(self, name)}

    def match(self, queue: Any, channel: Any, agent: Any, intent: Any, tags: Iterable[str]) -> bool:
        return ((self.queue is None or queue == self.queue) and (self.channel is None or channel == self.channel)
                and (self.agent is None or agent == self.agent) and (self.intent is None or intent == self.intent)
                and (self.tag is None or self.tag in tags))


@dataclass
class Tally:
    """Summed counters (a `CounterVector`: the history's sums at C speed) plus, for the raw computation, the
    exact durations."""

    fr: list[float] | None = None
    rs: list[float] | None = None
    sums: CounterVector = field(default_factory=CounterVector, repr=False, compare=False)

    def add(self, counters: Mapping[str, float]) -> None:
        self.sums.add(counters)

    def merge(self, other: Tally) -> None:
        self.sums.merge(other.sums)

    def get(self, name: str) -> float:
        return self.sums.get(name)

    def percentile(self, kind: str, q: float) -> float | None:
        exact = self.fr if kind == "fr" else self.rs
        if exact is not None:
            value = exact_percentile(exact, q)
            return None if value is None else round(value, 3)
        return self.sums.percentile(kind, q)

    def count(self, name: str) -> int:
        return round(self.sums.get(name))


@dataclass
class _Exact:
    """The raw computation's running sums: counters in a dict (its parts hold a few counters each, where a
    vector's fixed cost per addition would dominate) and the exact durations; a `Tally` once summed."""

    c: Counters = field(default_factory=dict)
    fr: list[float] = field(default_factory=list)
    rs: list[float] = field(default_factory=list)

    def add(self, counters: Mapping[str, float]) -> None:
        c = self.c
        get = c.get
        for name, value in counters.items():
            c[name] = get(name, 0) + value

    def tally(self) -> Tally:
        out = Tally(fr=self.fr, rs=self.rs)
        out.add(self.c)
        return out


def _tally(tallies: dict[Any, T], key: Any, make: Callable[[], T]) -> T:
    """The tally of `key`, made when first needed (not built and dropped on every bucket, as `setdefault` would)."""
    tally = tallies.get(key)
    if tally is None:
        tallies[key] = tally = make()
    return tally


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def series_row(t: datetime, tally: Tally) -> dict[str, Any]:
    row: dict[str, Any] = {"t": t.isoformat()}
    for name in COUNTERS:
        row[name] = tally.count(name)
    row.update(first_response_p50=tally.percentile("fr", 0.5), first_response_p90=tally.percentile("fr", 0.9),
               resolution_p50=tally.percentile("rs", 0.5), resolution_p90=tally.percentile("rs", 0.9),
               service_level=_ratio(tally.get("within_target"), tally.get("answered")))
    return row


def totals_of(tally: Tally, bot_open: int) -> dict[str, Any]:
    c = tally.get
    out: dict[str, Any] = {name: tally.count(name) for name in COUNTERS}
    out.update(
        asa_seconds=_ratio(c("wait_sum"), c("answered")),
        service_level=_ratio(c("within_target"), c("answered")),
        first_response_p50=tally.percentile("fr", 0.5), first_response_p90=tally.percentile("fr", 0.9),
        resolution_p50=tally.percentile("rs", 0.5), resolution_p90=tally.percentile("rs", 0.9),
        resolution_avg=_ratio(c("res_sum"), c("solved")),
        abandoned_by_reason={"ended": tally.count("ab_ended"), "left": tally.count("ab_left"),
                             "closed_unanswered": tally.count("ab_unanswered")},
        abandonment_rate=_ratio(c("abandoned"), c("opened")),
        bot_containment=_ratio(c("bot_contained"), c("bot_closed")),
        bot_open=bot_open,
        fallback_rate=_ratio(c("fallbacks"), c("bot_messages")),
        csat=_ratio(c("csat_satisfied"), c("csat_ratings")),
        article_deflection=None,
    )
    return out


class HistoryService:
    def __init__(self, store: Store, queues: dict[str, QueueConfig]) -> None:
        self.store = store
        self.queues = queues

    def target(self, queue: str | None) -> float:
        q = self.queues.get(queue or "")
        return q.answer_target_seconds if q else 60

    # ---- the request -------------------------------------------------------------------------

    async def resolve(self, start: datetime, end: datetime, bucket: str | None,
                      filters: Mapping[str, str | None]) -> tuple[datetime, datetime, str, Filters]:
        """Check and align a request: whole hours, at most a year, a known agent (by username)."""
        if end <= start:
            raise HistoryError("`to` must be after `from`")
        if end - start > MAX_RANGE:
            raise HistoryError("ranges longer than 366 days are not served")
        start, end = hour_of(start), ceil_hour(end)
        bucket = bucket or ("hour" if end - start <= timedelta(days=2) else "day")
        if bucket not in ("hour", "day"):
            raise HistoryError("bucket must be `hour` or `day`")
        chosen = Filters(**{k: (v or None) for k, v in filters.items() if k in FILTERS})
        if chosen.agent:
            agent = await self.store.agents.find_one({"username": chosen.agent}, projection={"_id": 1})
            if agent is None:
                raise HistoryError(f"no agent {chosen.agent!r}")
            chosen.agent = str(agent["_id"])
        return start, end, bucket, chosen

    # ---- from the buckets ----------------------------------------------------------------------

    async def query(self, start: datetime, end: datetime, bucket: str | None = None,
                    filters: Mapping[str, str | None] | None = None) -> dict[str, Any]:
        start, end, bucket, chosen = await self.resolve(start, end, bucket, filters or {})
        # the reads that do not depend on the buckets start now and run while the buckets are read and summed
        side = self._side_reads(start, end, chosen)
        series: dict[datetime, Tally] = {}
        agents: dict[str, Tally] = {}
        given = chosen.given()
        d0 = floor_day(start) if floor_day(start) == start else floor_day(start) + timedelta(days=1)
        d1 = floor_day(end)
        segments: list[tuple[datetime, datetime, str]] = []
        if bucket == "day" and d0 < d1:
            segments = [(start, d0, "hour"), (d0, d1, "day"), (d1, end, "hour")]
        else:
            segments = [(start, end, "hour")]
        segments = [(a, b, kind) for a, b, kind in segments if a < b]
        reads: list[Coroutine[Any, Any, None]] = []
        # No projections on the bucket reads: the documents hold little besides `t` and `c`, and secantusd-py
        # re-encodes every projected document field by field (twice the server's time of a plain read).
        if len(given) <= 1:
            # at most one filter: the rollups of that dimension (or of all) for the series, and without a filter
            # the agents' rollup (all agents in one document an hour or a day, or a block of days); equality on
            # every field before `t` (secantusd-py walks the whole index for an `$in` there)
            dim, val = next(iter(given.items())) if given else ("all", None)
            reads += [self._read_rollups(series, agents, bucket, dim, val, a, b, kind) for a, b, kind in segments]
            if not given:
                reads += [self._add_agents(agents, a, b, kind) for a, b, kind in segments]
            elif dim != "agent":  # one filter other than the agent: the agent table comes from the fine buckets
                reads += [self._read_hours(None, agents, bucket, chosen, a, b) for a, b, _kind in segments]
        else:
            reads += [self._read_hours(series, agents, bucket, chosen, a, b) for a, b, _kind in segments]
        # one read per segment and table at once: the database works on the next while this process sums the
        # last (each series row is summed from one segment, in cursor order, so the figures do not change)
        tasks = [asyncio.ensure_future(read) for read in reads]
        try:
            await asyncio.gather(*tasks)
        except BaseException:  # a failed read (the database is down): the others stop too, the error goes up
            for task in tasks:
                await _cancel(task)
            await _cancel(side)
            raise
        return await self._answer(start, end, bucket, chosen, series, agents, side=side)

    async def _read_rollups(self, series: dict[datetime, Tally], agents: dict[str, Tally], bucket: str, dim: str,
                            val: str | None, a: datetime, b: datetime, kind: str) -> None:
        g = "d" if kind == "day" else "h"
        async for doc in self.store.db[ROLLUPS].find({"dim": dim, "val": val, "g": g, "t": {"$gte": a, "$lt": b}},
                                                     batch_size=BATCH):
            self._add(series, bucket, doc["t"], doc["c"])
            if dim == "agent":
                _tally(agents, val, Tally).add(doc["c"])

    async def _read_hours(self, series: dict[datetime, Tally] | None, agents: dict[str, Tally], bucket: str,
                          chosen: Filters, a: datetime, b: datetime) -> None:
        async for doc in self.store.db[HOURS].find(self._hour_query(chosen, {"$gte": a, "$lt": b}), batch_size=BATCH):
            if series is not None:
                self._add(series, bucket, doc["t"], doc["c"])
            if doc.get("agent"):
                _tally(agents, doc["agent"], Tally).add(doc["c"])

    async def _add_agents(self, agents: dict[str, Tally], a: datetime, b: datetime, kind: str) -> None:
        """Every agent's counters over [a, b) from the `agents` rollups: hours, or whole days as the fewest aligned
        4/16/64-day blocks (a 90-day table reads about a dozen documents, one range query per run of a size)."""
        runs: list[tuple[str, datetime, datetime]] = []
        if kind == "day":
            for size, day in day_blocks(a, b):
                g = "d" if size == 1 else f"d{size}"
                if runs and runs[-1][0] == g:
                    runs[-1] = (g, runs[-1][1], day + timedelta(days=size))
                else:
                    runs.append((g, day, day + timedelta(days=size)))
        else:
            runs.append(("h", a, b))
        rollups = self.store.db[ROLLUPS]

        async def read(g: str, lo: datetime, hi: datetime) -> None:
            async for doc in rollups.find({"dim": "agents", "val": None, "g": g, "t": {"$gte": lo, "$lt": hi}}):
                for agent, counters in doc["c"].items():
                    _tally(agents, agent, Tally).add(counters)

        await asyncio.gather(*(read(g, lo, hi) for g, lo, hi in runs))

    @staticmethod
    def _hour_query(chosen: Filters, span: dict[str, datetime]) -> Doc:
        query: Doc = {"t": span}
        for name, value in chosen.given().items():
            query["tags" if name == "tag" else name] = value
        return query

    @staticmethod
    def _add(series: dict[datetime, Tally], bucket: str, t: datetime, counters: Mapping[str, float]) -> None:
        _tally(series, floor_day(t) if bucket == "day" else hour_of(t), Tally).add(counters)

    # ---- from the raw records ------------------------------------------------------------------

    async def raw(self, start: datetime, end: datetime, bucket: str | None = None,
                  filters: Mapping[str, str | None] | None = None) -> dict[str, Any]:
        """The same answer computed from every ticket and conversation (exact percentiles)."""
        start, end, bucket, chosen = await self.resolve(start, end, bucket, filters or {})
        series: dict[datetime, _Exact] = {}
        agents: dict[str, _Exact] = {}
        values: dict[tuple[str, Any], list[float]] = {}

        def take(parts: Parts) -> None:
            for key, counters in parts.items():
                t = datetime.fromisoformat(key[0])
                if not (start <= t < end) or not chosen.match(*key[1:]):
                    continue
                series_key = floor_day(t) if bucket == "day" else t
                tally = _tally(series, series_key, _Exact)
                tally.add(counters)
                agent = key[3]
                agent_tally = _tally(agents, agent, _Exact) if agent else None
                if agent_tally is not None:
                    agent_tally.add(counters)
                for kind in ("fr", "rs"):
                    for value in values.pop((kind, key), []):
                        getattr(tally, kind).append(value)
                        if agent_tally is not None:
                            getattr(agent_tally, kind).append(value)

        async for ticket in self.store.tickets.find({"created_at": {"$lt": end}}, projection=TICKET_FIELDS):
            values.clear()
            take(ticket_parts(ticket, self.target(ticket.get("queue")), values))
        async for conv in self.store.conversations.find({"started_at": {"$lt": end}}, projection=CONVERSATION_FIELDS):
            take(conversation_parts(conv))
        return await self._answer(start, end, bucket, chosen, {t: e.tally() for t, e in series.items()},
                                  {a: e.tally() for a, e in agents.items()}, exact=True)

    # ---- the answer ------------------------------------------------------------------------------

    def _side_reads(self, start: datetime, end: datetime, chosen: Filters) -> asyncio.Future[Any]:
        """The answer's reads that need no bucket (the agent's name, the open bot conversations, the active tickets
        per agent for occupancy), started at once: (username, bot_open, active)."""
        return asyncio.ensure_future(asyncio.gather(
            self._username(chosen.agent) if chosen.agent else _none(), self.bot_open(start, end, chosen),
            active_by_agent(self.store)))

    async def _answer(self, start: datetime, end: datetime, bucket: str, chosen: Filters,
                      series: dict[datetime, Tally], agents: dict[str, Tally], exact: bool = False,
                      side: asyncio.Future[Any] | None = None) -> dict[str, Any]:
        side = side or self._side_reads(start, end, chosen)
        try:
            step = timedelta(days=1) if bucket == "day" else timedelta(hours=1)
            t = floor_day(start) if bucket == "day" else start
            rows = []
            total = Tally(fr=[] if exact else None, rs=[] if exact else None)
            empty = Tally(fr=[] if exact else None, rs=[] if exact else None)  # every row without data (never added to)
            while t < end:
                tally = series.get(t) or empty
                rows.append(series_row(t, tally))
                total.merge(tally)
                if exact:
                    assert total.fr is not None and total.rs is not None
                    total.fr += tally.fr or []
                    total.rs += tally.rs or []
                t += step
        except BaseException:
            await _cancel(side)
            raise
        username, bot_open, active = await side
        return {
            "from": start.isoformat(), "to": end.isoformat(), "bucket": bucket,
            "filters": {**chosen.given(), **({"agent": username} if chosen.agent else {})},
            "series": rows,
            "totals": totals_of(total, bot_open),
            "agents": await self._agent_rows(agents, active),
            "percentile_error": "exact (raw records)" if exact else PERCENTILE_ERROR,
            "percentile_relative_error": 0.0 if exact else ALPHA,
        }

    async def _username(self, agent_id: str) -> str | None:
        from hub.store import oid

        agent = await self.store.agents.find_one({"_id": oid(agent_id)}, projection={"username": 1})
        return agent.get("username") if agent else None

    async def bot_open(self, start: datetime, end: datetime, chosen: Filters) -> int:
        """Bot conversations started in the range, still open and answered at least once (left out of
        containment), counted by the database on the `(state, started_at)` index."""
        if chosen.queue or chosen.agent or chosen.tag:
            return 0
        query: Doc = {"state": "bot", "started_at": {"$gte": start, "$lt": end}, "open": True,
                      "bot.turns": {"$gt": 0}}
        if chosen.channel:
            query["channel"] = chosen.channel
        if chosen.intent:
            query["bot.last_intent"] = chosen.intent
        return await self.store.conversations.count_documents(query)

    async def _agent_rows(self, agents: dict[str, Tally], active: dict[Any, int]) -> list[dict[str, Any]]:
        from hub.store import oid

        if not agents:
            return []
        ids = [oid(a) for a in agents]
        people = {str(a["_id"]): a async for a in self.store.agents.find(
            {"_id": {"$in": ids}}, projection={"username": 1, "name": 1, "capacity": 1})}
        open_now = {str(agent_id): active.get(agent_id, 0) for agent_id in ids}
        rows = []
        for agent_id, tally in agents.items():
            person = people.get(agent_id)
            if person is None:
                continue
            rows.append({"agent": person.get("username"), "name": person.get("name") or person.get("username"),
                         "handled": tally.count("solved"), "answered": tally.count("answered"),
                         "first_response_p50": tally.percentile("fr", 0.5),
                         "resolution_p50": tally.percentile("rs", 0.5),
                         "csat": _ratio(tally.get("csat_satisfied"), tally.get("csat_ratings")),
                         "occupancy": _ratio(open_now.get(agent_id, 0), int(person.get("capacity") or 0))})
        rows.sort(key=lambda r: (-r["handled"], r["agent"] or ""))
        return rows
