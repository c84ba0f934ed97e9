"""The Slack Web API calls the channel makes, through slack-sdk's AsyncWebClient.

One object owns the HTTP session and the caches (the bot's own identity from
`auth.test`, user profiles from `users.info`), so the inbound side and the sender
share a connection pool and never look the same user up twice in a minute.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from channels.slack.config import SLACK_FILE_HOSTS, SlackConfig

log = logging.getLogger(__name__)


def error_code(exc: SlackApiError) -> str:
    """Slack's `error` string (`ratelimited`, `invalid_auth`...), or "" when the body was not JSON."""
    data = getattr(exc.response, "data", None)
    return str(data.get("error") or "") if isinstance(data, dict) else ""


def status_code(exc: SlackApiError) -> int | None:
    response = exc.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return int(status) if status is not None else None


def header(exc: SlackApiError, name: str) -> str | None:
    headers = getattr(exc.response, "headers", None)
    if not headers:
        return None
    value = headers.get(name)
    if value is None and isinstance(headers, dict):
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return str(value) if value is not None else None


class SlackUnavailable(Exception):
    """Slack could not tell us who we are; the event is refused (5xx) so Slack retries it later.

    Deliberately not a `SlackApiError`: Bolt turns those into a 200 with an apology,
    which would make Slack drop the event.
    """


class DownloadFailed(Exception):
    pass


