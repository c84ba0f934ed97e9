"""Fixtures: a hub with every channel configured against the local stand-ins (Slack, Telegram, Twilio,
the SMTP relay, Dovecot), and an admin logged in to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.models import Role
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import http_client, login, running
from tests.email.conftest import dovecot, email_config, relay, tls_files  # noqa: F401 (fixtures)
from tests.email.dovecot import PASSWORD, USER, Dovecot
from tests.email.relay import RelayStandIn
from tests.phone.conftest import twilio_api  # noqa: F401 (fixture)
from tests.phone.twilio_standin import TwilioStandIn
from tests.phone.twilio_webhooks import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL
from tests.slack.conftest import BOT_TOKEN, SIGNING_SECRET, slack_api  # noqa: F401 (fixture)
from tests.slack.standin import SlackStandIn
from tests.telegram.conftest import telegram_api, telegram_config  # noqa: F401 (fixture)
from tests.telegram.standin import TelegramStandIn

#: SWITCHBOARD_SECRET_KEY in these tests.
KEY = "tests-only-key-0123456789-abcdefghijklmnop"


@pytest.fixture
def channel_settings(settings: Settings, slack_api: SlackStandIn, telegram_api: TelegramStandIn,  # noqa: F811
                     twilio_api: TwilioStandIn, relay: RelayStandIn, tls_files: Any,  # noqa: F811
                     dovecot: Dovecot) -> Settings:  # noqa: F811
    settings.secret_key = KEY
    settings.channels["slack"] = {"enabled": True, "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET,
                                  "api_base_url": f"{slack_api.base_url}/api/", "file_base_url": slack_api.base_url}
    settings.channels["telegram"] = telegram_config(telegram_api)
    settings.channels["phone"] = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "public_url": PUBLIC_URL,
                                  "api_base_url": twilio_api.url, "timeout_seconds": 5}
    email = email_config(relay.port, tls_files.cert)
    email["smtp_listener"]["enabled"] = False
    email["mailboxes"]["support"]["imap"] = {"host": "127.0.0.1", "port": dovecot.port, "tls": False,
                                             "username": USER, "password": PASSWORD, "folder": "INBOX",
                                             "poll_seconds": 600, "idle": False, "timeout": 10}
    settings.channels["email"] = email
    return settings


@pytest.fixture
async def channels_runtime(channel_settings: Settings, shop_bot: Any) -> AsyncIterator[Runtime]:
    async with running(channel_settings, shop_bot) as rt:
        yield rt


@dataclass
class Admin:
    client: TestClient[Any, Any]
    headers: dict[str, str]
    runtime: Runtime

    async def get(self) -> dict[str, Any]:
        resp = await self.client.get("/api/admin/channels")
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())

    async def card(self, name: str) -> dict[str, Any]:
        return next(c for c in (await self.get())["channels"] if c["name"] == name)

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self.client.post(f"/api/admin/channels/{path}", json=body or {}, headers=self.headers)


async def admin_of(runtime: Runtime, client: TestClient[Any, Any]) -> Admin:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("ada", "ada's long password", name="Ada", roles=[Role.ADMIN])
    return Admin(client, {"X-CSRF-Token": await login(client, "ada", "ada's long password")}, runtime)


@pytest.fixture
async def admin(channels_runtime: Runtime) -> AsyncIterator[Admin]:
    async with http_client(channels_runtime) as client:
        yield await admin_of(channels_runtime, client)
