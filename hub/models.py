"""Domain values shared by every part of the hub.

Only the standard library is imported here: channels, bot backends and the web
desk map their own types onto these, never the other way round.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Event written when an agent's presence, capacity, queues, roles or disabled flag changes: every process
#: drops what it keeps of the desk's serving capacity (hub.routing, the wait estimate).
AGENTS_CHANGED = "agents.changed"

#: Channels whose customers hold a live connection to the hub (the chat widget's socket): the hub publishes what
#: they should see at once (the handoff, the wait's banner) as events naming their thread. Other channels' thread
#: keys are addresses (a phone number, a chat id) and stay out of the event log, which erasure does not rewrite.
LIVE_CHANNELS = frozenset({"widget"})


def utcnow() -> datetime:
    """One clock for the whole hub (aware, UTC, millisecond precision like BSON)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class ConversationState(enum.StrEnum):
    BOT = "bot"
    ESCALATED = "escalated"
    CLOSED = "closed"


class TicketStatus(enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    SOLVED = "solved"
    CLOSED = "closed"

    @property
    def is_active(self) -> bool:
        return self in (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)


class Direction(enum.StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class AuthorKind(enum.StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class Role(enum.StrEnum):
    AGENT = "agent"
    TRAINER = "trainer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


@dataclass(frozen=True)
class Attachment:
    """A file that came with (or goes with) a message. `data` is dropped once stored."""

    filename: str
    content_type: str
    data: bytes | None = None
    size: int = 0
    url: str | None = None
    blob_id: str | None = None


@dataclass(frozen=True)
class Sender:
    """Who wrote an inbound message, as the channel knows them."""

    external_id: str
    display_name: str | None = None
    email: str | None = None
    phone: str | None = None
    #: The channel proved `email` belongs to this sender (a Slack account address, a site-signed
    #: widget JWT). Only then may the address link the sender to an existing contact; a typed or
    #: merely claimed address never does. Email and phone channels need no flag: there the
    #: address *is* the sender's identity.
    email_verified: bool = False
    #: The channel believes this sender never wrote before (a widget that has sent nothing from this
    #: browser): the contact is inserted without a read first (one command instead of two). A wrong
    #: belief costs the failed insert and the read; the identity's unique index keeps one contact.
    probably_new: bool = False


@dataclass(frozen=True)
class ThreadHints:
    """What a channel knows about which earlier conversation a message continues.

    Resolved in this order: an explicit conversation token (e.g. an email reply
    address), a ticket number (e.g. `[#123]` in a subject), references to external
    ids of earlier messages on the same channel (e.g. In-Reply-To/References),
    then the channel's thread key.
    """

    conversation_token: str | None = None
    ticket_number: int | None = None
    references: tuple[str, ...] = ()
    use_thread_key: bool = True


@dataclass(frozen=True)
class InboundMessage:
    """One customer message, normalised by a channel adapter.

    `(channel, external_id)` is unique: ingesting the same pair twice stores it once.
    `thread_key` names the channel's thread (widget visitor, Slack thread, Telegram
    chat, phone call, SMS number, email thread root).
    """

    channel: str
    external_id: str
    thread_key: str
    sender: Sender
    text: str
    attachments: tuple[Attachment, ...] = ()
    received_at: datetime = field(default_factory=utcnow)
    hints: ThreadHints = field(default_factory=ThreadHints)
    subject: str | None = None
    #: Automated mail, STOP keywords...: stored, shown to agents, never answered by the bot.
    suppress_bot: bool = False
    #: Sent by a machine (an out-of-office reply, a mailing list): it never reopens a solved ticket.
    automated: bool = False
    #: The channel's own routing scope (a mailbox, a widget site, a Slack team).
    inbox: str | None = None
    #: Channel-specific values kept with the message (headers, raw ids, original HTML).
    metadata: dict[str, Any] = field(default_factory=dict)
    #: What the channel needs to reply in this thread (Slack channel and thread_ts, a
    #: Telegram chat id); kept on the conversation and handed back in `OutboundMessage.metadata`.
    reply_context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QuickReply:
    title: str
    payload: str


@dataclass(frozen=True)
class OutboundMessage:
    """What a channel sender is asked to deliver. Built from an outbox entry."""

    outbox_id: str
    message_id: str
    conversation_id: str
    channel: str
    thread_key: str
    recipient: str
    text: str
    author_kind: AuthorKind
    author_name: str | None = None
    quick_replies: tuple[QuickReply, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    subject: str | None = None
    #: Our id for this message on the channel (e.g. the email Message-ID we generated).
    external_id: str | None = None
    ticket_number: int | None = None
    conversation_token: str | None = None
    inbox: str | None = None
    #: External ids of earlier messages in the thread, oldest first (email References).
    references: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Set when an earlier attempt may have reached the provider (it failed without a clear refusal, or
    #: its process stopped while sending): when the message was queued. A sender that can ask the
    #: provider what it already holds does so before sending again (Slack); the others send again.
    maybe_delivered_since: datetime | None = None


@dataclass(frozen=True)
class SendResult:
    """What the provider said after accepting a message."""

    provider_id: str | None = None


class SendError(Exception):
    """An outbound provider refused or failed to take a message."""

    def __init__(self, reason: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after


class DecisionKind(enum.StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    ESCALATE = "escalate"
    SILENT = "silent"


@dataclass(frozen=True)
class IntentScore:
    name: str
    confidence: float


@dataclass(frozen=True)
class Entity:
    type: str
    value: str
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class BotTurn:
    """What the bot sees of one customer message."""

    text: str
    channel: str
    conversation_id: str
    #: The bot's own memory of this conversation (fallback counters, pending question).
    state: dict[str, Any] = field(default_factory=dict)
    contact_name: str | None = None


@dataclass(frozen=True)
class Decision:
    """The bot's answer to one turn: answer, clarify, escalate (with reason and queue), or stay silent."""

    kind: DecisionKind
    text: str = ""
    quick_replies: tuple[QuickReply, ...] = ()
    reason: str | None = None
    queue: str | None = None
    intent: str | None = None
    confidence: float | None = None
    ranking: tuple[IntentScore, ...] = ()
    entities: tuple[Entity, ...] = ()
    #: Replaces the conversation's bot state after this turn.
    state: dict[str, Any] = field(default_factory=dict)
    #: Text for the customer when escalating (e.g. "Connecting you to a person").
    handoff_text: str | None = None
    #: A help-center article offered with the answer (slug, title, url, snippet, lead, question): stored on
    #: the bot's message so a widget can draw a card; text channels read "title — link" in `text`.
    article: dict[str, str] | None = None
    #: Knowledge-base event of this turn: "offered", "helped" or "not_helpful" (article deflection metric).
    kb: str | None = None

    def as_record(self) -> dict[str, Any]:
        """The form stored with the message, so trainers and metrics can see why."""
        record: dict[str, Any] = {
            "kind": self.kind.value,
            "intent": self.intent,
            "confidence": self.confidence,
            "ranking": [{"name": s.name, "confidence": round(s.confidence, 4)} for s in self.ranking[:5]],
            "entities": [{"type": e.type, "value": e.value} for e in self.entities],
            "reason": self.reason,
            "queue": self.queue,
        }
        if self.kb:  # only then: the `nlu.kb` index is sparse (hub.metrics counts article deflection from it)
            record["kb"] = self.kb
            if self.article:
                record["article"] = self.article.get("slug")
        return record


@dataclass(frozen=True)
class IngestResult:
    message_id: str
    conversation_id: str
    contact_id: str
    duplicate: bool
    #: The conversation was marked as left by its customer (hub.departures): writing is coming back.
    customer_was_away: bool = False
    #: The sender is blocked (hub.contactbook.block): the message is kept, and a channel opens no ticket for it.
    blocked: bool = False


@dataclass(frozen=True)
class Event:
    """An append-only fact: what happened when. Feeds metrics, audit and the realtime bus."""

    type: str
    at: datetime
    conversation_id: str | None = None
    ticket_id: str | None = None
    message_id: str | None = None
    contact_id: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
