"""One received mail, from SMTP or IMAP, into the hub: parsed, classified, threaded, ingested.

`Receiver.receive` returns only after `hub.ingest` returned (the message is
durably stored), so the SMTP listener can answer 250 and the IMAP poller can
flag the message. Database errors propagate: the caller answers 451 / leaves
the message unflagged, the mail comes again, and the `(channel, Message-ID)`
key turns the retry into a no-op. Everything here is safe to run twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from channels.email.addresses import copied
from channels.email.config import EmailConfig, MailboxConfig
from channels.email.directory import Directory
from channels.email.loops import find_bounce, noise_reason
from channels.email.parse import ParsedEmail, ParseError, ParseLimits, parse_message
from channels.email.threading import clean_subject, hints_for, thread_key
from httpkit.ratelimit import RateLimiter, admit, give_back
from hub.models import AuthorKind, ConversationState, InboundMessage, IngestResult, Sender
from hub.store import ObjectId

if TYPE_CHECKING:
    from hub.hub import Hub

log = logging.getLogger(__name__)
CHANNEL = "email"
#: The ticket's reason when the bot stopped answering a sender (`bot_answers_per_sender`).
TOO_MANY_BOT_ANSWERS = "too_many_bot_answers"


@dataclass(frozen=True)
class Outcome:
    """What became of one mail: `ingested`, `bounce` (an outbound message marked failed) or `refused`."""

    status: str
    detail: str
    message_id: str | None = None
    result: IngestResult | None = None

    @property
    def accepted(self) -> bool:
        return self.status != "refused"


class Receiver:
    def __init__(self, hub: Hub, config: EmailConfig) -> None:
        self.hub = hub
        self.config = config
        self.directory = Directory(config)
        self.limits = ParseLimits(max_attachment_bytes=config.max_attachment_bytes,
                                  max_original_chars=config.max_original_chars)
        #: Bot answers per sender address, in this process.
        self.bot_answers = RateLimiter(config.bot_answers_per_sender)

    async def receive(self, raw: bytes, *, recipients: list[str] | tuple[str, ...] = (),
                      envelope_from: str | None = None, mailbox: MailboxConfig | None = None,
                      source: str = "smtp") -> Outcome:
        """Parse and ingest one mail. `recipients` are the envelope's (SMTP); IMAP names its `mailbox`."""
        try:
            parsed = parse_message(raw, self.limits)
        except ParseError as exc:
            log.warning("email: refused a %d byte message via %s: %s", len(raw), source, exc.reason)
            return Outcome("refused", exc.reason)
        if parsed.from_address is None:
            log.warning("email: refused message %s via %s: no usable From address", parsed.message_id, source)
            return Outcome("refused", "no usable From address", parsed.message_id)
        bounce = find_bounce(parsed)
        if bounce is not None:
            for original in (bounce.original_id, bounce.original_id.split("@", 1)[0]):
                if await self.hub.outbox.mark_failed_by_external_id(CHANNEL, original, bounce.reason):
                    log.info("email: bounce %s marks outbound %s failed: %s", parsed.message_id, original,
                             bounce.reason)
                    return Outcome("bounce", bounce.reason, parsed.message_id)
        target = self.directory.pick([*recipients, *parsed.recipients()], default=mailbox)
        if target is None:
            # Reached us (a Bcc, a forward) without naming a mailbox: the first one takes it.
            target = self.directory.pick([self.config.mailbox(None).address])
        assert target is not None
        noise = noise_reason(parsed, self.directory.is_ours, envelope_from)
        limited = noise is None and target.mailbox.bot  # a mail the bot would answer counts for its sender
        checks = [(self.bot_answers, parsed.from_address.lower())]
        held_back = limited and admit(checks) > 0
        message = self._inbound(parsed, target.mailbox, target.token, noise, source, bot=not held_back)
        try:
            result = await self.hub.ingest(message)
        except Exception:
            if limited and not held_back:
                give_back(checks)  # not stored (the sender is told to try later): its redelivery counts, not this
            raise
        log.info("email: %s %s from %s into conversation %s%s", "duplicate" if result.duplicate else "ingested",
                 parsed.message_id, parsed.from_address, result.conversation_id, f" (noise: {noise})" if noise else "")
        if result.duplicate and limited:
            if not held_back:
                give_back(checks)  # counted when it first came
            held_back = await self._held_back(result)  # as its first delivery decided
        elif held_back:
            log.warning("email: the bot answered %s as often as bot_answers_per_sender allows: %s goes to agents "
                        "unanswered (a mail loop is stopped here)", parsed.from_address, parsed.message_id)
        if result.blocked:
            pass  # a blocked sender (hub.contactbook.block): the mail is kept on their record, and opens no ticket
        elif held_back:
            await self._ensure_ticket(result, target.mailbox, TOO_MANY_BOT_ANSWERS)
        elif noise is None and not target.mailbox.bot:
            await self._ensure_ticket(result, target.mailbox)
        return Outcome("ingested", noise or "ok", parsed.message_id, result)

    async def _held_back(self, result: IngestResult) -> bool:
        """Whether the stored copy of a mail delivered again was held back from the bot (then a ticket must
        exist for it: the first delivery may have stopped before it opened one)."""
        stored = await self.hub.store.messages.find_one({"_id": ObjectId(result.message_id)},
                                                        projection={"metadata.bot_held_back": 1})
        return bool(((stored or {}).get("metadata") or {}).get("bot_held_back"))

    def _inbound(self, parsed: ParsedEmail, mailbox: MailboxConfig, token: str | None, noise: str | None,
                 source: str, bot: bool = True) -> InboundMessage:
        """The hub's message for this mail; `bot=False`: the bot must not answer it (the sender's limit)."""
        assert parsed.from_address is not None
        subject = clean_subject(parsed.subject) or None
        text = parsed.text or parsed.full_text or (subject or "")
        metadata: dict[str, Any] = {
            "message_id": parsed.message_id,
            "synthetic_message_id": parsed.synthetic_id,
            "subject_raw": parsed.subject,
            "from": parsed.from_address,
            "to": list(parsed.to),
            "cc": list(parsed.cc),
            "date": parsed.date,
            "headers": parsed.headers,
            "original_text": parsed.full_text,
            "original_html": parsed.html,
            "stripped": parsed.full_text != text,
            "size": parsed.size,
            "source": source,
        }
        if noise:
            metadata["noise"] = noise
        if not bot:
            metadata["bot_held_back"] = "bot_answers_per_sender"
        if parsed.dropped:
            metadata["dropped_attachments"] = [
                {"filename": d.filename, "content_type": d.content_type, "size": d.size, "reason": d.reason}
                for d in parsed.dropped
            ]
            for d in parsed.dropped:
                log.warning("email: %s: attachment %r (%d bytes) not stored: %s", parsed.message_id, d.filename,
                            d.size, d.reason)
        if parsed.defects:
            metadata["defects"] = list(parsed.defects)
        return InboundMessage(
            channel=CHANNEL,
            external_id=parsed.message_id,
            thread_key=thread_key(parsed),
            sender=Sender(external_id=parsed.from_address, display_name=parsed.from_name, email=parsed.from_address),
            text=text,
            attachments=parsed.attachments,
            hints=hints_for(parsed, token, self.config.domain),
            subject=subject,
            suppress_bot=noise is not None or not mailbox.bot or not bot,
            automated=noise is not None,
            inbox=mailbox.name,
            metadata=metadata,
            reply_context={"reply_to": parsed.reply_to if parsed.reply_to != parsed.from_address else None,
                           # "reply all": the people this mail copied get the agents' replies too (compose)
                           "cc": copied(parsed.cc, parsed.from_address, self.config.own_addresses())},
        )

    async def _ensure_ticket(self, result: IngestResult, mailbox: MailboxConfig, reason: str = "email") -> None:
        """Bot off for this mailbox (`email`) or for this sender (`too_many_bot_answers`, with no automatic
        acknowledgement either): a conversation the bot holds goes to agents (once, even on retries)."""
        store = self.hub.store
        conv_id = ObjectId(result.conversation_id)
        conversation = await store.conversations.find_one({"_id": conv_id})
        if conversation is None or conversation.get("ticket_id") or conversation["state"] != ConversationState.BOT:
            return
        number = await store.next_number("ticket")

        async def work(session: Any) -> dict[str, Any] | None:
            current = await store.conversations.find_one({"_id": conv_id}, session=session)
            if current is None or current.get("ticket_id") or current["state"] != ConversationState.BOT:
                return None
            ticket = await self.hub.tickets.escalate(current, reason=reason, queue=mailbox.queue, number=number,
                                                     session=session, subject=current.get("subject"))
            if mailbox.auto_ack and reason == "email":
                text = mailbox.auto_ack_text.format(number=ticket["number"])
                await self.hub.outbox.post({**current, "ticket_id": ticket["_id"]}, AuthorKind.SYSTEM, text,
                                           session=session, author_name=mailbox.from_name or "Switchboard")
            return ticket

        ticket = await store.run_in_transaction(work)
        if ticket is not None:
            log.info("email: conversation %s opened ticket #%s in %s (%s)", conv_id, ticket["number"],
                     ticket["queue"], f"bot off for mailbox {mailbox.name}" if reason == "email" else reason)
