"""Fixtures for the phone channel: the hub with `channels.phone` enabled, and a Twilio API stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import http_client, running
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
    async with running(settings, shop_bot) as rt:
        yield rt


@pytest.fixture
async def phone(phone_runtime: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    """An HTTP client reaching the hub over loopback TCP, as Twilio's requests do through the proxy."""
    async with http_client(phone_runtime) as client:
        yield client
