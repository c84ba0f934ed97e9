"""A bot conversation's words, kept on it for the ticket it may become.

An escalation gives the new ticket the words of the conversation's messages so far (the desk list's
search, hub.ticketindex). Reading every message for them cost a query per escalation that grew with
the conversation. Instead the conversation keeps the words (`words_of`) of its searchable messages
(the customer's and the bot's, never the hub's own notices) as they are processed, in the
conversation write the processing makes anyway: no command of its own.

* Bounded: past MAX_CONVERSATION_WORDS distinct words the conversation drops them (`words` unset) and
  its escalation reads the messages, as before. A conversation opened before this (no `words`) too.
* `words_seq` counts the writes that added words: the escalation's handoff is written on the condition
  that it is still the one the escalation read (`TicketService.escalate`); a message processed
  meanwhile makes it read the messages instead.
* Dropped at the handoff: an escalated conversation's words are its ticket's (folded in per message).
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.store import Doc
from hub.ticketindex import words_of

#: Distinct words a bot conversation keeps (a few KB); past this, its escalation reads its messages.
MAX_CONVERSATION_WORDS = 400

def opened() -> Doc:
    """A newly opened bot conversation's fields (hub.conversations)."""
    return {"words": [], "words_seq": 0}


def conversation_words(conversation: Doc) -> list[str] | None:
    """The words the conversation keeps, or None if it keeps none (escalated, too many, opened before)."""
    words = conversation.get("words")
    return list(words) if isinstance(words, list) and conversation.get("ticket_id") is None else None


def words_update(conversation: Doc, texts: Iterable[str | None]) -> Doc:
    """The operators that fold these texts' words into the conversation's (empty: nothing to add)."""
    kept = conversation_words(conversation)
    if kept is None:
        return {}
    new: set[str] = set()
    for text in texts:
        new |= words_of(text)
    new -= set(kept)
    if not new:
        return {}
    if len(kept) + len(new) > MAX_CONVERSATION_WORDS:
        return {"$unset": {"words": ""}, "$inc": {"words_seq": 1}}
    return {"$addToSet": {"words": {"$each": sorted(new)}}, "$inc": {"words_seq": 1}}


def merged(update: Doc, extra: Doc) -> Doc:
    """`update` with `extra`'s operators added (distinct fields)."""
    out = {op: dict(fields) for op, fields in update.items()}
    for op, fields in extra.items():
        out.setdefault(op, {}).update(fields)
    return out
