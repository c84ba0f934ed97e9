"""From a verified Slack event to `hub.ingest`: filtering, the author's profile, file shares."""

from __future__ import annotations

import logging
from typing import Any

from channels.slack.api import DownloadFailed, SlackApi
from channels.slack.config import CHANNEL, SlackConfig
from channels.slack.events import (
    ButtonClick,
    SlackFile,
    clean_text,
    read_click,
    read_message,
    received_at,
    skip_reason,
)
from hub.csat import score_of
from hub.hub import Hub
from hub.models import Attachment, InboundMessage, IngestResult, Sender, utcnow

log = logging.getLogger(__name__)


class SlackInbound:
    def __init__(self, hub: Hub, api: SlackApi, config: SlackConfig) -> None:
        self.hub = hub
        self.api = api
        self.config = config

    async def on_message_event(self, body: dict[str, Any], retry_num: str | None = None) -> IngestResult | None:
        """Ingest a `message`/`app_mention` event once; None when it is not a customer's message.

        Returns only after the message is durably stored, so Slack's 200 means "kept".
        """
        msg = read_message(body)
        me = await self.api.identity()
        reason = skip_reason(msg, me, self.config)
        if reason is not None:
            log.debug("slack: skipping %s in %s (%s)", msg.ts, msg.channel, reason)
            return None
        if await self._already_stored(msg.external_id):
            # A retry (X-Slack-Retry-Num) or the app_mention twin of a message event: no
            # second profile lookup or download; ingest would turn it into a no-op anyway.
            return None
        profile = await self.api.profile(msg.user)
        attachments, file_meta = await self._files(msg.files)
        text = clean_text(msg.text, me)
        inbound = InboundMessage(
            channel=CHANNEL,
            external_id=msg.external_id,
            thread_key=msg.thread_key,
            sender=Sender(
                external_id=msg.sender_id,
                display_name=profile.name if profile else None,
                email=profile.email if profile else None,
                # Slack returns an email only for a confirmed account address (users:read.email).
                email_verified=bool(profile and profile.email),
            ),
            text=text,
            attachments=attachments,
            received_at=received_at(msg.ts) or utcnow(),
            inbox=msg.team,
            metadata={"slack": {
                "team": msg.team, "channel": msg.channel, "channel_type": msg.channel_type, "ts": msg.ts,
                "thread_ts": msg.thread_root, "event_id": msg.event_id, "event_type": msg.event_type,
                "client_msg_id": msg.client_msg_id, "user_team": msg.user_team, "shared": msg.shared,
                "retry_num": retry_num, "files": file_meta,
            }},
            reply_context={"channel": msg.channel, "thread_ts": msg.thread_root, "team": msg.team},
        )
        return await self.hub.ingest(inbound)

    async def on_button_click(self, body: dict[str, Any]) -> IngestResult | None:
        """A quick-reply button press is the customer's answer, ingested like a typed message.

        A CSAT button (`csat:N`) is the solved ticket's rating instead (hub.csat): None.
        """
        click: ButtonClick = read_click(body)
        score = score_of(click.value)
        if score is not None and await self.hub.tickets.rate_from_thread(CHANNEL, click.thread_key, score) != "none":
            return None
        profile = await self.api.profile(click.user)
        root = click.thread_ts or click.message_ts
        inbound = InboundMessage(
            channel=CHANNEL,
            external_id=click.external_id,
            thread_key=click.thread_key,
            sender=Sender(external_id=click.sender_id,
                          display_name=(profile.name if profile else None) or click.user_name,
                          email=profile.email if profile else None,
                          email_verified=bool(profile and profile.email)),
            text=click.value,
            received_at=received_at(click.action_ts) or utcnow(),
            inbox=click.team,
            metadata={"slack": {"team": click.team, "channel": click.channel, "button": click.title,
                                "message_ts": click.message_ts, "thread_ts": root}},
            reply_context={"channel": click.channel, "thread_ts": root, "team": click.team},
        )
        return await self.hub.ingest(inbound)

    async def _already_stored(self, external_id: str) -> bool:
        return await self.hub.is_ingested(CHANNEL, external_id)

    async def _files(self, files: tuple[SlackFile, ...]) -> tuple[tuple[Attachment, ...], list[dict[str, Any]]]:
        """Each shared file downloaded with the bot token, or kept as its private URL when that fails."""
        attachments: list[Attachment] = []
        meta: list[dict[str, Any]] = []
        for f in files:
            data: bytes | None = None
            error: str | None = None
            if f.url is None:
                error = "no url_private"
            else:
                try:
                    data = await self.api.download(f.url)
                except DownloadFailed as exc:
                    error = str(exc)
                    log.warning("slack: could not download file %s (%s); keeping its URL", f.id, exc)
            attachments.append(Attachment(filename=f.name, content_type=f.mimetype, data=data,
                                          size=len(data) if data is not None else f.size, url=f.url))
            meta.append({"id": f.id, "name": f.name, "mimetype": f.mimetype, "size": f.size,
                         "url_private": f.url, "downloaded": data is not None, "error": error})
        return tuple(attachments), meta
