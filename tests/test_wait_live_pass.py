"""The running wait announcer: a ticket change costs only what it tells (hub.waitannouncer).

Full passes are a minute apart here, so every pass after the first is one a ticket change woke:
the test watches the hub's database commands to show those passes read nothing, while the
customers still see the line move.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pymongo import monitoring

from hub.hub import Hub
from hub.models import Role
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import make_settings, running
from tests.helpers import eventually
from tests.test_wait_announcements import _escalate


@dataclass
class Reads(monitoring.CommandListener):
    """The hub's finds, as (collection, filter, projection), and its writes of the live wait: for each command
    that made some, how many `queue.wait` events (inserts into `events`) and notice statements (updates and
    deletes of `wait_notices`) it carried, one client-level `bulkWrite` carrying all three (hub.laterwrites)."""

    finds: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    wait_writes: list[Counter[str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command = event.command
        carried: Counter[str] = Counter()
        if event.command_name == "find":
            with self._lock:
                self.finds.append((str(command["find"]), dict(command.get("filter") or {}),
                                   dict(command.get("projection") or {})))
        elif event.command_name == "insert" and command["insert"] == "events":
            carried["insert events"] = sum(1 for d in command.get("documents", []) if d.get("type") == "queue.wait")
        elif event.command_name in ("update", "delete") and command[event.command_name] == "wait_notices":
            statements = command.get("updates" if event.command_name == "update" else "deletes", [])
            carried[f"{event.command_name} wait_notices"] = len(statements)
        elif event.command_name == "bulkWrite":
            names = [info["ns"].rsplit(".", 1)[-1] for info in command.get("nsInfo", [])]
            for op in command.get("ops", []):
                kind = next(k for k in ("insert", "update", "delete") if k in op)
                if names[op[kind]] == "wait_notices":
                    carried[f"{kind} wait_notices"] += 1
                elif names[op[kind]] == "events" and kind == "insert" and op["document"].get("type") == "queue.wait":
                    carried["insert events"] += 1
        if +carried:
            with self._lock:
                self.wait_writes.append(+carried)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    return make_settings(mongo_uri, tmp_path, wait_announce_seconds=60)


@pytest.fixture
async def watched(settings: Settings, shop_bot: Any) -> AsyncIterator[tuple[Runtime, Reads]]:
    reads = Reads()
    async with running(settings, shop_bot, db_listeners=[reads]) as rt:
        yield rt, reads


async def _frames(hub: Hub, since: int) -> list[dict[str, Any]]:
    """The banner frames a widget customer is sent (channels/widget/http.py), after the first `since`: the
    escalation message's wait (a new ticket's place, told with the message) and the `queue.wait` events."""
    shown = [(m["_id"], m["thread_key"], m["metadata"]["wait"]["position"]) for m in await hub.store.messages.find(
        {"channel": "widget", "metadata.wait": {"$exists": True}}).to_list()]
    events = [(e["_id"], e["data"]["thread_key"], e["data"]["position"])
              for e in await hub.store.events.find({"type": "queue.wait"}).to_list()]
    return [{"who": who, "position": position} for _id, who, position in sorted(shown + events)[since:]]


async def _positions(hub: Hub, since: int, expected: list[tuple[str, int | None]]) -> None:
    async def arrived() -> bool:
        return [(f["who"], f["position"]) for f in await _frames(hub, since)] == expected

    await eventually(arrived, what=f"the frames {expected}")


async def test_passes_woken_by_changes_read_nothing(watched: tuple[Runtime, Reads]) -> None:
    rt, reads = watched
    hub = rt.hub
    assert hub is not None
    first = await _escalate(hub, "widget", "demo:visitor:first")
    await _positions(hub, 0, [("demo:visitor:first", 1)])  # the first full pass is over by now
    mark = len(reads.finds)

    await _escalate(hub, "widget", "demo:visitor:second")
    sms = await _escalate(hub, "sms", "+15550003333")

    async def noticed() -> bool:
        return await hub.store.wait_notices.count_documents({}) == 3

    await eventually(noticed, what="the appended customers' notices")
    await _positions(hub, 1, [("demo:visitor:second", 2)])  # the first, still first, is not told again
    # a new customer's banner is their escalation message's: the passes wrote no frame for them
    assert await hub.store.events.count_documents({"type": "queue.wait"}) == 0
    ann = await hub.accounts.create("ann", "ann's password", roles=[Role.AGENT])
    written = len(reads.wait_writes)
    await hub.tickets.assign(first["_id"], ann["_id"], ann)
    await _positions(hub, 1, [("demo:visitor:second", 2), ("demo:visitor:first", None), ("demo:visitor:second", 1)])

    async def sms_moved() -> bool:
        return (await hub.store.wait_notices.find_one({"_id": sms["_id"]}) or {}).get("position") == 2

    await eventually(sms_moved, what="the SMS customer's place")
    # the pass the assignment woke, in one command: the two banner frames, the two moved customers' notices and
    # the assigned one's deletion (a command per customer and frame until 2026-12-04, three commands until 12-05)
    assert reads.wait_writes[written:] == [Counter({"insert events": 2, "update wait_notices": 2,
                                                    "delete wait_notices": 1})]
    assert await hub.waiting("widget", "demo:visitor:second") is not None  # the durable copy, for reconnects
    after = reads.finds[mark:]
    assert [f for f in after if f[0] == "wait_notices" and "queue" in f[1]] == []  # no queue's notices read
    assert [f for f in after if f[0] == "tickets" and set(f[1]) == {"status", "queue"}] == []  # no line read
    assert [f for f in after if f[0] == "conversations" and f[2] == {"thread_key": 1}] == []  # seen on the stream
