"""Accepted means stored: the embedded database is SIGKILLed again and again under a steady widget load.

Visitors send messages over real HTTP, each with its own client id, and retry every one
that did not get 202 with the same id (as widget.js does). The hub's own supervised
database is killed after every few accepted messages, so kills land while inserts are
in flight. Afterwards every message that got 202 is stored exactly once, under the id
the 202 reported, and nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from pymongo import monitoring

from hub.models import InboundMessage, Sender
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import _drop, http_client, make_settings
from tests.helpers import eventually

VISITORS = 4
KILLS = 5
#: Accepted messages between two kills (a count, not a time).
EVERY = 12


class Load:
    """The visitors' shared tally; the killer waits on it."""

    def __init__(self) -> None:
        self.accepted: dict[str, str] = {}  # client id -> message id the 202 reported
        self.retries = 0
        self.duplicates = 0
        self.progress = asyncio.Condition()
        self.done = asyncio.Event()

    async def reached(self, count: int) -> None:
        async with self.progress:
            await self.progress.wait_for(lambda: len(self.accepted) >= count)

    async def visitor(self, client: TestClient[Any, Any], number: int) -> None:
        session = await client.post("/api/widget/session", json={"site": "demo"})
        assert session.status == 200, await session.text()
        auth = {"Authorization": f"Bearer {(await session.json())['token']}"}
        sent = 0
        while not self.done.is_set():
            client_id = f"visitor{number}-msg{sent:04d}"
            body = {"text": f"what are your opening hours? ({sent})", "client_id": client_id}
            while True:  # the same client id until the hub says 202
                try:
                    resp = await client.post("/api/widget/messages", json=body, headers=auth)
                    if resp.status == 202:
                        reply = await resp.json()
                        break
                    assert resp.status == 503, (resp.status, await resp.text())
                except aiohttp.ClientError:
                    pass
                self.retries += 1
            self.duplicates += reply["duplicate"]
            async with self.progress:
                self.accepted[client_id] = reply["message_id"]
                self.progress.notify_all()
            sent += 1


async def test_every_accepted_message_is_stored_exactly_once_across_database_kills(
    tmp_path: Path, shop_bot: Any
) -> None:
    settings = make_settings("", tmp_path / "var", mongodb_uri=None)
    # Four visitors writing as fast as the hub answers, from one address, and resending at once on 503: a flood
    # the widget's message limits would rightly refuse (429). What this checks is durability, so they are lifted.
    settings.channels["widget"]["rate_limits"] = {"per_chat": [], "per_address": []}
    runtime = Runtime(settings)
    await runtime.start(bot=shop_bot)
    try:
        assert runtime.embedded is not None and runtime.hub is not None
        load = Load()
        async with http_client(runtime) as client:
            visitors = [asyncio.create_task(load.visitor(client, n)) for n in range(VISITORS)]
            killed: list[int] = []
            try:
                for kill in range(1, KILLS + 1):
                    await asyncio.wait_for(load.reached(kill * EVERY), timeout=60)
                    process = runtime.embedded.process
                    assert process is not None and process.pid not in killed  # a restarted server each time
                    os.kill(process.pid, signal.SIGKILL)
                    killed.append(process.pid)
                await asyncio.wait_for(load.reached((KILLS + 1) * EVERY), timeout=60)
            finally:
                load.done.set()
                await asyncio.gather(*visitors)

            async def healthy() -> bool:
                return (await client.get("/healthz")).status == 200

            await eventually(healthy, timeout=30, what="the database to be back after the last kill")

        stored = [doc async for doc in runtime.hub.store.messages.find(
            {"channel": "widget", "direction": "in"}, projection={"external_id": 1})]
        copies = Counter(doc["external_id"].rsplit(":", 1)[1] for doc in stored)
        twice = {cid: n for cid, n in copies.items() if n > 1}
        assert not twice, f"stored more than once: {twice}"
        lost = sorted(set(load.accepted) - set(copies))
        assert not lost, f"accepted (202) but not stored: {lost}"
        ids = {doc["external_id"].rsplit(":", 1)[1]: str(doc["_id"]) for doc in stored}
        assert {cid: ids[cid] for cid in load.accepted} == load.accepted  # stored under the id the 202 reported
        assert set(copies) == set(load.accepted)  # every message sent was eventually accepted
        assert len(killed) == KILLS
        print(json.dumps({"test": "database_kill", "kills": len(killed), "accepted": len(load.accepted),
                          "retries": load.retries, "duplicate_replies": load.duplicates}))
    finally:
        await runtime.stop()


class Inserts(monitoring.CommandListener):
    """Records the `insert` commands the hub sends, with their write concern."""

    def __init__(self) -> None:
        self.inserts: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "insert":
            self.inserts.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_the_insert_that_accepts_a_message_waits_for_the_journal_and_a_majority(
    settings: Settings, shop_bot: Any
) -> None:
    """A kill lands in a window of milliseconds, so the load test alone rarely sees an unjournaled write lost;
    this checks the write concern on the wire (secantusd-py fsyncs its journal before answering a j:true write)."""
    recorder = Inserts()
    runtime = Runtime(settings, db_listeners=[recorder])
    await runtime.start(bot=shop_bot)
    try:
        assert runtime.hub is not None
        result = await runtime.hub.ingest(InboundMessage(channel="widget", external_id="demo:v1:journal-1",
                                                         thread_key="demo:v1", sender=Sender("demo:v1"),
                                                         text="hello"))
        [accepting] = [cmd for cmd in recorder.inserts
                       if cmd["insert"] == "messages" and cmd["documents"][0].get("external_id") == "demo:v1:journal-1"]
        assert str(accepting["documents"][0]["_id"]) == result.message_id
        assert accepting["writeConcern"] == {"w": "majority", "j": True}
        await runtime.hub.pipeline.drain()
    finally:
        await runtime.stop()
        await _drop(settings)
