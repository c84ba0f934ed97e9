"""Fixtures: a hub with the Slack channel enabled, pointed at a local Slack stand-in."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.realtime import Subscription
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import http_client, running
from tests.slack.standin import SlackStandIn

BOT_TOKEN = "xoxb-1111111111-2222222222-TestTokenForStandIn"
#: The app-level token Socket Mode connects with (scope connections:write).
APP_TOKEN = "xapp-1-A0SWITCHB1-3333333333-TestAppTokenForStandIn"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PATH = "/webhooks/slack/events"


def sign(body: bytes, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Slack's v0 signature: HMAC-SHA256 over `v0:<timestamp>:<body>` with the signing secret."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


@pytest.fixture
async def slack_api() -> AsyncIterator[SlackStandIn]:
    standin = SlackStandIn(BOT_TOKEN, APP_TOKEN)
    await standin.start()
    yield standin
    await standin.close()


@pytest.fixture
async def slack_runtime(settings: Settings, shop_bot: Any, slack_api: SlackStandIn) -> AsyncIterator[Runtime]:
    settings.channels["slack"] = {
        "enabled": True,
        "bot_token": BOT_TOKEN,
        "signing_secret": SIGNING_SECRET,
        "api_base_url": f"{slack_api.base_url}/api/",
        "file_base_url": slack_api.base_url,
    }
    async with running(settings, shop_bot) as rt:
        yield rt


@pytest.fixture
async def slack_client(slack_runtime: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    async with http_client(slack_runtime) as client:
        yield client


@pytest.fixture
async def changes(slack_runtime: Runtime) -> AsyncIterator[Subscription]:
    """The hub's realtime feed, subscribed before the test acts, to wait on deliveries."""
    assert slack_runtime.hub is not None
    sub = slack_runtime.hub.bus.subscribe()
    yield sub
    sub.close()


PostEvent = Callable[..., Awaitable[Any]]


@pytest.fixture
def post_event(slack_client: TestClient[Any, Any]) -> PostEvent:
    """POST a payload to the Events endpoint, signed like Slack signs it (or as told)."""

    async def post(payload: dict[str, Any] | bytes, *, timestamp: int | None = None, secret: str = SIGNING_SECRET,
                   headers: dict[str, str] | None = None, form: bool = False) -> Any:
        if isinstance(payload, bytes):
            body, content_type = payload, "application/json"
        elif form:
            from urllib.parse import urlencode

            body = urlencode({"payload": json.dumps(payload)}).encode()
            content_type = "application/x-www-form-urlencoded"
        else:
            body, content_type = json.dumps(payload).encode(), "application/json"
        all_headers = {"Content-Type": content_type, **sign(body, timestamp, secret), **(headers or {})}
        return await slack_client.post(PATH, data=body, headers=all_headers)

    return post


async def wait_until(sub: Subscription, check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    """Re-check `check` on every change the hub makes, until it holds (bounded by `timeout`)."""
    async with asyncio.timeout(timeout):
        while not await check():
            await sub.get()


async def assert_delivery_times_pressed(hub: Any, conversation_id: Any) -> None:
    """The customer's press of the "Delivery times" quick reply is stored in that conversation
    as its payload, and the bot read it as the intent it names."""
    await hub.pipeline.drain()
    click = await hub.store.messages.find_one({"channel": "slack", "direction": "in", "text": "/shipping_times"})
    assert click is not None
    assert click["conversation_id"] == conversation_id
    assert click["metadata"]["slack"]["button"] == "Delivery times"
    assert click["nlu"]["intent"] == "shipping_times"
