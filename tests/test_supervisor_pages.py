"""The supervisor pages' own API: tickets about to breach SLA, the history filters' choices, the chart bundle."""

from __future__ import annotations

import gzip
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import Role, utcnow
from switchboard.bootstrap import Runtime
from tests.conftest import login
from tests.test_widget_flow import say, widget_session


async def _supervisor(runtime: Runtime, client: TestClient[Any, Any]) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("sue", "correct horse battery", name="Sue Visor", roles=[Role.SUPERVISOR])
    await runtime.hub.accounts.create("al", "correct horse battery", name="Al Agent", roles=[Role.AGENT])
    await login(client, "sue", "correct horse battery")


async def _ticket(client: TestClient[Any, Any], runtime: Runtime, name: str) -> Any:
    """A real escalation from a widget visitor called `name`: the ticket the hub opened."""
    assert runtime.hub is not None
    token = await widget_session(client, name=name)
    await say(client, token, "I want a human")
    await runtime.hub.pipeline.drain()
    ticket = await runtime.hub.store.tickets.find_one({}, sort=[("number", -1)])
    assert ticket is not None
    return ticket


async def _due_in(runtime: Runtime, ticket: Any, seconds: float) -> None:
    """Move the ticket's first-response clock, as time passing would, and let the index see it."""
    assert runtime.hub is not None
    due = utcnow() + timedelta(seconds=seconds)
    await runtime.hub.store.tickets.update_one({"_id": ticket["_id"]}, {"$set": {"sla.first_response_due": due}})
    await runtime.hub.tickets.index.refresh(ticket["_id"])


async def test_at_risk_lists_overdue_then_due_soon_tickets_by_name_only(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    await _supervisor(runtime, client)
    overdue = await _ticket(client, runtime, "Olga Overdue")
    soon = await _ticket(client, runtime, "Sam Soon")
    later = await _ticket(client, runtime, "Lee Later")
    solved = await _ticket(client, runtime, "Sol Solved")
    await _due_in(runtime, overdue, -120)
    await _due_in(runtime, soon, 300)
    await _due_in(runtime, later, 7200)
    await _due_in(runtime, solved, -60)
    assert runtime.hub is not None
    await runtime.hub.store.tickets.update_one({"_id": solved["_id"]}, {"$set": {"status": "solved"}})
    await runtime.hub.tickets.index.refresh(solved["_id"])

    resp = await client.get("/api/metrics/at-risk?minutes=15")
    assert resp.status == 200, await resp.text()
    rows = (await resp.json())["tickets"]
    assert [r["number"] for r in rows] == [overdue["number"], soon["number"]]
    assert [r["customer"] for r in rows] == ["Olga Overdue", "Sam Soon"]
    assert rows[0]["breached"] is True and rows[0]["seconds_left"] <= -119
    assert rows[1]["breached"] is False and 0 < rows[1]["seconds_left"] <= 300
    assert rows[0]["clock"] == "first_response" and rows[0]["assignee"] is None
    # a longer horizon takes in the later ticket; the solved one never shows
    rows = (await (await client.get("/api/metrics/at-risk?minutes=180")).json())["tickets"]
    assert [r["number"] for r in rows] == [overdue["number"], soon["number"], later["number"]]


async def test_at_risk_and_filters_refuse_bad_input_and_non_supervisors(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    assert (await client.get("/api/metrics/at-risk")).status == 403  # an agent, not a supervisor
    assert (await client.get("/api/metrics/filters")).status == 403
    await _supervisor(runtime, client)
    for bad in ("minutes=0", "minutes=abc", "minutes=2000", "limit=0", "limit=101"):
        resp = await client.get(f"/api/metrics/at-risk?{bad}")
        assert resp.status == 400, bad
        assert "error" in await resp.json()


async def test_filter_choices_name_queues_agents_and_channels(client: TestClient[Any, Any], runtime: Runtime) -> None:
    await _supervisor(runtime, client)
    data = await (await client.get("/api/metrics/filters")).json()
    assert runtime.hub is not None
    assert [q["value"] for q in data["queues"]] == sorted(runtime.hub.tickets.queues)
    general = next(q for q in data["queues"] if q["value"] == "general")
    assert general["answer_target_seconds"] == runtime.hub.tickets.queues["general"].answer_target_seconds
    assert 0 < general["service_level_goal"] <= 1
    labels = [a["label"] for a in data["agents"]]
    assert "Al Agent" in labels and "Sue Visor" not in labels  # people who take tickets, by name
    assert "widget" in [c["value"] for c in data["channels"]]
    assert isinstance(data["intents"], list)


async def test_plotly_bundle_is_served_from_the_installed_package_with_long_caching(
    client: TestClient[Any, Any]
) -> None:
    import importlib.resources

    shipped = (importlib.resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    resp = await client.get("/static/vendor/plotly.min.js", headers={"Accept-Encoding": "identity"},
                            auto_decompress=False)
    assert resp.status == 200 and resp.content_type == "text/javascript"
    assert await resp.read() == shipped
    assert "max-age=604800" in resp.headers["Cache-Control"] and "public" in resp.headers["Cache-Control"]
    etag = resp.headers["ETag"]
    packed = await client.get("/static/vendor/plotly.min.js", headers={"Accept-Encoding": "gzip"},
                              auto_decompress=False)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await packed.read()) == shipped
    again = await client.get("/static/vendor/plotly.min.js", headers={"If-None-Match": etag})
    assert again.status == 304


async def test_every_history_figure_has_a_definition_on_the_page(client: TestClient[Any, Any],
                                                                 runtime: Runtime) -> None:
    """The page explains each figure the history API serves (agents_ui/static/metricdefs.js `DEFS`), so a
    figure added to the API without its words fails here."""
    await _supervisor(runtime, client)
    resp = await client.get("/api/metrics/history")
    assert resp.status == 200, await resp.text()
    data = await resp.json()
    source = (Path(__file__).parent.parent / "agents_ui" / "static" / "metricdefs.js").read_text()
    defined = set(re.findall(r"^  (\w+): \"", source, flags=re.M))
    served = {k for k in data["totals"] if not isinstance(data["totals"][k], dict)}
    served |= {k for k in data["series"][0] if k != "t"} if data["series"] else set()
    tables = source + (Path(__file__).parent.parent / "agents_ui" / "static" / "historytables.js").read_text()
    shown = set(re.findall(r"\[\"(\w+)\", \"", tables))
    assert served - defined == set(), f"figures without a definition: {sorted(served - defined)}"
    assert {"handled", "occupancy", "csat", "first_response_p50", "resolution_p50"} <= defined & shown
