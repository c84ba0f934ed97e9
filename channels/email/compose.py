"""One outbound message as a MIME mail that threads correctly in every client.

- `Message-ID: <sb-<message id>@domain>`, derived from the outbox message's
  `external_id`, so a retried send carries the same id (receivers de-duplicate)
  and the customer's reply finds the conversation by In-Reply-To.
- `In-Reply-To`/`References` from the thread's earlier messages.
- `Reply-To: support+<conversation token>@domain`: threads even when the
  customer's client drops In-Reply-To.
- `[#123]` in the subject once a ticket exists.
- plain text and an escaped HTML alternative; `Auto-Submitted: auto-replied`
  on bot and system mail, so well-behaved auto-responders never answer it.
"""

from __future__ import annotations

import html
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from channels.email.addresses import MAX_CC, clean_address
from channels.email.config import MailboxConfig
from channels.email.threading import outbound_subject
from hub.csat import CsatLinks, score_of
from hub.models import AuthorKind, OutboundMessage, utcnow

_URL = re.compile(r"https?://[^\s<>\"]+")


def message_id_for(message: OutboundMessage, domain: str) -> str:
    """Our Message-ID for an outbound message, without brackets (what `SendResult.provider_id` holds)."""
    local = message.external_id or f"sb-{message.message_id}"
    return f"{local}@{domain}"


def reply_address(mailbox: MailboxConfig, token: str | None) -> str:
    return f"{mailbox.local_part}+{token}@{mailbox.domain}" if token else mailbox.address


#: How each score reads next to its link in a rating request.
SCORE_WORDS = {1: "not at all happy", 2: "not happy", 3: "okay", 4: "happy", 5: "very happy"}


def _rating_links(message: OutboundMessage, links: CsatLinks | None) -> str | None:
    """A rating request's `csat:N` quick replies as one signed link per score (hub.csat)."""
    scores = [score_of(q.payload) for q in message.quick_replies]
    if links is None or message.ticket_number is None or not scores or None in scores:
        return None
    lines = [f"  {score} - {SCORE_WORDS[score]}: {links.url(message.ticket_number, score)}"
             for score in scores if score is not None]
    return "Choose your score (one click opens a page where you confirm it and may add a comment):\n" + \
        "\n".join(lines)


def _text_body(message: OutboundMessage, links: CsatLinks | None = None) -> str:
    text = message.text.strip()
    rating = _rating_links(message, links)
    if rating is not None:
        text = f"{text}\n\n{rating}"
    elif message.quick_replies:
        options = "\n".join(f"  - {q.title}" for q in message.quick_replies)
        text = f"{text}\n\nYou can reply with one of:\n{options}"
    return text + "\n"


def _html_body(text: str) -> str:
    paragraphs = []
    for block in text.strip().split("\n\n"):
        escaped = html.escape(block)
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        paragraphs.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n<body>\n'
            + "\n".join(paragraphs) + "\n</body></html>\n")


def _in_reply_to(references: tuple[str, ...]) -> str | None:
    """The latest customer mail if we know it (ours start with `sb-`), else the latest of all."""
    theirs = [r for r in references if "@" in r and not r.startswith("sb-")]
    mail_ids = [r for r in references if "@" in r]
    pick = (theirs or mail_ids or [None])[-1]
    return f"<{pick}>" if pick else None


def compose_notice(recipient: str, subject: str, text: str, mailbox: MailboxConfig, domain: str) -> EmailMessage:
    """The hub's own email to a desk user (hub.newsmail): plain text from the mailbox, marked as generated (RFC 3834:
    no out-of-office answers it) and with the mailbox's `X-Loop` (the hub drops it should it come back)."""
    mail = EmailMessage()
    mail["Message-ID"] = make_msgid(domain=domain)
    mail["Date"] = format_datetime(utcnow())
    mail["From"] = Address(display_name=mailbox.from_name or "", addr_spec=mailbox.address)
    mail["To"] = recipient
    mail["Subject"] = subject
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Loop"] = mailbox.address
    mail.set_content(text)
    return mail


def copies(message: OutboundMessage, recipient: str) -> list[str]:
    """Whom an agent's reply copies: the people the customer's latest mail copied (`cc` in the conversation's
    channel data, channels.email.addresses.copied), never on the bot's or the hub's own mail: a stranger who copies
    addresses into a mail to support must not make the hub mail them by itself."""
    if message.author_kind is not AuthorKind.AGENT:
        return []
    kept = [clean_address(str(a)) for a in message.metadata.get("cc") or []]
    return [a for a in dict.fromkeys(kept) if a is not None and a != clean_address(recipient)][:MAX_CC]


def compose(message: OutboundMessage, mailbox: MailboxConfig, domain: str,
            csat_links: CsatLinks | None = None) -> EmailMessage:
    recipient = str(message.metadata.get("reply_to") or message.recipient)
    mail = EmailMessage()
    mail["Message-ID"] = f"<{message_id_for(message, domain)}>"
    mail["Date"] = format_datetime(utcnow())
    mail["From"] = Address(display_name=mailbox.from_name or "", addr_spec=mailbox.address)
    mail["To"] = recipient
    cc = copies(message, recipient)
    if cc:  # "reply all": the people the customer's mail copied
        mail["Cc"] = ", ".join(cc)
    mail["Reply-To"] = Address(display_name=mailbox.from_name or "",
                               addr_spec=reply_address(mailbox, message.conversation_token))
    in_reply_to = _in_reply_to(message.references)
    # "Re:" on an answer; a mail that starts the thread (an agent writing first, hub.outbound) has none
    mail["Subject"] = outbound_subject(message.subject, message.ticket_number, reply=in_reply_to is not None)
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
        refs = [r for r in message.references if "@" in r]
        if len(refs) > 20:
            refs = [refs[0], *refs[-19:]]
        mail["References"] = " ".join(f"<{r}>" for r in refs)
    if message.author_kind in (AuthorKind.BOT, AuthorKind.SYSTEM):
        mail["Auto-Submitted"] = "auto-replied"
    mail["X-Loop"] = mailbox.address
    if message.ticket_number:
        mail["X-Switchboard-Ticket"] = str(message.ticket_number)
    text = _text_body(message, csat_links)
    mail.set_content(text)
    mail.add_alternative(_html_body(text), subtype="html")
    for file in message.attachments:
        if file.data is None:  # the hub loads bytes for senders with files = "bytes"
            raise ValueError(f"attachment {file.filename!r} came without its bytes")
        maintype, _, subtype = file.content_type.partition("/")
        if not subtype or maintype in ("multipart", "message"):
            maintype, subtype = "application", "octet-stream"
        mail.add_attachment(file.data, maintype=maintype, subtype=subtype, filename=file.filename)
    return mail
