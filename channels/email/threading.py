"""Which conversation a mail continues, told to the hub as `ThreadHints`.

The hub resolves them in order (see `hub.conversations.ConversationService`):
1. the reply token of a `support+<token>@` address (survives clients that drop
   In-Reply-To), 2. a `[#123]` ticket number in the subject, 3. In-Reply-To and
   References against every Message-ID we stored or sent. Nothing else: the
   subject alone never threads (`use_thread_key=False`), so a new mail with an
   old subject opens a new conversation, and a real reply with a changed
   subject still finds its ticket through its references.
"""

from __future__ import annotations

import re

from channels.email.parse import ParsedEmail
from hub.models import ThreadHints

_TICKET = re.compile(r"\[#\s*(\d{1,9})\s*\]")
#: Reply/forward prefixes of many languages and clients (Outlook RE:/AW:/SV:, "Re[2]:", full-width colons).
_PREFIX = re.compile(
    r"^\s*((re|aw|sv|vs|antw|antwort|odp|wg|fw|fwd|tr|rif|r|ref|res|enc|atb|vá|yan\u0131t|ynt|на|回复|答复|回覆|转发|轉寄"
    r"|返信|転送)\s*(\[\d+\]|\(\d+\))?\s*[:\uff1a]\s*)+",
    re.IGNORECASE,
)
#: Our own Message-IDs (`sb-<24 hex>@domain`), so a reply matches even before the send was recorded.
_OURS = re.compile(r"^(sb-[0-9a-f]{24})@(.+)$")


def ticket_number(subject: str) -> int | None:
    """The `[#123]` of a subject (the last one, as replies add theirs at the end)."""
    found = _TICKET.findall(subject or "")
    return int(found[-1]) if found else None


def clean_subject(subject: str) -> str:
    """The subject a person meant: reply prefixes and ticket tags removed."""
    text = _TICKET.sub(" ", subject or "")
    previous = None
    while previous != text:
        previous = text
        text = _PREFIX.sub("", text).strip()
    return " ".join(text.split())


def outbound_subject(subject: str | None, number: int | None, reply: bool = True) -> str:
    """`Re: <subject> [#123]` (`<subject> [#123]` for a mail that starts the thread): the tag is what threads the
    customer's next reply if all else fails."""
    base = clean_subject(subject or "") or "Your message"
    tag = f" [#{number}]" if number else ""
    return f"{'Re: ' if reply else ''}{base}{tag}"


def references_of(parsed: ParsedEmail, domain: str) -> tuple[str, ...]:
    """Every Message-ID the mail answers, newest first, plus the hub's own id for ours."""
    ids = [*parsed.in_reply_to, *reversed(parsed.references)]
    out: list[str] = []
    for item in ids:
        candidates = [item]
        ours = _OURS.match(item)
        if ours and ours.group(2).lower() == domain.lower():
            candidates.append(ours.group(1))  # the outbound message's external_id
        for candidate in candidates:
            if candidate not in out:
                out.append(candidate)
    return tuple(out)


def thread_key(parsed: ParsedEmail) -> str:
    """The thread's root Message-ID (first of References), else what it replies to, else its own id."""
    root = (parsed.references[:1] or parsed.in_reply_to[:1] or (parsed.message_id,))[0]
    return f"email:{root}"


def hints_for(parsed: ParsedEmail, token: str | None, domain: str) -> ThreadHints:
    return ThreadHints(
        conversation_token=token,
        ticket_number=ticket_number(parsed.subject),
        references=references_of(parsed, domain),
        use_thread_key=False,
    )
