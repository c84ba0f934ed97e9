"""The `channels.slack` section of the configuration, checked once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

CHANNEL = "slack"
DEFAULT_API_BASE = "https://slack.com/api/"
#: Hosts Slack serves `url_private` files from; the bot token is only ever sent there.
SLACK_FILE_HOSTS = frozenset({"files.slack.com"})


class SlackConfigError(ValueError):
    pass


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str
    signing_secret: str
    #: The Web API base (tests point it at a local stand-in); always ends with "/".
    api_base_url: str = DEFAULT_API_BASE
    #: Where `url_private` file downloads go instead of files.slack.com (a proxy, or a test stand-in).
    file_base_url: str | None = None
    path: str = "/webhooks/slack/events"
    #: Channel ids whose plain messages are taken; empty = every channel the app is in.
    channel_ids: frozenset[str] = frozenset()
    #: In shared (Slack Connect) channels, messages by our own workspace's members are staff, not customers.
    ignore_own_team_in_shared_channels: bool = True
    max_download_bytes: int = 20 * 1024 * 1024
    profile_cache_seconds: float = 600.0
    timeout_seconds: float = 10.0

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> SlackConfig:
        token = str(raw.get("bot_token") or "")
        secret = str(raw.get("signing_secret") or "")
        if not token.startswith("xox"):
            raise SlackConfigError("channels.slack.bot_token must be the app's bot token (xoxb-...)")
        if not secret:
            raise SlackConfigError("channels.slack.signing_secret is required (Basic Information > Signing Secret)")
        base = str(raw.get("api_base_url") or DEFAULT_API_BASE)
        file_base = raw.get("file_base_url") or None
        for key, url in (("api_base_url", base), ("file_base_url", file_base)):
            if url is not None and urlsplit(str(url)).scheme not in ("http", "https"):
                raise SlackConfigError(f"channels.slack.{key} must be an http(s) URL")
        return cls(
            bot_token=token,
            signing_secret=secret,
            api_base_url=base if base.endswith("/") else base + "/",
            file_base_url=str(file_base).rstrip("/") if file_base else None,
            path=str(raw.get("path") or cls.path),
            channel_ids=frozenset(str(c) for c in raw.get("channel_ids") or ()),
            ignore_own_team_in_shared_channels=bool(raw.get("ignore_own_team_in_shared_channels", True)),
            max_download_bytes=int(raw.get("max_download_bytes", cls.max_download_bytes)),
            profile_cache_seconds=float(raw.get("profile_cache_seconds", cls.profile_cache_seconds)),
            timeout_seconds=float(raw.get("timeout_seconds", cls.timeout_seconds)),
        )
