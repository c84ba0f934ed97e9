"""What one outbound message becomes on Slack: one or more `chat.postMessage` payloads.

Slack truncates `text` past 40,000 characters and refuses section blocks over
3,000, so long replies are split at paragraph, line or word boundaries; quick
replies become Block Kit buttons under the last part. With files, the text (or its
end, if it is long) becomes the files' `initial_comment` instead (`render_with_files`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from channels.text import measure
from channels.text import split_text as shared_split
from hub.models import QuickReply

TEXT_LIMIT = 40_000
SECTION_LIMIT = 3_000
BUTTONS_PER_ACTIONS_BLOCK = 25
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2_000
MAX_BUTTONS = 20
#: slack-sdk sends `files.completeUploadExternal`'s arguments, the comment included, in the URL's query
#: string, and web servers commonly refuse a request line over 8 KiB: the comment stays under this many
#: URL-encoded characters.
COMMENT_URL_LIMIT = 6_000


@dataclass(frozen=True)
class SlackPost:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def escape(text: str) -> str:
    """Slack's message escaping: only &, < and > are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _keep_escape_whole(text: str, cut: int) -> int:
    """A hard cut never splits an `&amp;`-style escape."""
    amp = text.rfind("&", max(0, cut - 5), cut)
    return amp if amp > 0 and ";" not in text[amp:cut] else cut


def split_text(text: str, limit: int) -> list[str]:
    return shared_split(text, limit, safe_cut=_keep_escape_whole)


def render(text: str, quick_replies: tuple[QuickReply, ...] = ()) -> list[SlackPost]:
    """The posts for one message, in order; buttons (if any) ride on the last one."""
    parts = split_text(escape(text), TEXT_LIMIT)
    if not parts:
        return []
    posts = [SlackPost(text=p) for p in parts]
    if quick_replies:
        last = parts[-1]
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": section}}
            for section in split_text(last, SECTION_LIMIT)
        ]
        blocks += _buttons(quick_replies[:MAX_BUTTONS])
        posts[-1] = SlackPost(text=last, blocks=blocks)
    return posts


def url_units(ch: str) -> int:
    """A character's length once percent-encoded in a query string (an upper bound)."""
    return len(quote(ch, safe=""))


def render_with_files(text: str) -> tuple[list[SlackPost], str | None]:
    """The text of a message with files: posts to go first (usually none) and the files' comment.

    The comment is the whole (escaped) text when it fits in `COMMENT_URL_LIMIT`; else its end,
    and what comes before it is posted first, split like any long reply. None when there is no text.
    """
    parts = split_text(escape(text), TEXT_LIMIT)
    if not parts:
        return [], None
    comment = parts.pop()
    if measure(comment, url_units) > COMMENT_URL_LIMIT:
        tail = shared_split(comment, COMMENT_URL_LIMIT, weight=url_units, safe_cut=_keep_escape_whole)[-1]
        parts.append(comment[: len(comment) - len(tail)].rstrip())  # the pieces are suffixes of the text
        comment = tail
    return [SlackPost(text=p) for p in parts], comment


def _buttons(replies: tuple[QuickReply, ...]) -> list[dict[str, Any]]:
    buttons = [
        {
            "type": "button",
            "action_id": f"sb_qr_{i}",
            "text": {"type": "plain_text", "text": (r.title or r.payload)[:BUTTON_TEXT_LIMIT], "emoji": True},
            "value": (r.payload or r.title)[:BUTTON_VALUE_LIMIT],
        }
        for i, r in enumerate(replies)
    ]
    return [
        {"type": "actions", "block_id": f"sb_quick_replies_{n}", "elements": buttons[i: i + BUTTONS_PER_ACTIONS_BLOCK]}
        for n, i in enumerate(range(0, len(buttons), BUTTONS_PER_ACTIONS_BLOCK))
    ]
