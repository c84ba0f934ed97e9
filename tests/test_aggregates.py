"""Aggregates against the raw computation: a random history applied incrementally (in any order, with
intermediate states, twice over) and rebuilt gives the raw answer (counts exact, percentiles within the
stated error); two OS processes applying the same records at once never double-count."""

from __future__ import annotations

import asyncio
import itertools
import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bson import ObjectId
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import monitoring

from benchmarks.docs_read import DocsRead
from hub.aggregates import TICKET, Aggregates, Record
from hub.history import COUNTERS, HistoryService
from hub.metricdefs import ALPHA
from hub.models import utcnow
from hub.store import Store
from hub.tickets import QueueConfig

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 1, tzinfo=UTC)
QUEUES = {"general": QueueConfig("general", answer_target_seconds=60),
          "orders": QueueConfig("orders", answer_target_seconds=300)}
AGENTS = [(ObjectId(), "ann"), (ObjectId(), "ben"), (ObjectId(), "cat")]
_dbs = itertools.count()

durations = st.one_of(st.floats(min_value=0, max_value=2), st.floats(min_value=1, max_value=200_000))


@st.composite
def tickets(draw: Any) -> dict[str, Any]:
    created = START + timedelta(minutes=draw(st.integers(0, 6 * 24 * 60)))
    doc: dict[str, Any] = {
        "_id": ObjectId(), "queue": draw(st.sampled_from(sorted(QUEUES))),
        "channel": draw(st.sampled_from(["widget", "email"])),
        "intent": draw(st.sampled_from([None, "refund", "order"])),
        "tags": draw(st.lists(st.sampled_from(["vip", "bug", "billing"]), unique=True, max_size=2)),
        "reason": draw(st.sampled_from(["human_requested", "email"])), "status": "new",
        "created_at": created, "handoff_at": created,
        "assignee_id": draw(st.sampled_from([None, *[a for a, _ in AGENTS]])),
        "sla": {"paused_seconds": 0},
    }
    fate = draw(st.sampled_from(["waiting", "answered", "solved", "abandoned", "closed_unanswered"]))
    if fate in ("answered", "solved"):
        doc["first_agent_reply_at"] = created + timedelta(seconds=draw(durations))
        doc["first_responder_id"] = draw(st.sampled_from([a for a, _ in AGENTS]))
        doc["status"] = "open"
    if fate in ("solved", "closed_unanswered"):
        doc["status"] = "solved"
        doc["solved_at"] = created + timedelta(seconds=draw(durations) + 2 * 86400 * draw(st.integers(0, 1)))
        doc["sla"] = {"paused_seconds": draw(st.sampled_from([0, 0, 30]))}
        if draw(st.booleans()):
            doc["csat"] = {"score": draw(st.integers(1, 5)), "at": doc["solved_at"] + timedelta(minutes=5)}
    if fate == "abandoned":
        doc.update(status="closed", abandoned_at=created + timedelta(seconds=draw(durations)),
                   abandon_reason=draw(st.sampled_from(["ended", "left"])))
    return doc


@st.composite
def conversations(draw: Any) -> dict[str, Any]:
    started = START + timedelta(minutes=draw(st.integers(0, 6 * 24 * 60)))
    closed = draw(st.booleans())
    doc: dict[str, Any] = {"_id": ObjectId(), "channel": draw(st.sampled_from(["widget", "telegram"])),
                           "thread_key": str(ObjectId()), "token": str(ObjectId()),
                           "started_at": started, "open": not closed, "state": "closed" if closed else "bot",
                           "bot": {"turns": draw(st.integers(0, 4)), "fallbacks": draw(st.integers(0, 1)),
                                   "last_intent": draw(st.sampled_from([None, "refund"]))}}
    if closed:
        doc["closed_at"] = started + timedelta(minutes=draw(st.integers(1, 3000)))
    if draw(st.booleans()):
        doc["handoff_at"] = started
    return doc


