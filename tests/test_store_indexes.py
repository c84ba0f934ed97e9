"""Every query the hub runs is served by an index (secantusd-py scans at tens of queries a second).

Instead of a hand-kept list of queries, a PyMongo command listener records what the hub
really sent while it served a full customer → bot → escalation → agent flow; each recorded
filter is then explained on the server and must not plan a collection scan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pymongo import AsyncMongoClient, monitoring

from hub.models import Role
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import _drop, login
from tests.helpers import eventually
from tests.test_widget_flow import history, say, widget_session

#: Collections whose whole content is listed on purpose (a handful of configured rows).
LISTED_WHOLE = {"queues", "agents"}


class Recorder(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in ("find", "findAndModify", "update", "delete", "aggregate", "count"):
            self.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


Query = tuple[str, dict[str, Any], Any, Any]


def _queries(name: str, cmd: dict[str, Any]) -> list[Query]:
    """(collection, filter, sort, hint) inside one recorded command."""
    coll = cmd[name]
    if name == "find":
        return [(coll, cmd.get("filter", {}), cmd.get("sort"), cmd.get("hint"))]
    if name == "findAndModify":
        return [(coll, cmd.get("query", {}), cmd.get("sort"), cmd.get("hint"))]
    if name == "update":
        return [(coll, u["q"], None, u.get("hint")) for u in cmd.get("updates", [])]
    if name == "delete":
        return [(coll, d["q"], None, d.get("hint")) for d in cmd.get("deletes", [])]
    if name == "aggregate":
        stages = cmd.get("pipeline", [])
        if any("$changeStream" in s for s in stages) or not stages or "$match" not in stages[0]:
            return []
        return [(coll, stages[0]["$match"], None, cmd.get("hint"))]
    return [(coll, cmd.get("query", {}), None, cmd.get("hint"))]


def _stages(plan: dict[str, Any]) -> list[str]:
    found = [plan.get("stage", "")]
    for key in ("inputStage", "outerStage", "innerStage"):
        if key in plan:
            found += _stages(plan[key])
    for child in plan.get("inputStages", []):
        found += _stages(child)
    return found


@pytest.fixture
async def recorded(settings: Settings, shop_bot: Any) -> AsyncIterator[tuple[Runtime, Recorder]]:
    recorder = Recorder()
    rt = Runtime(settings, db_listeners=[recorder])
    await rt.start(bot=shop_bot)
    yield rt, recorder
    await rt.stop()
    await _drop(settings)


async def test_every_hub_query_uses_an_index(recorded: tuple[Runtime, Recorder], settings: Settings) -> None:
    runtime, recorder = recorded
    assert runtime.app is not None and runtime.hub is not None
    hub = runtime.hub
    await hub.accounts.create("ivy", "ivy's password", roles=[Role.AGENT, Role.SUPERVISOR])
    async with TestClient(TestServer(runtime.app, host="127.0.0.1")) as client:
        csrf = await login(client, "ivy", "ivy's password")
        token = await widget_session(client)
        await say(client, token, "where is my order 12345")
        await say(client, token, "I want to talk to a human")
        await hub.pipeline.drain()
        await history(client, token)
        tickets = (await (await client.get("/api/tickets")).json())["tickets"]
        ticket_id = tickets[0]["id"]
        await client.get("/api/queues")
        detail = await (await client.get(f"/api/tickets/{ticket_id}")).json()
        await client.get(f"/api/contacts/{detail['contact']['_id']}")
        await client.post(f"/api/tickets/{ticket_id}/reply", json={"text": "hi", "status": "pending"},
                          headers={"X-CSRF-Token": csrf})
        await say(client, token, "thanks")
        await hub.pipeline.drain()
        await client.post(f"/api/tickets/{ticket_id}/status", json={"status": "solved"},
                          headers={"X-CSRF-Token": csrf})

        async def delivered() -> bool:
            return await hub.store.outbox.count_documents({"status": "sent"}) >= 3

        await eventually(delivered, what="outbox deliveries")
        await hub.pipeline.recover()

    client_: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    db = client_[settings.db_name]
    scans: list[str] = []
    seen: set[str] = set()
    try:
        for name, cmd in list(recorder.commands):
            if cmd.get("$db") != settings.db_name:
                continue
            for coll, flt, sort, hint in _queries(name, cmd):
                if coll.startswith("attachments.") or (coll in LISTED_WHOLE and not flt):
                    continue
                key = f"{coll} {sorted(flt)} {sort}"
                if key in seen:
                    continue
                seen.add(key)
                explain_cmd: dict[str, Any] = {"find": coll, "filter": flt}
                if sort:
                    explain_cmd["sort"] = sort
                if hint:
                    explain_cmd["hint"] = hint
                plan = (await db.command({"explain": explain_cmd}))["queryPlanner"]["winningPlan"]
                if "COLLSCAN" in _stages(plan):
                    scans.append(f"{coll}: {flt} sort={sort}")
    finally:
        await client_.close()
    assert len(seen) >= 15, f"only {len(seen)} distinct queries recorded"
    assert scans == [], "collection scans:\n" + "\n".join(scans)
