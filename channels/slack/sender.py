"""Outbound: a hub message posted in the customer's Slack thread with `chat.postMessage`."""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from channels.slack.api import SlackApi, error_code, header, status_code
from channels.slack.blocks import render
from channels.slack.config import CHANNEL
from hub.models import OutboundMessage, SendError, SendResult

log = logging.getLogger(__name__)

#: Slack `error` codes worth another try; any other refusal is final.
TRANSIENT_ERRORS = frozenset({"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
                              "request_timeout", "team_added_to_org"})


class SlackSender:
    channel = CHANNEL

    def __init__(self, api: SlackApi) -> None:
        self.api = api
        #: Parts of a split message already posted, per outbox entry, so a retry resumes instead of repeating.
        self._posted: dict[str, list[str]] = {}

    async def send(self, message: OutboundMessage) -> SendResult:
        channel, thread_ts = _destination(message)
        posts = render(message.text, message.quick_replies)
        if not posts:
            raise SendError("empty message", transient=False)
        done = self._posted.setdefault(message.outbox_id, [])
        for post in posts[len(done):]:
            try:
                posted = await self.api.post_message(channel, post.text, thread_ts, post.blocks or None)
            except SlackApiError as exc:
                error = _send_error(exc)
                if not error.transient:
                    self._posted.pop(message.outbox_id, None)
                raise error from exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise SendError(f"Slack unreachable: {exc or type(exc).__name__}", transient=True) from exc
            except SlackClientError as exc:
                raise SendError(f"Slack client refused the request: {exc}", transient=False) from exc
            done.append(posted.ts)
        self._posted.pop(message.outbox_id, None)
        return SendResult(provider_id=f"{channel}:{done[0]}")


def _destination(message: OutboundMessage) -> tuple[str, str | None]:
    """Channel and thread from the conversation's reply context, else from the thread key."""
    channel = message.metadata.get("channel")
    thread_ts = message.metadata.get("thread_ts")
    if not channel:
        parts = message.thread_key.split(":")
        if len(parts) != 3:
            raise SendError(f"no Slack channel for thread {message.thread_key!r}", transient=False)
        _, channel, thread_ts = parts
    return str(channel), str(thread_ts) if thread_ts else None


def _send_error(exc: SlackApiError) -> SendError:
    status = status_code(exc)
    code = error_code(exc)
    if status == 429 or code in ("ratelimited", "rate_limited"):
        return SendError(f"Slack rate limit ({code or status})", transient=True, retry_after=_retry_after(exc))
    if status is not None and status >= 500:
        return SendError(f"Slack HTTP {status} {code}".rstrip(), transient=True, retry_after=_retry_after(exc))
    if code in TRANSIENT_ERRORS:
        return SendError(f"Slack error {code}", transient=True, retry_after=_retry_after(exc))
    return SendError(f"Slack refused the message: {code or f'HTTP {status}'}", transient=False)


def _retry_after(exc: SlackApiError) -> float | None:
    value = header(exc, "Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