def sample_ticket(rng: random.Random) -> dict[str, Any]:
    """A solved or answered ticket with a rating, of fixed shape (the concurrency test's data)."""
    created = START + timedelta(minutes=rng.randint(0, 6 * 24 * 60))
    reply = created + timedelta(seconds=rng.uniform(0.5, 5000))
    doc: dict[str, Any] = {
        "_id": ObjectId(), "queue": rng.choice(sorted(QUEUES)), "channel": rng.choice(["widget", "email"]),
        "intent": rng.choice([None, "refund"]), "tags": rng.sample(["vip", "bug"], rng.randint(0, 2)),
        "reason": "human_requested", "status": "open", "created_at": created, "handoff_at": created,
        "assignee_id": AGENTS[rng.randint(0, 2)][0], "first_responder_id": AGENTS[rng.randint(0, 2)][0],
        "first_agent_reply_at": reply, "sla": {"paused_seconds": 0}}
    if rng.random() < 0.7:
        doc.update(status="solved", solved_at=reply + timedelta(seconds=rng.uniform(1, 90_000)),
                   csat={"score": rng.randint(1, 5), "at": reply + timedelta(days=1)})
    return doc


def sample_closed_conversation(rng: random.Random) -> dict[str, Any]:
    """A bot conversation that closed, of fixed shape."""
    started = START + timedelta(minutes=rng.randint(0, 6 * 24 * 60))
    return {"_id": ObjectId(), "channel": rng.choice(["widget", "telegram"]), "thread_key": str(ObjectId()),
            "token": str(ObjectId()), "started_at": started, "open": False, "state": "closed",
            "closed_at": started + timedelta(minutes=rng.randint(1, 3000)),
            "bot": {"turns": rng.randint(1, 4), "fallbacks": rng.randint(0, 1), "last_intent": "refund"},
            **({"handoff_at": started} if rng.random() < 0.5 else {})}


def intermediate(ticket: dict[str, Any]) -> dict[str, Any]:
    """An earlier state of the ticket: still waiting, no agent."""
    keep = {k: v for k, v in ticket.items() if k not in ("first_agent_reply_at", "first_responder_id", "solved_at",
                                                          "csat", "abandoned_at", "abandon_reason")}
    return {**keep, "status": "new", "assignee_id": None}


