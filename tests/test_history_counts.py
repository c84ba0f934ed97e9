"""The history's sums and its counts read from the database.

`hub.countervector` sums bucket counters as numpy vectors: its sums must be the very floats a name-by-name
sum gives, and its percentiles what `hub.metricdefs.histogram_percentile` reads from the same bins. The open
bot conversations and the active tickets per agent are counted by the database; checked here against
hand-made records, filters and edge cases included.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.countervector import CounterVector
from hub.history import Filters, HistoryService, active_by_agent
from hub.metricdefs import histogram_percentile
from hub.store import Store

NAMES = ["opened", "answered", "wait_sum", "res_sum", *(f"fr_{n}" for n in (0, 1, 7, 190, 520)),
         *(f"rs_{n}" for n in (0, 3, 400, 610, 899))]
counts = st.integers(min_value=0, max_value=3)
values = st.one_of(counts, st.floats(min_value=0, max_value=1e6, allow_nan=False))
buckets = st.lists(st.dictionaries(st.sampled_from(NAMES), values, max_size=len(NAMES)), max_size=12)
_dbs = itertools.count()


def _by_name(rows: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in rows:
        for name, value in row.items():
            out[name] = out.get(name, 0) + value
    return out


@settings(max_examples=300, deadline=None)
@given(buckets, buckets)
def test_vector_sums_are_the_name_by_name_sums(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> None:
    a, b = CounterVector(), CounterVector()
    for row in first:
        a.add(row)
    for row in second:
        b.add(row)
    a.merge(b)
    expected = _by_name([_by_name(first), _by_name(second)])  # as the history merges its rows: each row's sums
    for name in NAMES:
        assert a.get(name) == expected.get(name, 0), name
    assert a.get("never_seen") == 0.0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from([n for n in NAMES if n[:3] in ("fr_", "rs_")]), counts), max_size=8),
       st.sampled_from([0.01, 0.5, 0.9, 1.0]))
def test_vector_percentiles_read_the_bins_as_the_definition_does(rows: list[dict[str, int]], q: float) -> None:
    vector = CounterVector()
    for row in rows:
        vector.add(row)
    summed = _by_name(rows)
    for kind in ("fr", "rs"):
        bins = {int(name[3:]): value for name, value in summed.items() if name[:2] == kind and value}
        assert vector.percentile(kind, q) == histogram_percentile(bins, q), (kind, bins)


def test_a_percentile_read_again_after_other_vectors_added_new_bins() -> None:
    """Columns are shared by every vector of the process: a bin first seen later (here below the first vector's
    bins, so the histograms' column order changes) must not shift what a vector read before."""
    first, other = CounterVector(), CounterVector()
    first.add({"rs_1110": 1, "rs_1120": 3})
    before = first.percentile("rs", 0.5)
    other.add({"rs_1105": 2})
    assert first.percentile("rs", 0.5) == before == histogram_percentile({1110: 1, 1120: 3}, 0.5)
    assert other.percentile("rs", 0.5) == histogram_percentile({1105: 2}, 0.5)


async def test_open_bot_chats_and_active_tickets_are_counted_by_the_database(mongo_uri: str) -> None:
    store = Store(mongo_uri, f"test_history_counts_{next(_dbs)}")
    try:
        await store.ensure_indexes()
        start = datetime(2026, 11, 1, tzinfo=UTC)

        def chat(day: int, channel: str = "widget", intent: str = "refund", **fields: Any) -> dict[str, Any]:
            _id = ObjectId()
            return {"_id": _id, "token": str(_id), "thread_key": str(_id), "state": "bot", "open": True,
                    "channel": channel, "started_at": start + timedelta(days=day),
                    "bot": {"turns": 2, "last_intent": intent}, **fields}

        await store.conversations.insert_many([
            chat(1), chat(2, channel="sms"), chat(3, intent="delivery"),
            chat(4, open=False),  # ended
            chat(5, bot={"turns": 0, "last_intent": None}),  # opened, never answered
            chat(6, state="escalated"),  # the agents' now
            chat(-1), chat(10),  # before and after the range
        ])
        history = HistoryService(store, {})
        end = start + timedelta(days=7)
        assert await history.bot_open(start, end, Filters()) == 3
        assert await history.bot_open(start, end, Filters(channel="widget")) == 2
        assert await history.bot_open(start, end, Filters(intent="delivery")) == 1
        assert await history.bot_open(start, end, Filters(channel="sms", intent="delivery")) == 0
        assert await history.bot_open(start, end, Filters(queue="general")) == 0  # bot chats have no queue

        ann, ben = ObjectId(), ObjectId()
        statuses = [("new", None), ("open", ann), ("open", ann), ("pending", ann), ("open", ben), ("solved", ben),
                    ("closed", ann), ("new", ben)]
        await store.tickets.insert_many([
            {"number": n, "status": status, "assignee_id": who, "queue": "general", "created_at": start}
            for n, (status, who) in enumerate(statuses, start=1)])
        assert await active_by_agent(store) == {ann: 3, ben: 2}
    finally:
        await store.client.drop_database(store.db.name)
        await store.close()
