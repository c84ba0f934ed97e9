"""Fixtures for the trainer workbench: a hub with its OWN bot (trainings here must not change
the session's shared `shop_bot`), a logged-in trainer, and a desk WebSocket to watch jobs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient

from bot.service import BotService, build_bot
from hub.models import Role
from switchboard.bootstrap import Runtime, bot_dir
from switchboard.config import Settings, load_settings
from tests.conftest import http_client, login, running

TRAINER_PASSWORD = "trainer password 1"


@pytest.fixture
async def own_bot() -> BotService:
    """A fresh built-in bot on the starter data (1-2 s to train with the built-in negatives)."""
    return await build_bot(bot_dir(load_settings()))


@pytest.fixture
async def trainer_runtime(settings: Settings, own_bot: BotService) -> AsyncIterator[Runtime]:
    async with running(settings, own_bot) as rt:
        yield rt


@pytest.fixture
async def tclient(trainer_runtime: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    async with http_client(trainer_runtime) as c:
        yield c


@dataclass
class Api:
    """JSON calls as one logged-in desk user (CSRF header on unsafe methods)."""

    client: TestClient[Any, Any]
    csrf: str

    async def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        headers = {"X-CSRF-Token": self.csrf} if method != "GET" else {}
        resp = await self.client.request(method, path, json=body, headers=headers)
        text = await resp.text()
        assert resp.status == status, f"{method} {path}: {resp.status} {text}"
        return json.loads(text) if resp.content_type == "application/json" else text

    async def get(self, path: str, status: int = 200) -> Any:
        return await self.call("GET", path, status=status)

    async def post(self, path: str, body: Any = None, status: int = 200) -> Any:
        return await self.call("POST", path, {} if body is None else body, status)

    async def put(self, path: str, body: Any, status: int = 200) -> Any:
        return await self.call("PUT", path, body, status)

    async def delete(self, path: str, status: int = 200) -> Any:
        return await self.call("DELETE", path, status=status)


async def make_user(runtime: Runtime, client: TestClient[Any, Any], username: str, roles: list[Role]) -> Api:
    assert runtime.hub is not None
    await runtime.hub.accounts.create(username, TRAINER_PASSWORD, name=username.title(), roles=roles)
    return Api(client, await login(client, username, TRAINER_PASSWORD))


@pytest.fixture
async def trainer(trainer_runtime: Runtime, tclient: TestClient[Any, Any]) -> Api:
    return await make_user(trainer_runtime, tclient, "tina", [Role.TRAINER])


async def desk_socket(client: TestClient[Any, Any]) -> ClientWebSocketResponse:
    return await client.ws_connect("/api/desk/ws")


async def job_events(ws: ClientWebSocketResponse, job_id: str, seconds: float = 60.0) -> list[dict[str, Any]]:
    """The `bot.training` events of one job as the desk WebSocket delivers them, until it ends."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(seconds):
        while True:
            msg = await ws.receive()
            assert msg.type == WSMsgType.TEXT, msg
            data = json.loads(msg.data)
            event = data.get("event") or {}
            if data.get("type") == "event" and event.get("type") == "bot.training" and event.get("job_id") == job_id:
                seen.append(event)
                if event["status"] != "running":
                    return seen


async def subscribed(ws: ClientWebSocketResponse, runtime: Runtime) -> None:
    """Return once the socket's server side follows the bus: a ping event made the round trip.

    The desk subscribes right after the handshake, so the first ping may come too early;
    each attempt waits a bounded time for its own marker.
    """
    assert runtime.hub is not None
    from hub.models import utcnow

    for attempt in range(20):
        marker = f"{id(ws)}-{attempt}"
        await runtime.hub.store.append_event("bot.ping", utcnow(), data={"marker": marker})
        try:
            async with asyncio.timeout(0.5):
                while True:
                    data = json.loads((await ws.receive()).data)
                    if data.get("type") == "event" and (data["event"].get("data") or {}).get("marker") == marker:
                        return
        except TimeoutError:
            continue
    raise AssertionError("the desk WebSocket never delivered an event")


async def finished_job(subscription: Any, job_id: str, seconds: float = 60.0) -> dict[str, Any]:
    """The final `bot.training` event of a job, read from a realtime-bus subscription."""
    async with asyncio.timeout(seconds):
        while True:
            change = await subscription.get()
            doc = change.document
            if (change.collection == "events" and doc.get("type") == "bot.training"
                    and doc.get("job_id") == job_id and doc.get("status") != "running"):
                return dict(doc)