def close_enough(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= max(0.5, abs(b) * ALPHA * 1.000001) + 0.002


def assert_same(agg: dict[str, Any], raw: dict[str, Any]) -> None:
    assert [r["t"] for r in agg["series"]] == [r["t"] for r in raw["series"]]
    for a, r in zip(agg["series"], raw["series"], strict=True):
        assert {k: a[k] for k in COUNTERS} == {k: r[k] for k in COUNTERS}, a["t"]
        assert a["service_level"] == r["service_level"]
        for name in ("first_response_p50", "first_response_p90", "resolution_p50", "resolution_p90"):
            assert close_enough(a[name], r[name]), (name, a[name], r[name])
    ta, tr = agg["totals"], raw["totals"]
    for name in (*COUNTERS, "abandoned_by_reason", "service_level", "bot_containment", "fallback_rate", "csat",
                 "bot_open"):
        assert ta[name] == tr[name], name
    assert close_enough(ta["asa_seconds"], tr["asa_seconds"])
    assert [(x["agent"], x["handled"], x["csat"]) for x in agg["agents"]] == \
        [(x["agent"], x["handled"], x["csat"]) for x in raw["agents"]]


async def _scenario(uri: str, ticket_docs: list[dict[str, Any]], conv_docs: list[dict[str, Any]],
                    order: list[int], ranges: list[tuple[int, int, str | None, dict[str, str]]],
                    since_day: int) -> None:
    store = Store(uri, f"test_agg_{next(_dbs)}")
    try:
        await store.ensure_indexes()
        await store.agents.insert_many([{"_id": i, "username": u, "name": u.title(), "roles": ["agent"],
                                         "capacity": 4} for i, u in AGENTS])
        history = HistoryService(store, QUEUES)
        aggregates = Aggregates(store, history)
        for number, t in enumerate(ticket_docs, 1):
            t["number"] = number
        if ticket_docs:
            await store.tickets.insert_many([intermediate(t) for t in ticket_docs])
        if conv_docs:
            await store.conversations.insert_many(conv_docs)
        for t in ticket_docs:  # the earlier states, applied
            await aggregates.apply_ticket(t["_id"])
        for t in ticket_docs:
            await store.tickets.replace_one({"_id": t["_id"]}, t)
        for i in order:  # the final states in any order, some twice
            if i < len(ticket_docs):
                await aggregates.apply_ticket(ticket_docs[i]["_id"])
            elif i - len(ticket_docs) < len(conv_docs):
                await aggregates.apply_conversation(conv_docs[i - len(ticket_docs)]["_id"])
        for t in ticket_docs:
            await aggregates.apply_ticket(t["_id"])
        for c in conv_docs:
            await aggregates.apply_conversation(c["_id"])

        async def check() -> None:
            for a, b, bucket, filters in ranges:
                start, end = START + timedelta(hours=a), START + timedelta(hours=a + b)
                assert_same(await history.query(start, end, bucket, filters), await history.raw(start, end, bucket,
                                                                                                 filters))

        await check()
        await aggregates.rebuild(START + timedelta(days=since_day))
        await check()
        await aggregates.rebuild()
        await check()
    finally:
        await store.client.drop_database(store.db.name)
        await store.close()


filters = st.dictionaries(st.sampled_from(["queue", "channel", "agent", "intent", "tag"]),
                          st.just("x"), max_size=2).map(
    lambda d: {k: {"queue": "general", "channel": "widget", "agent": "ann", "intent": "refund", "tag": "vip"}[k]
               for k in d})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(st.lists(tickets(), max_size=14), st.lists(conversations(), max_size=6),
       st.lists(st.integers(0, 19), max_size=30),
       st.lists(st.tuples(st.integers(0, 200), st.integers(1, 24 * 9), st.sampled_from([None, "hour", "day"]), filters),
                min_size=1, max_size=3),
       st.integers(0, 8))
def test_random_history_aggregates_equal_the_raw_computation(
    mongo_uri: str, ticket_docs: list[dict[str, Any]], conv_docs: list[dict[str, Any]], order: list[int],
    ranges: list[tuple[int, int, str | None, dict[str, str]]], since_day: int,
) -> None:
    asyncio.run(_scenario(mongo_uri, ticket_docs, conv_docs, order, ranges, since_day))


async def test_two_processes_applying_at_once_never_double_count(mongo_uri: str) -> None:
    store = Store(mongo_uri, f"test_agg_mp_{next(_dbs)}")
    try:
        await store.ensure_indexes()
        await store.agents.insert_many([{"_id": i, "username": u, "name": u, "roles": ["agent"]} for i, u in AGENTS])
        rng_docs = [sample_ticket(random.Random(n)) for n in range(40)]
        for number, t in enumerate(rng_docs, 1):
            t["number"] = number
        await store.tickets.insert_many([intermediate(t) for t in rng_docs])
        history = HistoryService(store, QUEUES)
        aggregates = Aggregates(store, history)
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.aggregates_worker", mongo_uri, store.db.name, cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert worker.stdin is not None and worker.stdout is not None
        assert (await asyncio.wait_for(worker.stdout.readline(), 30)).strip() == b"ready"
        worker.stdin.write(b"go\n")
        await worker.stdin.drain()
        changed = 0
        for round_ in range(3):  # meanwhile this process applies too, and moves the tickets to their final states
            for t in reversed(rng_docs):
                if round_ == 1:
                    await store.tickets.replace_one({"_id": t["_id"]}, t)
                changed += await aggregates.apply_ticket(t["_id"])
        line = (await asyncio.wait_for(worker.stdout.readline(), 120)).decode().split()
        print("conflicts redone here:", aggregates.conflicts)
        assert line[0] == "done" and await worker.wait() == 0
        other_changed = int(line[1])
        assert changed + other_changed >= len(rng_docs)  # each did real work, not just one of them
        for t in rng_docs:  # whoever applied last may have seen an earlier state: bring all up to date
            await aggregates.apply_ticket(t["_id"])
        start, end = START, START + timedelta(days=9)
        agg, raw = await history.query(start, end, "day"), await history.raw(start, end, "day")
        assert_same(agg, raw)
        assert agg["totals"]["opened"] == len(rng_docs)
        assert await store.db["metric_contributions"].count_documents({}) == len(rng_docs)
    finally:
        await store.client.drop_database(store.db.name)
        await store.close()


async def test_a_batch_pass_whose_record_changed_under_it_still_counts_each_once(mongo_uri: str) -> None:
    """The batch job applies a pass's records in one transaction (`Aggregates._apply_all`). A contribution that
    another applier wrote between the look and that transaction aborts it all; every record is then applied on
    its own, and the buckets still equal the raw computation."""
    store = Store(mongo_uri, f"test_agg_batch_{next(_dbs)}")
    try:
        await store.ensure_indexes()
        await store.agents.insert_many([{"_id": i, "username": u, "name": u, "roles": ["agent"]} for i, u in AGENTS])
        docs = [sample_ticket(random.Random(100 + n)) for n in range(12)]
        for number, t in enumerate(docs, 1):
            t["number"] = number
        await store.tickets.insert_many(docs)
        history = HistoryService(store, QUEUES)
        aggregates = Aggregates(store, history)
        rival = Aggregates(store, history)  # another process's applier
        look = aggregates._look
        raced: list[str] = []

        async def look_then_race(records: list[Record]) -> Any:
            changes = await look(records)
            if not raced:  # the first record's contribution is written by the rival after our look
                raced.append(records[0].source)
                await rival.apply_ticket(docs[0]["_id"])
            return changes

        aggregates._look = look_then_race  # type: ignore[method-assign]
        changed = await aggregates._apply_all([Record(TICKET, t["_id"]) for t in docs], fenced=False)
        assert raced == [f"t:{docs[0]['_id']}"] and aggregates.conflicts == 1
        assert changed == len(docs) - 1  # the rival's record had nothing left to change
        start, end = START, START + timedelta(days=9)
        assert_same(await history.query(start, end, "day"), await history.raw(start, end, "day"))
        assert await store.db["metric_contributions"].count_documents({}) == len(docs)
    finally:
        await store.client.drop_database(store.db.name)
        await store.close()


class Finds(monitoring.CommandListener):
    """The `find` commands a client sends, by collection."""

    def __init__(self) -> None:
        self.by_collection: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.by_collection[str(event.command["find"])] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_a_batch_pass_reads_its_records_together_not_one_by_one(mongo_uri: str) -> None:
    """The batch job's pass over 60 records (30 tickets, 30 closed conversations, some named by their ticket's solve)
    reads tickets, conversations and contributions a handful of times, not twice per record, and counts them
    as the raw computation does."""
    finds = Finds()
    store = Store(mongo_uri, f"test_agg_batch_{next(_dbs)}", event_listeners=[finds])
    try:
        await store.ensure_indexes()
        await store.agents.insert_many([{"_id": i, "username": u, "name": u, "roles": ["agent"]} for i, u in AGENTS])
        rng = random.Random(7)
        convs = [sample_closed_conversation(rng) for _ in range(30)]
        ticket_docs = [sample_ticket(rng) for _ in range(30)]
        for number, (ticket, conv) in enumerate(zip(ticket_docs, convs, strict=True), 1):
            ticket.update(number=number, conversation_ids=[conv["_id"]] if number % 2 else [])
        await store.tickets.insert_many(ticket_docs)
        await store.conversations.insert_many(convs)
        at = utcnow() - timedelta(seconds=5)
        for ticket in ticket_docs:
            await store.append_event("ticket.solved" if ticket["status"] == "solved" else "ticket.updated", at,
                                     ticket_id=ticket["_id"])
        by_solve = {t["conversation_ids"][0] for t in ticket_docs if t["status"] == "solved" and t["conversation_ids"]}
        for conv in convs:  # the others are named by their ticket's solve only
            if conv["_id"] not in by_solve:
                await store.append_event("conversation.closed", at, conversation_id=conv["_id"])
        history = HistoryService(store, QUEUES)
        aggregates = Aggregates(store, history)
        finds.by_collection.clear()
        changed = await aggregates.catch_up(until=utcnow(), fenced=False)
        assert by_solve and changed == len(ticket_docs) + len(convs)  # each added its first contribution
        assert finds.by_collection["tickets"] == 2  # the solved tickets' conversations, then every named ticket
        assert finds.by_collection["conversations"] == 1
        assert finds.by_collection["metric_contributions"] == 1
        start, end = START, START + timedelta(days=9)
        assert_same(await history.query(start, end, "day"), await history.raw(start, end, "day"))
        assert await aggregates.catch_up(until=utcnow(), fenced=False) == 0  # applied again: nothing to change
    finally:
        await store.client.drop_database(store.db.name)
        await store.close()


@given(st.lists(st.floats(min_value=0.05, max_value=400), min_size=1, max_size=30))
@settings(max_examples=200, deadline=None)
def test_successive_passes_read_every_moment_of_the_log_once_it_is_a_minute_old(gaps: list[float]) -> None:
    """Whatever the pauses between passes: a pass reads the events from a little back of its watermark to its end,
    and what it reads of the time that is `overlap` old by then is exactly [mark - overlap, until - overlap), so the
    passes one after another read every moment of the log at least once after its transactions have long
    committed, and no moment twice that way."""
    aggregates = Aggregates.__new__(Aggregates)
    aggregates.overlap, aggregates.recent = timedelta(seconds=60), timedelta(seconds=5)
    mark = START
    for gap in gaps:
        until = mark + timedelta(seconds=gap)
        windows = aggregates.windows(mark, until)
        assert windows[0][1] == until and windows[0][0] <= mark  # the new events, from a little back of the mark
        old = until - aggregates.overlap
        safe = sorted((start, min(end, old)) for start, end in windows if start < old)
        merged = [safe[0]]
        for start, end in safe[1:]:
            assert start == merged[-1][1]  # one after the other, no gap, nothing read twice
            merged[-1] = (merged[-1][0], end)
        assert merged == [(mark - aggregates.overlap, old)]
        assert len(windows) <= 2
        mark = until
    assert aggregates.windows(None, mark) == [(datetime(1970, 1, 1, tzinfo=UTC), mark)]


async def test_a_pass_reads_a_slice_of_the_log_and_counts_a_late_commit_a_minute_on(mongo_uri: str) -> None:
    """A pass reads the events since its watermark (a little back of it) and the slice a minute behind, not the
    whole last minute again; a ticket whose event's transaction committed 30 s after its time, past a pass that
    had read beyond it, is counted once, by the pass whose late slice reaches it."""
    read = DocsRead("events")
    store = Store(mongo_uri, f"test_agg_late_{next(_dbs)}", event_listeners=[read])
    try:
        await store.ensure_indexes()
        await store.agents.insert_many([{"_id": i, "username": u, "name": u, "roles": ["agent"]} for i, u in AGENTS])
        rng = random.Random(11)
        base = utcnow().replace(microsecond=0)
        history = HistoryService(store, QUEUES)
        aggregates = Aggregates(store, history)
        # a busy log: 2 events a second over the last two minutes, of open conversations (nothing to count)
        await store.events.insert_many([{"_id": ObjectId(), "type": "conversation.opened",
                                         "at": base - timedelta(seconds=n / 2), "conversation_id": ObjectId()}
                                        for n in range(240)])
        assert await aggregates.catch_up(until=base, fenced=False) == 0
        early, late = sample_ticket(rng), sample_ticket(rng)
        early["number"], late["number"] = 1, 2
        await store.tickets.insert_many([early, late])
        await store.append_event("ticket.solved", base - timedelta(seconds=2), ticket_id=early["_id"])
        # committed now, 30 s after its time: the pass above had read past it
        await store.append_event("ticket.solved", base - timedelta(seconds=30), ticket_id=late["_id"])
        await store.events.insert_many([{"_id": ObjectId(), "type": "conversation.opened",
                                         "at": base + timedelta(seconds=n / 2), "conversation_id": ObjectId()}
                                        for n in range(120)])
        read.count = 0
        assert await aggregates.catch_up(until=base + timedelta(seconds=5), fenced=False) == 1  # the early one
        # [base - 5 s, base + 5 s) and [base - 60 s, base - 55 s): 21 + 1 + 10 events, not the last minute's 133
        assert read.count == 32
        changed = []
        for step in range(2, 9):  # passes every 5 s: the late slice reaches base - 30 s at base + 35 s
            changed.append(await aggregates.catch_up(until=base + timedelta(seconds=5 * step), fenced=False))
        assert changed == [0, 0, 0, 0, 0, 1, 0]
        start, end = START, START + timedelta(days=9)
        assert_same(await history.query(start, end, "day"), await history.raw(start, end, "day"))
    finally:
        await store.client.drop_database(store.db.name)
        await store.close()
