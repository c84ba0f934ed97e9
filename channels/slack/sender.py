"""Outbound: a hub message posted in the customer's Slack thread.

Text goes out with `chat.postMessage`. A message with agents' files goes out with
slack-sdk's `files_upload_v2`: the files are uploaded first and shared, with the text
as their `initial_comment`, by one `files.completeUploadExternal` call. That call is the
only one that posts to the channel, so a retry after a failure in the earlier steps
never shows the text twice. (Only a text too long to ride along as the comment has its
beginning posted first, as its own messages; see `render_with_files`.)
"""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from channels.slack.api import SlackApi, UploadFailed, error_code, header, status_code
from channels.slack.blocks import SlackPost, render, render_with_files
from channels.slack.config import CHANNEL
from hub.models import OutboundMessage, SendError, SendResult
from hub.ports import FILES_BYTES

log = logging.getLogger(__name__)

#: The lookup of an earlier attempt's posts starts this long before the entry was queued (clocks differ).
RECALL_MARGIN_SECONDS = 300.0
#: Slack `error` codes worth another try; any other refusal is final.
TRANSIENT_ERRORS = frozenset({"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
                              "request_timeout", "team_added_to_org"})


class SlackSender:
    channel = CHANNEL
    #: Agents' files are uploaded to Slack and shared in the customer's thread.
    files = FILES_BYTES

    def __init__(self, api: SlackApi) -> None:
        self.api = api
        #: Parts of a split message already posted, per outbox entry, so a retry resumes instead of repeating.
        self._posted: dict[str, list[str]] = {}

    async def send(self, message: OutboundMessage) -> SendResult:
        channel, thread_ts = _destination(message)
        if message.attachments:
            return await self._send_files(message, channel, thread_ts)
        posts = render(message.text, message.quick_replies)
        if not posts:
            raise SendError("empty message", transient=False)
        await self._recall(message, channel, thread_ts)
        done = await self._post(message.outbox_id, channel, thread_ts, posts)
        self._posted.pop(message.outbox_id, None)
        return SendResult(provider_id=f"{channel}:{done[0]}")

    async def _recall(self, message: OutboundMessage, channel: str, thread_ts: str | None) -> None:
        """After an attempt whose outcome is unknown (its answer lost, its process stopped), ask Slack
        which parts it already holds (found by their metadata), so that the retry posts only the rest.

        Slack's `chat.postMessage` takes no idempotency key; this lookup is what makes the retry safe.
        It runs on retries only (one call each, a page more per 200 messages posted since). If Slack
        cannot answer (a refusal such as a missing history scope) the retry posts again: at least once."""
        if message.maybe_delivered_since is None:
            return
        since = message.maybe_delivered_since.timestamp() - RECALL_MARGIN_SECONDS
        try:
            parts = await self.api.posted_parts(channel, thread_ts, message.outbox_id, since)
        except SlackApiError as exc:
            error = _send_error(exc, "the lookup of an earlier attempt")
            if error.transient:
                raise error from exc
            log.warning("slack: cannot check whether outbox %s was posted (%s); posting again",
                        message.outbox_id, error.reason)
            return
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError(f"Slack unreachable: {exc or type(exc).__name__}", transient=True) from exc
        if len(parts) > len(self._posted.get(message.outbox_id, [])):  # a part whose answer was lost
            log.info("slack: outbox %s: %d part(s) already posted by an earlier attempt", message.outbox_id, len(parts))
            self._posted[message.outbox_id] = parts

    async def _post(self, outbox_id: str, channel: str, thread_ts: str | None, posts: list[SlackPost]) -> list[str]:
        """Post the parts not yet posted for this outbox entry; the `ts` of every part posted so far."""
        done = self._posted.setdefault(outbox_id, [])
        for post in posts[len(done):]:
            try:
                posted = await self.api.post_message(channel, post.text, thread_ts, post.blocks or None,
                                                     mark=(outbox_id, len(done)))
            except SlackApiError as exc:
                error = _send_error(exc)
                if not error.transient:
                    self._posted.pop(outbox_id, None)
                raise error from exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise SendError(f"Slack unreachable: {exc or type(exc).__name__}", transient=True) from exc
            except SlackClientError as exc:
                raise SendError(f"Slack client refused the request: {exc}", transient=False) from exc
            done.append(posted.ts)
        return done

    async def _send_files(self, message: OutboundMessage, channel: str, thread_ts: str | None) -> SendResult:
        """Text and files as one share: the files with the text as their comment (no comment if no text).

        Only a text too long for the comment has its beginning posted first with
        `chat.postMessage` (resumed, not repeated, on a retry); its end is the comment.
        """
        files: list[tuple[str, bytes]] = []
        for file in message.attachments:
            if file.data is None:  # the hub loads the bytes for senders with files = "bytes"
                raise SendError(f"attachment {file.filename!r} came without its bytes", transient=False)
            files.append((file.filename, file.data))
        if message.quick_replies:
            log.warning("slack: quick replies are not sent with files (outbox %s)", message.outbox_id)
        leading, comment = render_with_files(message.text)
        if leading:
            await self._recall(message, channel, thread_ts)
        done = await self._post(message.outbox_id, channel, thread_ts, leading) if leading else []
        try:
            file_ids = await self.api.upload_files(channel, files, thread_ts, comment)
        except SlackApiError as exc:
            error = _send_error(exc, "the file upload")
            if not error.transient:
                self._posted.pop(message.outbox_id, None)
            raise error from exc
        except UploadFailed as exc:
            error = _upload_error(exc)
            if not error.transient:
                self._posted.pop(message.outbox_id, None)
            raise error from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError(f"Slack unreachable: {exc or type(exc).__name__}", transient=True) from exc
        except SlackClientError as exc:
            raise SendError(f"Slack client refused the request: {exc}", transient=False) from exc
        self._posted.pop(message.outbox_id, None)
        first = done[0] if done else (file_ids[0] if file_ids else "")
        return SendResult(provider_id=f"{channel}:{first}" if first else None)


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


def _send_error(exc: SlackApiError, what: str = "the message") -> SendError:
    status = status_code(exc)
    code = error_code(exc)
    if status == 429 or code in ("ratelimited", "rate_limited"):
        return SendError(f"Slack rate limit ({code or status})", transient=True, retry_after=_retry_after(exc))
    if status is not None and status >= 500:
        return SendError(f"Slack HTTP {status} {code}".rstrip(), transient=True, retry_after=_retry_after(exc))
    if code in TRANSIENT_ERRORS:
        return SendError(f"Slack error {code}", transient=True, retry_after=_retry_after(exc))
    return SendError(f"Slack refused {what}: {code or f'HTTP {status}'}", transient=False)


def _upload_error(exc: UploadFailed) -> SendError:
    """The upload URL's answer: 429 and 5xx are worth another try (slack-sdk keeps no Retry-After here)."""
    if exc.status == 429:
        return SendError("Slack rate limit (file upload HTTP 429)", transient=True)
    if exc.status >= 500:
        return SendError(f"Slack file upload HTTP {exc.status}", transient=True)
    return SendError(f"Slack refused the file upload: HTTP {exc.status}", transient=False)


def _retry_after(exc: SlackApiError) -> float | None:
    value = header(exc, "Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
