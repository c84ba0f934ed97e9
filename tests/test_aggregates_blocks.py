"""The agent table's coarse rollups (aligned 4/16/64-day blocks of the `agents` document): a long range read
from them equals the raw computation, after incremental applies, after a partial rebuild, and after the
migration that sums them from the day buckets; the fewest-blocks cover of a range is exact."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.aggregates import Aggregates, agent_blocks_from_days
from hub.history import HistoryService
from hub.metricdefs import BLOCK_DAYS, block_of, day_blocks
from hub.store import Store
from tests.test_aggregates import AGENTS, QUEUES, START, assert_same, close_enough, sample_ticket

_dbs = itertools.count()
FIRST = datetime(2026, 6, 1, tzinfo=UTC)


def test_day_blocks_cover_a_range_exactly_with_aligned_blocks() -> None:
    rng = random.Random(5)
    for _ in range(300):
        start = FIRST + timedelta(days=rng.randint(0, 400))
        end = start + timedelta(days=rng.randint(0, 200))
        blocks = day_blocks(start, end)
        day = start
        for size, first in blocks:  # contiguous, aligned, inside the range
            assert first == day and size in (1, *BLOCK_DAYS) and block_of(first, size) == first
            day += timedelta(days=size)
        assert day == max(start, end)
        assert len(blocks) <= 2 * 3 * len(BLOCK_DAYS) + 3 + (end - start).days // 64
    assert len(day_blocks(FIRST, FIRST + timedelta(days=90))) <= 12


def assert_agents_same(agg: dict[str, Any], raw: dict[str, Any]) -> None:
    assert_same(agg, raw)
    assert [(x["agent"], x["answered"]) for x in agg["agents"]] == [(x["agent"], x["answered"]) for x in raw["agents"]]
    for a, r in zip(agg["agents"], raw["agents"], strict=True):
        assert close_enough(a["first_response_p50"], r["first_response_p50"])
        assert close_enough(a["resolution_p50"], r["resolution_p50"])


async def test_agent_table_over_months_from_blocks_equals_raw(mongo_uri: str) -> None:
    store = Store(mongo_uri, f"test_agg_blocks_{next(_dbs)}")
    try:
        await store.ensure_indexes()
        await store.agents.insert_many([{"_id": i, "username": u, "name": u, "roles": ["agent"]} for i, u in AGENTS])
        rng = random.Random(11)
        docs = []
        for number in range(1, 61):  # spread over 160 days: every block size is used
            doc = sample_ticket(rng)
            shift = (START - FIRST) - timedelta(days=rng.randint(0, 160))  # from November to June..November
            for name in ("created_at", "handoff_at", "first_agent_reply_at", "solved_at"):
                if name in doc:
                    doc[name] -= shift
            if "csat" in doc:
                doc["csat"]["at"] -= shift
            doc["number"] = number
            docs.append(doc)
        await store.tickets.insert_many(docs)
        history = HistoryService(store, QUEUES)
        aggregates = Aggregates(store, history)
        for doc in docs:
            await aggregates.apply_ticket(doc["_id"])
        assert await store.db["metric_rollups"].count_documents({"dim": "agents", "g": "d64"}) >= 2
        ranges = [(FIRST + timedelta(days=3, hours=5), FIRST + timedelta(days=93)),
                  (FIRST, FIRST + timedelta(days=170)), (FIRST + timedelta(days=40), FIRST + timedelta(days=131))]

        async def check() -> None:
            for start, end in ranges:
                assert_agents_same(await history.query(start, end, "day"), await history.raw(start, end, "day"))

        await check()
        await aggregates.rebuild(FIRST + timedelta(days=100))  # widened to its 64-day block: still the raw answer
        await check()
        await store.db["metric_rollups"].delete_many({"g": {"$in": ["d4", "d16", "d64"]}})  # before the blocks
        assert await agent_blocks_from_days(store) > 0  # migration 6
        await check()
        assert await agent_blocks_from_days(store) > 0  # again: the same blocks, not twice the counts
        await check()
    finally:
        await store.client.drop_database(store.db.name)
        await store.close()
