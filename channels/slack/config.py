"""The `channels.slack` section of the configuration, checked once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from channels.base import ChannelConfigError

CHANNEL = "slack"
DEFAULT_API_BASE = "https://slack.com/api/"
#: Hosts Slack serves `url_private` files from; the bot token is only ever sent there.
SLACK_FILE_HOSTS = frozenset({"files.slack.com"})


class SlackConfigError(ChannelConfigError):
    pass


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str
    #: Verifies HTTP deliveries; "" in Socket Mode without an HTTP endpoint (the route is then not served).
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
    #: Receive events over an outbound WebSocket (Slack's Socket Mode) instead of, or besides, HTTP.
    socket_mode: bool = False
    #: The app-level token (`xapp-...`, scope `connections:write`) Socket Mode connects with.
    app_token: str | None = None

    @property
    def serves_http(self) -> bool:
        """Whether the Events/Interactivity route is served: only with a signing secret to verify requests."""
        return bool(self.signing_secret)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> SlackConfig:
        token = str(raw.get("bot_token") or "")
        secret = str(raw.get("signing_secret") or "")
        socket_mode = _flag(raw.get("socket_mode", False), "socket_mode")
        app_token = str(raw.get("app_token") or "") or None
        if not token.startswith("xox"):
            raise SlackConfigError("channels.slack.bot_token must be the app's bot token (xoxb-...)")
        if socket_mode and not (app_token or "").startswith("xapp-"):
            raise SlackConfigError("channels.slack.app_token must be an app-level token (xapp-...) with the "
                                   "connections:write scope when socket_mode is on "
                                   "(Basic Information > App-Level Tokens)")
        if not secret and not socket_mode:
            raise SlackConfigError("channels.slack.signing_secret is required (Basic Information > Signing Secret), "
                                   "unless socket_mode is on")
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
            socket_mode=socket_mode,
            app_token=app_token if socket_mode else None,
        )


def _flag(value: Any, key: str) -> bool:
    """A yes/no setting, also when it came from an environment variable (`${SLACK_SOCKET_MODE:-false}`)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0", ""):
        return False
    raise SlackConfigError(f"channels.slack.{key} must be true or false, not {value!r}")
