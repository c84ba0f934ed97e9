"""An admin opens the Channels page: a card per channel with its state and the URLs to paste, checks
Slack's credentials (ok, then a wrong token stored in the page fails with the reason), sends a test
message that goes out through the outbox; secrets are never shown back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.browser.conftest import desk_login, screenshot
from tests.channels_admin.conftest import KEY
from tests.conftest import running
from tests.slack.conftest import BOT_TOKEN, SIGNING_SECRET, slack_api  # noqa: F401 (fixture)
from tests.slack.standin import SlackStandIn
from tests.telegram.conftest import telegram_api, telegram_config  # noqa: F401 (fixture)
from tests.telegram.standin import TelegramStandIn

WRONG = "xoxb-0000000000-0000000000-NotTheRightOne"


@pytest.fixture
async def runtime(settings: Settings, shop_bot: Any, slack_api: SlackStandIn,  # noqa: F811
                  telegram_api: TelegramStandIn) -> AsyncIterator[Runtime]:  # noqa: F811
    settings.secret_key = KEY
    settings.public_url = ""
    settings.channels["slack"] = {"enabled": True, "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET,
                                  "api_base_url": f"{slack_api.base_url}/api/"}
    settings.channels["telegram"] = telegram_config(telegram_api)
    async with running(settings, shop_bot) as rt:
        yield rt


async def test_the_channels_page_checks_credentials_sends_a_test_and_keeps_secrets_write_only(
        browser: Any, live_url: str, runtime: Runtime, slack_api: SlackStandIn) -> None:  # noqa: F811
    assert runtime.hub is not None
    await runtime.hub.accounts.create("ada", "ada's long password", name="Ada", roles=[Role.ADMIN])
    page = await desk_login(browser, f"{live_url}/desk", "ada", "ada's long password")
    await page.locator("#nav a[data-nav=channels]").click()
    slack = page.locator("article.channel-card[data-channel=slack]")
    await expect(slack.locator("input[aria-label='Event Subscriptions: Request URL']")).to_have_value(
        "http://127.0.0.1:8080/webhooks/slack/events")
    await expect(page.locator("article.channel-card[data-channel=telegram] input[readonly]").first).to_have_value(
        "http://127.0.0.1:8080/webhooks/telegram/support")
    await expect(page.locator("article.channel-card[data-channel=phone]")).to_contain_text("not configured")
    await slack.locator("button.check-credentials").click()
    await expect(slack.locator("ul.channel-check li.ok")).to_contain_text("auth.test: bot user")
    # A test message to a Slack channel, through the outbox.
    await slack.locator("input[name=destination]").fill("C0SUPPORT1")
    await slack.get_by_role("button", name="Send a test").click()
    await expect(page.locator(".channels-page .notice")).to_have_text("Slack test message to C0SUPPORT1: sent.",
                                                                      timeout=15000)
    assert slack_api.successful("chat.postMessage")[-1].body["channel"] == "C0SUPPORT1"
    slack = page.locator("article.channel-card[data-channel=slack]")  # redrawn after the send
    await expect(slack.locator("tr[data-channel=slack] td").nth(1)).not_to_have_text("never")
    await expect(slack.locator(".channel-badge")).to_have_text("connected")
    # Replace the bot token with a wrong one: shown as set, never shown back; the check says why it fails.
    await slack.locator("input[name=bot_token]").fill(WRONG)
    await slack.locator("tr[data-field=bot_token]").get_by_role("button", name="Replace").click()
    await expect(page.locator(".channels-page .notice")).to_contain_text("next start")
    slack = page.locator("article.channel-card[data-channel=slack]")
    await expect(slack.locator("tr[data-field=bot_token] td.secret-set")).to_contain_text("set here")
    await slack.locator("button.check-credentials").click()
    await expect(slack.locator("ul.channel-check li.bad")).to_contain_text("invalid_auth")
    await expect(slack.locator(".channel-badge")).to_have_text("failing")  # the latest contact failed
    html = await page.content()
    assert WRONG not in html and BOT_TOKEN not in html
    await page.set_viewport_size({"width": 1280, "height": 2300})  # the desk scrolls inside: show every card
    await screenshot(page, "channels-page")
