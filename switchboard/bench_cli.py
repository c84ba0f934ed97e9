"""`switchboard bench reports [--tickets N] [--days 90] [--runs 5]`: the supervisor reports at scale.

Starts a fresh embedded database in a temporary directory and a hub on it (its aggregates job off),
seeds N tickets over the last `--days` days IN BULK (`insert_many` batches: contacts, conversations
with bot turns, bot-only conversations, messages, events, agents), builds the history's buckets
through the rebuild path (`Aggregates.rebuild`, what `switchboard metrics rebuild` runs), then times
through the HTTP API, as a logged-in supervisor: the live view (`/api/metrics/live`), the history of
the whole range for all queues and filtered by one agent (`/api/metrics/history`), `--runs` times each
(p50 and max), and the raw computation over the same range once (`HistoryService.raw`: every ticket
and conversation read into Python). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bson import ObjectId

from hub.contactbook import search_keys
from hub.migrations import mark_current
from hub.models import Role, utcnow
from hub.store import Store
from hub.ticketindex import index_fields, word_document

BATCH = 5000
INTENTS = ["order_status", "refund", "delivery", "password_reset", "invoice", "shipping_cost", "returns",
           "opening_hours", "complaint", "other"]
CHANNELS = ["widget", "email", "telegram", "sms"]
TAGS = ["vip", "billing", "bug", "shipping", "churn"]
AGENT_COUNT = 20
SUPERVISOR_PASSWORD = "bench supervisor password"  # noqa: S105 (a throwaway database)


def add_arguments(sub: argparse._SubParsersAction, _common: Callable[[argparse.ArgumentParser], None]) -> None:
    bench = sub.add_parser("bench", help="benchmarks on a fresh embedded database")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    reports = bench_sub.add_parser("reports", help="seed tickets in bulk, time the live view, the history and the "
                                                   "raw computation through the HTTP API; prints one JSON line")
    reports.add_argument("--tickets", type=int, default=200_000, help="tickets to seed (default 200,000)")
    reports.add_argument("--days", type=int, default=90, help="over this many days up to now (default 90)")
    reports.add_argument("--runs", type=int, default=5, help="timed runs per query (default 5)")
    reports.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    from switchboard.load_cli import add_arguments as load_args

    load_args(bench_sub)


def run(args: argparse.Namespace) -> int:
    if args.bench_command in ("load", "soak", "rasa"):
        from switchboard.load_cli import run as load_run

        return load_run(args)
    if args.tickets < 1 or not 1 <= args.days <= 366 or args.runs < 1:
        print("switchboard: --tickets ≥ 1, --days 1..366 and --runs ≥ 1", file=sys.stderr)
        return 2
    result = asyncio.run(bench_reports(args.tickets, args.days, args.runs, args.seed))
    print(json.dumps(result))
    return 0


_T0 = time.perf_counter()


def _progress(text: str) -> None:
    print(f"[bench {time.perf_counter() - _T0:.0f} s] {text}", file=sys.stderr, flush=True)


class Seeder:
    """Bulk writer: documents collected per collection, inserted `BATCH` at a time; up to `IN_FLIGHT` batches are
    written while the next ones are generated (the database and this process work at the same time)."""

    IN_FLIGHT = 2

    def __init__(self, store: Any) -> None:
        self.store = store
        self.pending: dict[str, list[dict[str, Any]]] = {}
        self.counts: dict[str, int] = {}
        self.writing: list[asyncio.Task[Any]] = []

    async def add(self, collection: str, doc: dict[str, Any]) -> None:
        docs = self.pending.setdefault(collection, [])
        docs.append(doc)
        if len(docs) >= BATCH:
            await self.flush(collection)

    async def flush(self, collection: str | None = None) -> None:
        for name in [collection] if collection else list(self.pending):
            docs = self.pending.get(name) or []
            if docs:
                while len(self.writing) >= self.IN_FLIGHT:
                    await self.writing.pop(0)
                self.writing.append(asyncio.ensure_future(self.store.db[name].insert_many(docs, ordered=False)))
                self.counts[name] = self.counts.get(name, 0) + len(docs)
                self.pending[name] = []
        if collection is None:  # the end: every batch written
            while self.writing:
                await self.writing.pop(0)


async def seed_agents(store: Any) -> list[ObjectId]:
    """AGENT_COUNT offline agents who cannot sign in (the seeded tickets' assignees); their ids."""
    agents = [ObjectId() for _ in range(AGENT_COUNT)]
    await store.agents.insert_many([
        {"_id": a, "username": f"agent{n:02d}", "name": f"Agent {n}", "password_hash": "!", "roles": ["agent"],
         "capacity": 6, "presence": "offline", "created_at": utcnow()} for n, a in enumerate(agents)])
    return agents


async def seed(store: Any, queues: list[str], tickets: int, days: int, rng: random.Random,
               agents: list[ObjectId]) -> dict[str, int]:
    """`tickets` tickets over the last `days` days, each with its contact, conversation, messages and events,
    plus a bot-only conversation for every fourth ticket."""
    now = utcnow()
    span = days * 86400 - 3600
    out = Seeder(store)
    number = 0
    for i in range(tickets):
        created = now - timedelta(seconds=rng.uniform(60, span))
        channel = rng.choice(CHANNELS)
        contact_id, conv_id, ticket_id = ObjectId(), ObjectId(), ObjectId()
        external = f"bench-{i}"
        contact = {"_id": contact_id, "name": f"Customer {i}", "name_lower": f"customer {i}", "number": i + 1,
                   "emails": [], "phones": [], "identities": [{"channel": channel, "external_id": external}],
                   "attributes": {}, "tags": [], "notes": [], "created_at": created, "updated_at": created}
        contact["search_keys"] = search_keys(contact)  # as the contact book writes them (no backfill at start)
        await out.add("contacts", contact)
        intent = rng.choice(INTENTS)
        fate = rng.random()
        turns = rng.randint(1, 3)
        bot_start = created - timedelta(seconds=rng.uniform(20, 300))
        number += 1
        ticket: dict[str, Any] = {
            "_id": ticket_id, "number": number, "contact_id": contact_id, "conversation_ids": [conv_id],
            "channel": channel, "subject": f"{intent.replace('_', ' ')} #{i}", "queue": rng.choice(queues),
            "priority": "normal", "status": "new", "assignee_id": None, "reason": "human_requested",
            "intent": intent, "entities": {}, "tags": rng.sample(TAGS, rng.choice([0, 0, 1, 1, 2])),
            "created_at": created, "handoff_at": created, "updated_at": created, "last_customer_message_at": created,
            "sla": {"first_response_due": created + timedelta(hours=1), "resolution_due": created + timedelta(days=1),
                    "paused_seconds": 0},
        }
        events = [("ticket.created", created), ("conversation.handoff", created)]
        messages = [("customer", bot_start), ("bot", bot_start + timedelta(seconds=1))]
        closed_at = None
        if fate < 0.05:  # abandoned while waiting
            ticket.update(status="closed", abandoned_at=created + timedelta(seconds=rng.expovariate(1 / 120)),
                          abandon_reason=rng.choice(["ended", "left"]))
            closed_at = ticket["abandoned_at"]
            events.append(("ticket.abandoned", closed_at))
        elif fate < 0.07 and created > now - timedelta(days=1):  # still waiting (only recent ones)
            pass
        else:
            agent = rng.choice(agents)
            first = created + timedelta(seconds=rng.lognormvariate(4, 1))
            ticket.update(status="open", assignee_id=agent, first_responder_id=agent, first_agent_reply_at=first,
                          last_agent_reply_at=first, assigned_at=created)
            events.append(("ticket.first_response", first))
            messages.append(("agent", first))
            if fate < 0.96 or created < now - timedelta(days=2):
                solved = first + timedelta(seconds=rng.lognormvariate(8, 1.2))
                if solved < now - timedelta(minutes=1):
                    ticket.update(status="solved", solved_at=solved)
                    closed_at = solved
                    events.append(("ticket.solved", solved))
                    if rng.random() < 0.3:
                        ticket["csat"] = {"score": rng.choices([1, 2, 3, 4, 5], [1, 1, 2, 4, 6])[0], "comment": "",
                                          "at": solved + timedelta(minutes=10)}
                        events.append(("ticket.rated", ticket["csat"]["at"]))
        texts = [f"{intent} question {i}"]
        ticket.update(index_fields(ticket, {"name": f"Customer {i}"}, texts))
        await out.add("tickets", ticket)
        if (words := word_document(ticket)) is not None:
            await out.add("ticket_words", words)
        conv: dict[str, Any] = {
            "_id": conv_id, "token": f"bench{i}", "contact_id": contact_id, "channel": channel, "thread_key": external,
            "inbox": None, "recipient": external, "subject": None, "state": "escalated", "open": closed_at is None,
            "bot": {"state": {}, "turns": turns, "last_intent": intent, "fallbacks": int(rng.random() < 0.2)},
            "channel_data": {}, "started_at": bot_start, "last_message_at": created, "ticket_id": ticket_id,
            "handoff_at": created}
        if closed_at is not None:
            conv.update(state="closed", closed_at=closed_at)
        await out.add("conversations", conv)
        for k, (kind, at) in enumerate(messages):
            await out.add("messages", _message(conv, kind, at, f"{external}:{k}", texts[0]))
        for kind, at in events:
            await out.add("events", {"type": kind, "at": at, "ticket_id": ticket_id, "conversation_id": conv_id,
                                     "queue": ticket["queue"]})
        if i % 4 == 0:  # a bot-only chat: answered by the bot and closed (a few still open)
            bot_conv = ObjectId()
            started = now - timedelta(seconds=rng.uniform(60, span))
            still_open = started > now - timedelta(hours=1) or rng.random() < 0.01
            doc: dict[str, Any] = {
                "_id": bot_conv, "token": f"benchbot{i}", "contact_id": contact_id, "channel": channel,
                "thread_key": f"{external}-bot", "inbox": None, "recipient": external, "subject": None,
                "state": "bot" if still_open else "closed", "open": still_open,
                "bot": {"state": {}, "turns": rng.randint(1, 4), "last_intent": rng.choice(INTENTS),
                        "fallbacks": int(rng.random() < 0.3)},
                "channel_data": {}, "started_at": started, "last_message_at": started}
            if not still_open:
                doc["closed_at"] = started + timedelta(seconds=rng.uniform(30, 900))
            await out.add("conversations", doc)
            await out.add("messages", _message(doc, "customer", started, f"{external}-bot:0", "opening hours?"))
            await out.add("messages", _message(doc, "bot", started + timedelta(seconds=1), f"{external}-bot:1",
                                               "We are open 9 to 5."))
            await out.add("events", {"type": "conversation.opened", "at": started, "conversation_id": bot_conv})
            if not still_open:
                await out.add("events", {"type": "conversation.closed", "at": doc["closed_at"],
                                         "conversation_id": bot_conv})
        if (i + 1) % 20000 == 0:
            _progress(f"seeded {i + 1} tickets")
    await out.flush()
    for name, seq in (("ticket", number), ("contact", tickets)):
        await store.db["counters"].update_one({"_id": name}, {"$set": {"seq": seq}}, upsert=True)
    # Everything above is written in this release's shape (ticket list fields, contact search keys): without the
    # schema version the hub would take it for a pre-versioning database and migrate it at start (a contact
    # backfill and a full aggregates rebuild, twice the rebuild the bench times).
    await mark_current(store)
    return out.counts


def _message(conv: dict[str, Any], kind: str, at: Any, external_id: str, text: str) -> dict[str, Any]:
    inbound = kind == "customer"
    return {"_id": ObjectId(), "conversation_id": conv["_id"], "contact_id": conv["contact_id"],
            "channel": conv["channel"], "thread_key": conv["thread_key"], "external_id": external_id,
            "direction": "inbound" if inbound else "outbound", "author": {"kind": kind, "id": None, "name": None},
            "text": text, "attachments": [], "quick_replies": [], "private": False, "created_at": at,
            **({} if inbound else {"delivery": {"status": "sent", "attempts": 1}})}


def _stats(samples: list[float]) -> tuple[float, float]:
    return round(statistics.median(samples), 1), round(max(samples), 1)


async def bench_reports(tickets: int, days: int, runs: int, seed_value: int) -> dict[str, Any]:
    from switchboard.bootstrap import Runtime
    from switchboard.config import load_settings
    from switchboard.embedded import EmbeddedServer

    rng = random.Random(seed_value)
    started = time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 2)  # the machine may be shared: the figures are read with it
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
        server = EmbeddedServer(Path(tmp) / "db", record=False)
        uri = await server.start()
        try:
            settings = load_settings(mongodb_uri=uri, data_dir=Path(tmp) / "var", secret="bench",  # noqa: S106
                                     db_name="bench")
            settings.metrics_aggregate_seconds = 0  # the buckets come from the rebuild below
            # Bulk load first, indexes after (the hub builds them when it starts): far fewer index updates.
            store = Store(uri, settings.db_name)
            agents = await seed_agents(store)
            t0 = time.perf_counter()
            counts = await seed(store, list(settings.queues), tickets, days, rng, agents)
            seed_seconds = time.perf_counter() - t0
            await store.close()
            runtime = Runtime(settings)
            _progress(f"seeded {counts} in {seed_seconds:.0f} s; starting a hub on it (indexes)")
            t0 = time.perf_counter()
            await runtime.start()
            index_seconds = time.perf_counter() - t0
            hub = runtime.hub
            assert hub is not None and runtime.app is not None
            try:
                await hub.accounts.create("boss", SUPERVISOR_PASSWORD, name="Boss", roles=[Role.SUPERVISOR])
                _progress(f"indexes built in {index_seconds:.0f} s; rebuilding the aggregates")
                t0 = time.perf_counter()
                rebuilt = await hub.aggregates.rebuild()
                rebuild_seconds = time.perf_counter() - t0
                _progress(f"rebuilt {rebuilt} in {rebuild_seconds:.0f} s; timing the API")
                end = utcnow()
                start = (end - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
                window = {"from": start.isoformat(), "to": end.isoformat()}
                timings = await _time_api(runtime, window, runs)
                t0 = time.perf_counter()
                raw = await hub.history.raw(start, end)
                raw_seconds = time.perf_counter() - t0
                history = await hub.history.query(start, end)
                same = all(history["totals"][k] == raw["totals"][k] for k in ("opened", "solved", "answered",
                                                                              "abandoned", "bot_closed"))
            finally:
                await runtime.stop()
        finally:
            server.stop()
    return {"bench": "reports", "tickets": counts.get("tickets", 0), "conversations": counts.get("conversations", 0),
            "messages": counts.get("messages", 0), "events": counts.get("events", 0), "days": days, "runs": runs,
            **timings, "raw_90d_seconds" if days == 90 else f"raw_{days}d_seconds": round(raw_seconds, 2),
            "aggregates_equal_raw": same, "seed_seconds": round(seed_seconds, 1),
            "index_seconds": round(index_seconds, 1),
            "rebuild_seconds": round(rebuild_seconds, 1), "buckets": rebuilt["buckets"],
            "total_seconds": round(time.perf_counter() - started, 1),
            "load_avg_1m_at_start_and_end": [load_at_start, round(os.getloadavg()[0], 2)]}


async def _time_api(runtime: Any, window: dict[str, str], runs: int) -> dict[str, float]:
    from aiohttp import ClientSession, CookieJar
    from aiohttp.test_utils import TestServer

    server = TestServer(runtime.app, host="127.0.0.1")
    await server.start_server()
    try:
        async with ClientSession(base_url=str(server.make_url("")), cookie_jar=CookieJar(unsafe=True)) as http:
            login = await http.post("/api/auth/login", json={"username": "boss", "password": SUPERVISOR_PASSWORD})
            assert login.status == 200, await login.text()
            out: dict[str, float] = {}
            for name, path, params in (("live", "/api/metrics/live", {}),
                                       ("history_90d", "/api/metrics/history", window),
                                       ("history_90d_agent", "/api/metrics/history", {**window, "agent": "agent03"})):
                samples = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    resp = await http.get(path, params=params)
                    body = await resp.read()
                    samples.append((time.perf_counter() - t0) * 1000)
                    assert resp.status == 200, body[:200]
                out[f"{name}_p50_ms"], out[f"{name}_max_ms"] = _stats(samples)
            return out
    finally:
        await server.close()
