"""Shared fixtures: one real secantusd-py server over TCP for the session, a fresh database per test."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from switchboard.bootstrap import Runtime, bot_dir
from switchboard.config import Settings, load_settings
from switchboard.embedded import EmbeddedServer

ROOT = Path(__file__).resolve().parent.parent
_db_counter = itertools.count()


@pytest.fixture(scope="session")
async def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A real MongoDB-wire server (secantusd-py) for the whole run, started like production does."""
    server = EmbeddedServer(tmp_path_factory.mktemp("secantus"))
    uri = await server.start()
    yield uri
    server.stop()


@pytest.fixture(scope="session")
async def shop_bot() -> Any:
    """The built-in bot trained on the starter shop data (trained once per run)."""
    from bot.service import build_bot

    return await build_bot(bot_dir(load_settings()))


def make_settings(uri: str, data_dir: Path, **overrides: Any) -> Settings:
    settings = load_settings(ROOT / "config" / "switchboard.yml", mongodb_uri=uri, data_dir=data_dir,
                             db_name=f"test_{next(_db_counter)}_{data_dir.name[:20]}", secret="test-secret")
    settings.outbox = {"base_seconds": 0.05, "max_seconds": 0.2, "max_attempts": 4}
    settings.channels["widget"]["sites"]["demo"]["identity_secret"] = "site-identity-secret"
    for key, value in overrides.items():
        setattr(settings, key, value)
    return settings


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    return make_settings(mongo_uri, tmp_path)


@asynccontextmanager
async def running(settings: Settings, bot: Any, db_listeners: list[Any] | None = None) -> AsyncIterator[Runtime]:
    """A started hub on `settings` (channels configured before), stopped and its database dropped after.

    `db_listeners`: PyMongo command listeners (tests that count or explain the hub's queries)."""
    rt = Runtime(settings, db_listeners=db_listeners or [])
    await rt.start(bot=bot)
    try:
        yield rt
    finally:
        await rt.stop()
        await _drop(settings)


@asynccontextmanager
async def http_client(rt: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    """An HTTP client talking to the hub over a real loopback TCP socket."""
    assert rt.app is not None
    async with TestClient(TestServer(rt.app, host="127.0.0.1")) as c:
        yield c


@pytest.fixture
async def runtime(settings: Settings, shop_bot: Any) -> AsyncIterator[Runtime]:
    async with running(settings, shop_bot) as rt:
        yield rt


async def _drop(settings: Settings) -> None:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    await client.drop_database(settings.db_name)
    await client.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    async with http_client(runtime) as c:
        yield c


async def login(client: TestClient[Any, Any], username: str, password: str) -> str:
    resp = await client.post("/api/auth/login", data=json.dumps({"username": username, "password": password}),
                             headers={"Content-Type": "application/json"})
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["csrf"])


@pytest.fixture
async def agent(runtime: Runtime, client: TestClient[Any, Any]) -> dict[str, Any]:
    """A logged-in agent: its account and CSRF token (the client carries the session cookie)."""
    from hub.models import Role

    assert runtime.hub is not None
    account = await runtime.hub.accounts.create("alice", "correct horse battery", name="Alice",
                                                roles=[Role.AGENT])
    csrf = await login(client, "alice", "correct horse battery")
    return {"account": account, "csrf": csrf}
