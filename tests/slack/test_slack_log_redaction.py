"""Slack's tokens, signing secret and Socket Mode tickets never reach a log line (slack-sdk logs at DEBUG)."""

from __future__ import annotations

import re
from typing import Any

from channels.slack.channel import SlackChannel
from switchboard.config import Settings
from switchboard.log_redaction import MASK
from tests.conftest import running
from tests.log_capture import serve_logs
from tests.slack.conftest import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET
from tests.slack.standin import SlackStandIn

FILE_PATH = "/files-pri/T0SHOP0001-F0RECEIPT1/receipt.txt"


async def test_web_api_socket_mode_and_file_downloads_log_without_credentials(
    settings: Settings, shop_bot: Any, slack_api: SlackStandIn
) -> None:
    settings.channels["slack"] = {
        "enabled": True, "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET, "socket_mode": True,
        "app_token": APP_TOKEN, "api_base_url": f"{slack_api.base_url}/api/", "file_base_url": slack_api.base_url,
    }
    slack_api.files[FILE_PATH] = (b"order 48213", "text/plain")
    with serve_logs(settings) as logs:
        async with running(settings, shop_bot) as runtime:
            await slack_api.connection()  # Socket Mode: apps.connections.open, then the ticketed WebSocket
            channel = next(c for c in runtime.channels if isinstance(c, SlackChannel))
            posted = await channel.api.post_message("D0CUSTDM01", "Your parcel left the warehouse.", None, None)
            assert posted.ts
            data = await channel.api.download(f"https://files.slack.com{FILE_PATH}")
            assert data == b"order 48213"
    text = logs.getvalue()
    # No token, signing secret or single-use WebSocket ticket is in the log...
    for secret in (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET):
        assert secret not in text
    assert re.search(r"ticket=[0-9a-f]{8}-", text) is None
    # ...while slack-sdk's DEBUG lines of every request and response are.
    assert "Sending a request - url: POST" in text and "chat.postMessage" in text
    assert "apps.connections.open" in text and f"ticket={MASK}" in text
    # The real token did go to Slack (the file host got it as a Bearer header).
    assert slack_api.file_requests == [(FILE_PATH, f"Bearer {BOT_TOKEN}")]
