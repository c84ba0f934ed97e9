"""Fixtures for the phone channel: the hub with `channels.phone` enabled, and a Twilio API stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import _drop
from tests.phone.twilio_standin import TwilioStandIn
from tests.phone.twilio_webhooks import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL


@pytest.fixture
async def twilio_api() -> AsyncIterator[TwilioStandIn]:
    standin = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN)
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture
async def phone_runtime(settings: Settings, shop_bot: Any, twilio_api: TwilioStandIn) -> AsyncIterator[Runtime]:
    settings.channels["phone"] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "public_url": PUBLIC_URL,
        "api_base_url": twilio_api.url,
        "timeout_seconds": 5,
    }
    rt = Runtime(settings)
    await rt.start(bot=shop_bot)
    yield rt
    await rt.stop()
    await _drop(settings)


@pytest.fixture
async def phone(phone_runtime: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    """An HTTP client reaching the hub over loopback TCP, as Twilio's requests do through the proxy."""
    assert phone_runtime.app is not None
    async with TestClient(TestServer(phone_runtime.app, host="127.0.0.1")) as client:
        yield client
