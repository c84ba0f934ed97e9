"""The history API over HTTP: its shape, filters, CSV export, bad ranges and who may read it.

The history is read from the aggregates (`hub.aggregates`), brought up to date here by the batch
job's `catch_up` (what every hub runs every few seconds), and checked against the raw computation.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import Role, utcnow
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import login
from tests.test_privacy_cli import switchboard
from tests.test_widget_flow import say, widget_session

SERIES_KEYS = {"t", "opened", "escalated", "solved", "abandoned", "answered", "first_response_p50",
               "first_response_p90", "resolution_p50", "resolution_p90", "service_level", "bot_contained",
               "bot_closed", "fallbacks", "bot_messages", "csat_ratings", "csat_satisfied"}
TOTALS_KEYS = SERIES_KEYS - {"t"} | {"asa_seconds", "abandoned_by_reason", "bot_containment", "bot_open",
                                    "fallback_rate", "csat", "article_deflection"}
AGENT_KEYS = {"agent", "name", "handled", "first_response_p50", "resolution_p50", "csat", "occupancy"}


async def _desk_day(client: TestClient[Any, Any], runtime: Runtime) -> None:
    """Two escalations answered and solved by Alice (one rated 5), one bot-only chat ended, one waiting."""
    hub = runtime.hub
    assert hub is not None
    alice = await hub.accounts.create("alice", "correct horse battery", name="Alice Smith", roles=[Role.AGENT])
    await hub.accounts.create("sue", "supervisor pw", name="Sue", roles=[Role.SUPERVISOR])
    tokens = []
    for _ in range(3):
        token = await widget_session(client)
        await say(client, token, "I want a human")
        await hub.pipeline.drain()
        tokens.append(token)
    contained = await widget_session(client)
    await say(client, contained, "what are your opening hours")
    await hub.pipeline.drain()
    ended = await client.post("/api/widget/end", json={}, headers={"Authorization": f"Bearer {contained}"})
    assert ended.status == 200
    tickets = await hub.store.tickets.find({}, sort=[("number", 1)]).to_list()
    assert len(tickets) == 3
    for ticket in tickets[:2]:
        await hub.tickets.reply(ticket["_id"], alice, "Hello, sorted.", then_status="solved")
    await hub.tickets.rate(tickets[0]["_id"], 5)
    await hub.aggregates.catch_up(until=utcnow() + timedelta(seconds=1))


async def test_history_shape_filters_and_agreement_with_raw(client: TestClient[Any, Any], runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    await _desk_day(client, runtime)
    await login(client, "sue", "supervisor pw")
    start, end = (utcnow() - timedelta(hours=3)).isoformat(), (utcnow() + timedelta(hours=1)).isoformat()
    resp = await client.get("/api/metrics/history", params={"from": start, "to": end})
    assert resp.status == 200, await resp.text()
    data = await resp.json()
    assert data["bucket"] == "hour" and len(data["series"]) in (4, 5)
    assert set(data["series"][0]) >= SERIES_KEYS and set(data["totals"]) >= TOTALS_KEYS
    totals = data["totals"]
    assert (totals["opened"], totals["escalated"], totals["answered"], totals["solved"]) == (3, 3, 2, 2)
    assert (totals["csat_ratings"], totals["csat_satisfied"], totals["csat"]) == (1, 1, 1.0)
    # the bot took part in all four chats; three are closed (two solved after a handoff, one ended
    # without), the waiting one is open: containment 1 of 3, the open one shown apart
    assert (totals["bot_closed"], totals["bot_contained"], totals["bot_containment"]) == (3, 1, 0.3333)
    assert totals["bot_open"] == 0  # the waiting chat is escalated, no longer the bot's
    assert totals["service_level"] == 1.0 and totals["abandoned_by_reason"]["ended"] == 0
    assert sum(row["opened"] for row in data["series"]) == 3
    [alice] = data["agents"]
    assert set(alice) >= AGENT_KEYS
    assert (alice["agent"], alice["name"], alice["handled"], alice["csat"]) == ("alice", "Alice Smith", 2, 1.0)
    assert "log buckets" in data["percentile_error"]

    raw = await hub.history.raw(utcnow() - timedelta(hours=3), utcnow() + timedelta(hours=1))
    for name in ("opened", "escalated", "answered", "solved", "bot_closed", "csat_ratings", "abandoned"):
        assert raw["totals"][name] == totals[name]
    assert [r["opened"] for r in raw["series"]] == [r["opened"] for r in data["series"]]

    by_agent = await (await client.get("/api/metrics/history", params={"from": start, "to": end,
                                                                        "agent": "alice"})).json()
    assert by_agent["filters"] == {"agent": "alice"}
    assert by_agent["totals"]["solved"] == 2 and by_agent["totals"]["opened"] == 2  # the third is nobody's yet
    other_queue = await (await client.get("/api/metrics/history", params={"from": start, "to": end,
                                                                           "queue": "no-such-queue"})).json()
    assert other_queue["totals"]["opened"] == 0 and other_queue["agents"] == []
    week = {"from": (utcnow() - timedelta(days=6)).date().isoformat(),
            "to": (utcnow() + timedelta(days=1)).date().isoformat(), "channel": "widget"}
    days = await (await client.get("/api/metrics/history", params=week)).json()
    assert days["bucket"] == "day" and len(days["series"]) == 7 and days["totals"]["opened"] == 3


async def test_history_csv_matches_the_json(client: TestClient[Any, Any], runtime: Runtime) -> None:
    await _desk_day(client, runtime)
    await login(client, "sue", "supervisor pw")
    params = {"from": (utcnow() - timedelta(hours=3)).isoformat(), "to": (utcnow() + timedelta(hours=1)).isoformat()}
    data = await (await client.get("/api/metrics/history", params=params)).json()
    resp = await client.get("/api/metrics/history.csv", params={**params, "table": "series"})
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert resp.headers["Content-Disposition"].startswith("attachment; filename=\"history-series-")
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [int(r["opened"]) for r in rows] == [r["opened"] for r in data["series"]]
    agents = list(csv.DictReader(io.StringIO(await (await client.get(
        "/api/metrics/history.csv", params={**params, "table": "agents"})).text())))
    assert [(a["agent"], int(a["handled"])) for a in agents] == [("alice", 2)]
    totals = dict(csv.reader(io.StringIO(await (await client.get(
        "/api/metrics/history.csv", params={**params, "table": "totals"})).text())))
    assert totals["opened"] == "3" and totals["abandoned_by_reason.ended"] == "0"
    assert (await client.get("/api/metrics/history.csv", params={**params, "table": "nope"})).status == 400


async def test_history_refuses_bad_ranges_and_non_supervisors(client: TestClient[Any, Any], runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    assert (await client.get("/api/metrics/history")).status == 401
    await hub.accounts.create("al", "agent password", roles=[Role.AGENT])
    await hub.accounts.create("sue", "supervisor pw", roles=[Role.SUPERVISOR])
    await login(client, "al", "agent password")
    assert (await client.get("/api/metrics/history")).status == 403
    assert (await client.get("/api/metrics/history.csv")).status == 403
    await login(client, "sue", "supervisor pw")
    assert (await client.get("/api/metrics/history")).status == 200
    for params, reason in (({"from": "yesterday"}, "ISO 8601"),
                           ({"from": "2026-05-02", "to": "2026-05-01"}, "after"),
                           ({"from": "2025-01-01", "to": "2026-05-01"}, "366 days"),
                           ({"bucket": "week"}, "bucket"),
                           ({"agent": "nobody"}, "no agent"),
                           ({"to": "0001-01-01"}, "out of range"),
                           ({"from": "9999-12-31T23:30", "to": "9999-12-31T23:59"}, "out of range")):
        resp = await client.get("/api/metrics/history", params=params)
        assert resp.status == 400 and reason in (await resp.json())["error"], params


async def test_rebuild_from_the_command_line_beside_a_running_hub(
    client: TestClient[Any, Any], runtime: Runtime, tmp_path: Path
) -> None:
    hub = runtime.hub
    assert hub is not None
    await _desk_day(client, runtime)
    before = await hub.history.query(utcnow() - timedelta(hours=3), utcnow() + timedelta(hours=1))
    for name in ("metric_hours", "metric_rollups", "metric_contributions"):  # lost (or from before the upgrade)
        await hub.store.db[name].drop()
    empty = await hub.history.query(utcnow() - timedelta(hours=3), utcnow() + timedelta(hours=1))
    assert empty["totals"]["opened"] == 0
    code, out, err = await switchboard(runtime, tmp_path, "metrics", "rebuild", "--check")
    assert code == 0, err
    # three tickets and three closed bot conversations
    assert "rebuilt the history from the start: 6 records" in out and "matches the raw computation" in out
    after = await hub.history.query(utcnow() - timedelta(hours=3), utcnow() + timedelta(hours=1))
    assert after["totals"] == before["totals"] and after["series"] == before["series"]
    audit = await hub.store.audit.find_one({"action": "metrics.rebuilt"})
    assert audit is not None and audit["details"]["via"] == "cli"
    # the hub's batch job takes over again afterwards: a later change is applied once
    await hub.aggregates.catch_up(until=utcnow() + timedelta(seconds=1))
    again = await hub.history.query(utcnow() - timedelta(hours=3), utcnow() + timedelta(hours=1))
    assert again["totals"] == before["totals"]
    code, _, err = await switchboard(runtime, tmp_path, "metrics", "rebuild", "--from", "yesterday")
    assert code == 2 and "invalid fromisoformat value" in err


async def test_one_hub_at_a_time_runs_the_batch_job(
    client: TestClient[Any, Any], runtime: Runtime, settings: Settings, shop_bot: Any
) -> None:
    hub = runtime.hub
    assert hub is not None
    other = Runtime(settings)
    await other.start(bot=shop_bot)
    try:
        assert other.hub is not None
        await _desk_day(client, runtime)  # ends with this hub's batch job catching up (it holds the lease)
        assert await other.hub.aggregates.catch_up(until=utcnow() + timedelta(seconds=1)) == 0  # not the holder
        await hub.store.leases.update_one({"_id": "metrics.aggregates"}, {"$set": {"until": utcnow()}})  # expired
        assert await other.hub.aggregates.catch_up(until=utcnow() + timedelta(seconds=1)) == 0  # took over: no change
        history = await other.hub.history.query(utcnow() - timedelta(hours=3), utcnow() + timedelta(hours=1))
        assert history["totals"]["opened"] == 3 and history["totals"]["solved"] == 2
    finally:
        await other.stop()
