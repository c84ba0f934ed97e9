"""Quick replies on channels without buttons: numbered options out, a typed number mapped back in.

An SMS or a phone keypad shows no buttons, so a bot message with quick replies gets
"Reply 1 for Yes, 2 for No" (or "Press 1 for Yes..." on a call). When the customer
answers with a bare number, the number is turned back into that option's payload,
as a button tap would send on the widget.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.models import Direction, QuickReply
from hub.store import Store


def already_numbered(text: str, replies: Sequence[QuickReply]) -> bool:
    """The bot's clarify questions list their options as "1. Title" lines already."""
    return bool(replies) and f"1. {replies[0].title}" in text


def with_numbered_options(text: str, replies: Sequence[QuickReply], *, spoken: bool = False) -> str:
    if not replies or already_numbered(text, replies):
        return text
    if spoken:
        choices = " ".join(f"Press {i} or say {r.title}." for i, r in enumerate(replies, 1))
        return f"{text} {choices}"
    choices = ", ".join(f"{i} for {r.title}" for i, r in enumerate(replies, 1))
    return f"{text}\n\nReply {choices}."


async def chosen_option(store: Store, channel: str, thread_key: str, typed: str) -> str | None:
    """The payload of option `typed` ("2") of the latest reply in the thread's open conversation, if any."""
    typed = typed.strip().rstrip(".")
    if not typed.isdigit() or len(typed) > 2:
        return None
    conversation = await store.conversations.find_one(
        {"channel": channel, "thread_key": thread_key, "open": True}, projection={"_id": 1}
    )
    if conversation is None:
        return None
    last = await store.messages.find_one(
        {"conversation_id": conversation["_id"], "direction": Direction.OUTBOUND.value},
        projection={"quick_replies": 1}, sort=[("created_at", -1)],
    )
    replies = (last or {}).get("quick_replies") or []
    number = int(typed)
    if not 1 <= number <= len(replies):
        return None
    chosen = replies[number - 1]
    return str(chosen.get("payload") or chosen.get("title") or "") or None
