"""The Channels page's view of Slack: the URLs to paste, a credential check (`auth.test`), a test target."""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from channels.base import ChannelConfigError, CheckLine, PasteUrl, TestTarget
from channels.slack.config import CHANNEL, SlackConfig

DESTINATION = "Slack channel ID (C…) or user ID (U…) the app can post to"


def paste_urls(raw: dict[str, Any], public_url: str) -> list[PasteUrl]:
    path = str(raw.get("path") or SlackConfig.path)
    note = "api.slack.com/apps > your app"
    socket = "; or turn on Socket Mode (socket_mode + app_token) for a hub Slack cannot reach: then no URL"
    return [PasteUrl("Event Subscriptions: Request URL", public_url + path, f"{note} > Event Subscriptions{socket}"),
            PasteUrl("Interactivity & Shortcuts: Request URL", public_url + path, f"{note} > Interactivity")]


async def check(raw: dict[str, Any], public_url: str) -> list[CheckLine]:
    try:
        config = SlackConfig.from_mapping(raw)
    except ChannelConfigError as exc:
        return [CheckLine("configuration", False, str(exc))]
    lines = [await _call(config, config.bot_token, "auth.test")]
    if config.socket_mode and config.app_token:
        lines.append(await _call(config, config.app_token, "apps.connections.open"))
    return lines


async def _call(config: SlackConfig, token: str, method: str) -> CheckLine:
    client = AsyncWebClient(token=token, base_url=config.api_base_url, timeout=int(config.timeout_seconds))
    try:
        if method == "auth.test":
            answer = await client.auth_test()
            return CheckLine(method, True, f"bot user {answer.get('user')} in workspace {answer.get('team')}")
        await client.apps_connections_open(app_token=token)
        return CheckLine(method, True, "the app-level token may open Socket Mode connections")
    except SlackApiError as exc:
        return CheckLine(method, False, f"Slack refused: {exc.response.get('error') or exc.response.status_code}")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return CheckLine(method, False, f"cannot reach {config.api_base_url}: {type(exc).__name__}")


def test_target(raw: dict[str, Any], destination: str, sender: str | None) -> TestTarget:
    channel = destination.strip()
    if not channel or channel[0] not in "CDGU" or not channel.isalnum():
        raise ValueError("a Slack channel ID (C…, G…, D…) or user ID (U…)")
    return TestTarget(CHANNEL, channel, f"admin-test:{channel}", {"channel": channel})
