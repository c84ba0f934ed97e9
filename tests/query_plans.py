"""Checking that recorded queries are served by an index.

A PyMongo command listener (`Recorder`) records what the hub really sent while it served
a flow; `collection_scans` explains each distinct filter on the server and reports the
ones planned as a collection scan.
"""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient, monitoring

from hub.store import ONE_TIME

#: Collections whose whole content is listed on purpose (a handful of configured rows: small libraries an admin
#: curates).
LISTED_WHOLE = {"queues", "agents", "responses", "calendars", "widget_sites", "ticket_fields"}


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


def _by_id_value(flt: dict[str, Any]) -> bool:
    """A filter on one `_id` value (with conditions beside it) in a find, update or delete.

    secantusd-py fetches the document by `_id` and checks the rest on it, so the cost does not grow
    with the collection (tests/test_query_cost.py times these shapes at 1,000 and 20,000 documents),
    yet its `explain` reports a collection scan when other fields sit beside the `_id`. A findAndModify
    is not exempt: it really scans (see hub.store `Store.claim_by_id`).
    """
    value = flt.get("_id")
    return "_id" in flt and not (isinstance(value, dict) and any(k.startswith("$") for k in value))


def _stages(plan: dict[str, Any]) -> list[str]:
    found = [plan.get("stage", "")]
    for key in ("inputStage", "outerStage", "innerStage"):
        if key in plan:
            found += _stages(plan[key])
    for child in plan.get("inputStages", []):
        found += _stages(child)
    return found


async def collection_scans(uri: str, db_name: str, recorder: Recorder,
                           collections: set[str] | None = None) -> tuple[list[str], set[str]]:
    """(queries planned as collection scans, every distinct query explained)."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    db = mongo[db_name]
    scans: list[str] = []
    seen: set[str] = set()
    try:
        for name, cmd in list(recorder.commands):
            if cmd.get("$db") != db_name or cmd.get("comment") == ONE_TIME:
                continue  # another database, or a one-time pass (migration, rebuild)
            for coll, flt, sort, hint in _queries(name, cmd):
                if coll.startswith("attachments.") or (coll in LISTED_WHOLE and not flt):
                    continue
                if collections is not None and coll not in collections:
                    continue
                if name != "findAndModify" and _by_id_value(flt):
                    continue  # served by the `_id` index; explain calls it a scan (see _by_id_value)
                key = f"{coll} {sorted(flt)} {sort}"
                if key in seen:
                    continue
                seen.add(key)
                explain: dict[str, Any] = {"find": coll, "filter": flt}
                if sort:
                    explain["sort"] = sort
                if hint:
                    explain["hint"] = hint
                plan = (await db.command({"explain": explain}))["queryPlanner"]["winningPlan"]
                if "COLLSCAN" in _stages(plan):
                    scans.append(f"{coll}: {flt} sort={sort}")
    finally:
        await mongo.close()
    return scans, seen
