"""Reading Slack payloads (Events API bodies, Block Kit button clicks) into plain values.

Pure functions over the decoded JSON: no I/O, so every filtering rule (bots, our
own messages, edits, staff in shared channels) is readable in one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from channels.slack.api import BotIdentity
from channels.slack.config import SlackConfig

#: Message subtypes that are a person writing; everything else (edits, joins, bot posts...) is skipped.
CUSTOMER_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
#: Slack's built-in bot, which writes reminders and notices into DMs.
SLACKBOT = "USLACKBOT"
#: Block Kit buttons we render for quick replies carry action ids `sb_qr_<n>`.
QUICK_REPLY_ACTION = re.compile(r"^sb_qr_\d+$")


class MalformedEvent(ValueError):
    """A correctly signed body that lacks what every Slack event of its kind carries."""


@dataclass(frozen=True)
class SlackFile:
    id: str
    name: str
    mimetype: str
    size: int
    url: str | None


@dataclass(frozen=True)
class SlackMessage:
    """One customer message from an Events API `message` or `app_mention` event."""

    team: str
    user_team: str
    user: str
    channel: str
    channel_type: str | None
    event_type: str
    subtype: str | None
    text: str
    ts: str
    thread_ts: str | None
    client_msg_id: str | None
    event_id: str | None
    shared: bool
    files: tuple[SlackFile, ...] = ()
    bot_id: str | None = None

    @property
    def thread_root(self) -> str:
        return self.thread_ts or self.ts

    @property
    def thread_key(self) -> str:
        """One conversation per Slack thread; a top-level message starts its own thread."""
        return f"{self.team}:{self.channel}:{self.thread_root}"

    @property
    def external_id(self) -> str:
        """`team:channel:ts` names one Slack message, whichever event (message or app_mention) told us."""
        return f"{self.team}:{self.channel}:{self.ts}"

    @property
    def sender_id(self) -> str:
        return f"{self.user_team}:{self.user}"


@dataclass(frozen=True)
class ButtonClick:
    """A customer pressing one of our quick-reply buttons (`block_actions` interactivity payload)."""

    team: str
    user_team: str
    user: str
    user_name: str | None
    channel: str
    message_ts: str
    thread_ts: str | None
    value: str
    title: str
    action_ts: str

    @property
    def thread_key(self) -> str:
        return f"{self.team}:{self.channel}:{self.thread_ts or self.message_ts}"

    @property
    def external_id(self) -> str:
        return f"{self.team}:{self.channel}:action:{self.action_ts}"

    @property
    def sender_id(self) -> str:
        return f"{self.user_team}:{self.user}"


def read_message(body: Mapping[str, Any]) -> SlackMessage:
    """The message inside an `event_callback` body (a `message` or `app_mention` event)."""
    event = body.get("event")
    if not isinstance(event, dict):
        raise MalformedEvent("event_callback without an event object")
    team = body.get("team_id") or event.get("team")
    missing = [k for k in ("channel", "ts") if not isinstance(event.get(k), str)]
    if not team or missing:
        raise MalformedEvent(f"message event without {', '.join(missing) or 'team_id'}")
    files = tuple(_file(f) for f in event.get("files") or () if isinstance(f, dict))
    user = event.get("user")
    return SlackMessage(
        team=str(team),
        user_team=str(event.get("user_team") or event.get("team") or team),
        user=str(user) if isinstance(user, str) else "",
        channel=event["channel"],
        channel_type=event.get("channel_type"),
        event_type=str(event.get("type")),
        subtype=event.get("subtype"),
        text=str(event.get("text") or ""),
        ts=event["ts"],
        thread_ts=event.get("thread_ts") or None,
        client_msg_id=event.get("client_msg_id"),
        event_id=body.get("event_id"),
        shared=bool(body.get("is_ext_shared_channel")),
        files=files,
        bot_id=event.get("bot_id"),
    )


def _file(raw: Mapping[str, Any]) -> SlackFile:
    return SlackFile(
        id=str(raw.get("id") or ""),
        name=str(raw.get("name") or raw.get("title") or raw.get("id") or "file"),
        mimetype=str(raw.get("mimetype") or "application/octet-stream"),
        size=int(raw.get("size") or 0),
        url=raw.get("url_private_download") or raw.get("url_private"),
    )


def skip_reason(msg: SlackMessage, me: BotIdentity, config: SlackConfig) -> str | None:
    """Why this message is not a customer's (None = take it)."""
    if msg.subtype not in CUSTOMER_SUBTYPES:
        return f"subtype {msg.subtype}"
    if msg.bot_id or msg.subtype == "bot_message":
        return "written by a bot"
    if not msg.user:
        return "no author"
    if msg.user == me.user_id:
        return "our own message"
    if msg.user == SLACKBOT:
        return "Slackbot"
    if msg.channel_type == "im":
        return None
    if msg.event_type == "message" and config.channel_ids and msg.channel not in config.channel_ids:
        return "channel not in channel_ids"
    if msg.shared and config.ignore_own_team_in_shared_channels and msg.user_team == me.team_id:
        return "our own staff in a shared channel"
    return None


def clean_text(text: str, me: BotIdentity) -> str:
    """The words the customer typed: our @mention removed, Slack's three escapes undone."""
    if me.user_id:
        text = re.sub(rf"<@{re.escape(me.user_id)}(\|[^>]*)?>", "", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def received_at(ts: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except ValueError:
        return None


def read_click(body: Mapping[str, Any]) -> ButtonClick:
    """The quick-reply button a customer pressed."""
    actions = body.get("actions") or []
    action = next((a for a in actions if isinstance(a, dict) and QUICK_REPLY_ACTION.match(str(a.get("action_id")))),
                  None)
    user = body.get("user") or {}
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    team = (body.get("team") or {}).get("id") or user.get("team_id")
    if action is None or not user.get("id") or not channel or not team or not container.get("message_ts"):
        raise MalformedEvent("block_actions payload without a quick-reply action, user, team or channel")
    title = action.get("text", {}).get("text") if isinstance(action.get("text"), dict) else None
    return ButtonClick(
        team=str(team),
        user_team=str(user.get("team_id") or team),
        user=str(user["id"]),
        user_name=user.get("name") or user.get("username"),
        channel=str(channel),
        message_ts=str(container["message_ts"]),
        thread_ts=container.get("thread_ts") or (body.get("message") or {}).get("thread_ts"),
        value=str(action.get("value") or title or ""),
        title=str(title or action.get("value") or ""),
        action_ts=str(action.get("action_ts") or body.get("trigger_id") or container["message_ts"]),
    )
