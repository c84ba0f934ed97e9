"""Fixtures: a hub with the Telegram channel enabled, pointed at a local Bot API stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.realtime import Subscription
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import http_client, running
from tests.telegram.standin import TelegramStandIn

BOT_TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET_TOKEN = "s3cr3t-Webhook_token-42"
WEBHOOK = "/webhooks/telegram/support"


def telegram_config(standin: TelegramStandIn) -> dict[str, Any]:
    return {"enabled": True, "api_base_url": standin.base_url,
            "bots": {"support": {"token": BOT_TOKEN, "secret_token": SECRET_TOKEN}}}


@pytest.fixture
async def telegram_api() -> AsyncIterator[TelegramStandIn]:
    standin = TelegramStandIn(BOT_TOKEN)
    await standin.start()
    yield standin
    await standin.close()


@pytest.fixture
async def telegram_runtime(settings: Settings, shop_bot: Any, telegram_api: TelegramStandIn) -> AsyncIterator[Runtime]:
    settings.channels["telegram"] = telegram_config(telegram_api)
    async with running(settings, shop_bot) as rt:
        yield rt


@pytest.fixture
async def telegram_client(telegram_runtime: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    async with http_client(telegram_runtime) as client:
        yield client


@pytest.fixture
async def changes(telegram_runtime: Runtime) -> AsyncIterator[Subscription]:
    assert telegram_runtime.hub is not None
    sub = telegram_runtime.hub.bus.subscribe()
    yield sub
    sub.close()


PostUpdate = Callable[..., Awaitable[Any]]


@pytest.fixture
def post_update(telegram_client: TestClient[Any, Any]) -> PostUpdate:
    """POST an update the way Telegram delivers it: JSON body, the secret token header."""

    async def post(update: dict[str, Any] | bytes, *, secret: str | None = SECRET_TOKEN,
                   path: str = WEBHOOK) -> Any:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        if isinstance(update, bytes):
            return await telegram_client.post(path, data=update, headers=headers)
        return await telegram_client.post(path, json=update, headers=headers)

    return post


async def wait_until(sub: Subscription, check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    """Re-check `check` on every change the hub makes, until it holds (bounded by `timeout`)."""
    async with asyncio.timeout(timeout):
        while not await check():
            await sub.get()