class UploadFailed(Exception):
    """Slack's upload URL (step 2 of `files_upload_v2`) answered with a non-200 status.

    Nothing was shared yet: only `files.completeUploadExternal` posts to the channel.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


#: How slack-sdk's `files_upload_v2` reports a failed POST to the upload URL (it keeps only the status).
_UPLOAD_STATUS = re.compile(r"^Failed to upload a file \(status: (\d+)")


@dataclass(frozen=True)
class BotIdentity:
    """Who the app is in its workspace (from `auth.test`): used to ignore its own messages."""

    team_id: str
    user_id: str
    bot_id: str | None


@dataclass(frozen=True)
class SlackProfile:
    real_name: str | None
    display_name: str | None
    #: Present only when the app has `users:read.email` and Slack chose to return it.
    email: str | None
    is_bot: bool = False

    @property
    def name(self) -> str | None:
        return self.real_name or self.display_name


#: The metadata event type of the hub's own posts (message metadata, `chat.postMessage`'s `metadata`).
MARK_EVENT = "switchboard_outbound"


@dataclass(frozen=True)
class Posted:
    channel: str
    ts: str


class SlackApi:
    def __init__(self, config: SlackConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self._identity: BotIdentity | None = None
        self._identity_lock = asyncio.Lock()
        self._profiles: dict[str, tuple[float, SlackProfile | None]] = {}
        self._stopped = False

    # -- plumbing ---------------------------------------------------------------------
    def _http(self) -> aiohttp.ClientSession:
        """One session for the channel's lifetime, made on first use (inside the running loop).

        After `close()` a call fails as "unreachable" instead of opening a session nobody would
        close: the hub stops channels before its outbox, so a reply still going out is retried
        after the restart, and an event being received is left for Slack to redeliver.
        """
        if self._stopped:
            raise aiohttp.ClientConnectionError("the Slack channel has stopped")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds))
            self._client = None
        return self._session

    def client(self) -> AsyncWebClient:
        session = self._http()
        if self._client is None:
            # retry_handlers=[]: the hub's outbox is the one place that retries, with its backoff.
            self._client = AsyncWebClient(token=self.config.bot_token, base_url=self.config.api_base_url,
                                          session=session, timeout=int(self.config.timeout_seconds),
                                          retry_handlers=[])
        return self._client

    async def close(self) -> None:
        self._stopped = True
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        self._client = None

    # -- calls ------------------------------------------------------------------------
    async def identity(self) -> BotIdentity:
        """The bot's own ids, asked once (`auth.test`) and kept."""
        if self._identity is not None:
            return self._identity
        async with self._identity_lock:
            if self._identity is None:
                try:
                    resp = await self.client().auth_test()
                except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
                    raise SlackUnavailable(f"auth.test failed: {exc}") from exc
                self._identity = BotIdentity(team_id=str(resp.get("team_id") or ""),
                                             user_id=str(resp.get("user_id") or ""),
                                             bot_id=resp.get("bot_id"))
            return self._identity

    async def profile(self, user_id: str) -> SlackProfile | None:
        """The user's name and (scope permitting) email; None when Slack can't say right now.

        A missing profile never blocks a customer's message: the contact is created by
        id and filled in on a later message.
        """
        now = time.monotonic()
        cached = self._profiles.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            resp = await self.client().users_info(user=user_id)
        except SlackApiError as exc:
            log.warning("slack: users.info %s failed: %s", user_id, error_code(exc) or status_code(exc))
            return None
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("slack: users.info %s unreachable: %s", user_id, exc)
            return None
        user: dict[str, Any] = resp.get("user") or {}
        prof: dict[str, Any] = user.get("profile") or {}
        profile = SlackProfile(
            real_name=(prof.get("real_name") or user.get("real_name") or None),
            display_name=(prof.get("display_name") or user.get("name") or None),
            email=prof.get("email") or None,
            is_bot=bool(user.get("is_bot")),
        )
        self._profiles[user_id] = (now + self.config.profile_cache_seconds, profile)
        return profile

    async def post_message(self, channel: str, text: str, thread_ts: str | None,
                           blocks: list[dict[str, Any]] | None, mark: tuple[str, int] | None = None) -> Posted:
        """Post one message; `mark` (outbox entry, part) rides along as the message's metadata, for
        `posted_parts` to find after an attempt whose answer was lost."""
        kwargs: dict[str, Any] = {"channel": channel, "text": text}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if blocks:
            kwargs["blocks"] = blocks
        if mark is not None:
            kwargs["metadata"] = {"event_type": MARK_EVENT, "event_payload": {"outbox_id": mark[0], "part": mark[1]}}
        resp = await self.client().chat_postMessage(**kwargs)
        return Posted(channel=str(resp.get("channel") or channel), ts=str(resp.get("ts") or ""))

    async def posted_parts(self, channel: str, thread_ts: str | None, outbox_id: str, since: float) -> list[str]:
        """The `ts` of the parts of an outbox entry Slack already holds, in part order, stopping at the
        first missing part (`conversations.replies` in a thread, else `conversations.history`, since
        `since`, with the messages' metadata). Needs the history scopes the channel asks for anyway."""
        args: dict[str, Any] = {"channel": channel, "include_all_metadata": True, "oldest": f"{since:.6f}",
                                "limit": 200}
        found: dict[int, str] = {}
        cursor: str | None = None
        for _page in range(10):  # a thread's last 2,000 messages since the entry was queued: more is not a chat
            if cursor:
                args["cursor"] = cursor
            if thread_ts:
                resp = await self.client().conversations_replies(ts=thread_ts, **args)
            else:
                resp = await self.client().conversations_history(**args)
            for m in resp.get("messages") or []:
                meta = m.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == MARK_EVENT and payload.get("outbox_id") == outbox_id:
                    found.setdefault(int(payload.get("part") or 0), str(m.get("ts") or ""))
            cursor = ((resp.get("response_metadata") or {}).get("next_cursor")) or None
            if not cursor:
                break
        parts: list[str] = []
        while len(parts) in found:
            parts.append(found[len(parts)])
        return parts

    async def upload_files(self, channel: str, files: Sequence[tuple[str, bytes]], thread_ts: str | None,
                           initial_comment: str | None) -> list[str]:
        """Share files (with an optional comment) in the thread; the ids Slack gave them.

        slack-sdk's `files_upload_v2`: `files.getUploadURLExternal` and a POST of the bytes per
        file, then one `files.completeUploadExternal`, the only step that posts to the channel
        (scope `files:write`). A failure before it leaves nothing visible, so a retry is safe.
        """
        kwargs: dict[str, Any] = {
            "file_uploads": [{"content": data, "filename": name, "title": name} for name, data in files],
            "channel": channel,
        }
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if initial_comment:
            kwargs["initial_comment"] = initial_comment
        try:
            resp = await self.client().files_upload_v2(**kwargs)
        except SlackRequestError as exc:
            found = _UPLOAD_STATUS.match(str(exc))
            if found is None:
                raise
            raise UploadFailed(int(found.group(1)), str(exc)) from exc
        shared: list[dict[str, Any]] = resp.get("files") or []
        return [str(f.get("id") or "") for f in shared]

    def file_url(self, url: str) -> str:
        """Where to fetch a `url_private` file: Slack's file host, or the configured base instead.

        Raises DownloadFailed for any other host, so the bot token never leaves for a stranger.
        """
        parts = urlsplit(url)
        if parts.scheme != "https" or parts.hostname not in SLACK_FILE_HOSTS:
            raise DownloadFailed(f"not a Slack file URL: {url}")
        if self.config.file_base_url is None:
            return url
        base = urlsplit(self.config.file_base_url)
        return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path, parts.query, ""))

    async def download(self, url: str) -> bytes:
        """A private file's bytes, fetched with the bot token (needs the `files:read` scope)."""
        target = self.file_url(url)
        limit = self.config.max_download_bytes
        headers = {"Authorization": f"Bearer {self.config.bot_token}"}
        try:
            async with self._http().get(target, headers=headers) as resp:
                if resp.status != 200:
                    raise DownloadFailed(f"HTTP {resp.status}")
                if resp.content_type == "text/html":
                    # Slack answers a token without files:read with its sign-in page, status 200.
                    raise DownloadFailed("Slack returned a web page instead of the file (missing files:read?)")
                if (resp.content_length or 0) > limit:
                    raise DownloadFailed(f"larger than {limit} bytes")
                data = await resp.content.read(limit + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DownloadFailed(str(exc) or type(exc).__name__) from exc
        if len(data) > limit:
            raise DownloadFailed(f"larger than {limit} bytes")
        return data
