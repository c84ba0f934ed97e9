"""Mail no person wrote: auto-replies, lists, bounces and our own mail coming back.

Such mail is still stored (an out-of-office in a ticket is useful to agents) but
flagged `suppress_bot`, so neither the bot nor the auto-acknowledgement ever
answers it: two robots cannot talk to each other forever. Delivery status
notifications (bounces) for mail we sent mark that outbound message failed.
"""

from __future__ import annotations

import email.message
import email.policy
import re
from collections.abc import Callable
from dataclasses import dataclass

from channels.email.addresses import message_ids, split_plus
from channels.email.charsets import decode_bytes, decode_header
from channels.email.parse import ParsedEmail, content_type_of, param_of, payload_bytes

_ROBOT_LOCAL_PARTS = {"mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply",
                      "bounce", "bounces"}
_OUR_ID = re.compile(r"<?(sb-[0-9a-f]{24}@[^\s<>]+)>?", re.IGNORECASE)


def noise_reason(parsed: ParsedEmail, is_ours: Callable[[str | None], bool],
                 envelope_from: str | None = None) -> str | None:
    """Why this mail is automated (and must not be answered), or None for mail from a person."""
    auto = (parsed.header("auto-submitted") or "").strip().lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    precedence = (parsed.header("precedence") or "").strip().lower()
    if precedence in ("bulk", "list", "junk", "auto_reply"):
        return f"Precedence: {precedence}"
    for header in ("x-autoreply", "x-autorespond"):
        if parsed.header(header) is not None:
            return f"{header} present"
    suppress = (parsed.header("x-auto-response-suppress") or "").lower()
    if any(word in suppress for word in ("all", "oof", "autoreply")):
        return f"X-Auto-Response-Suppress: {suppress}"
    if parsed.header("list-id") is not None or parsed.header("list-unsubscribe") is not None:
        return "mailing list"
    if parsed.content_type == "multipart/report":
        return "delivery or read report"
    if envelope_from is not None and envelope_from.strip("<> ") == "":
        return "null envelope sender (a bounce or automatic notice)"
    if (parsed.header("return-path") or "").strip() == "<>":
        return "null Return-Path (a bounce or automatic notice)"
    sender = parsed.from_address
    if sender is None:
        return "no From address"
    local = split_plus(sender)[0].split("@", 1)[0]
    if local in _ROBOT_LOCAL_PARTS:
        return f"automated sender {sender}"
    if is_ours(sender):
        return f"from our own address {sender}"
    if is_ours(parsed.header("x-loop")):
        return "X-Loop names our address"
    return None


@dataclass(frozen=True)
class Bounce:
    """A delivery failure report about a message we sent."""

    original_id: str
    recipient: str | None
    status: str | None
    reason: str


def _field(block: email.message.Message, name: str) -> str | None:
    value = block.get(name)
    return decode_header(value) if value is not None else None


def _status_blocks(msg: email.message.Message) -> list[email.message.Message]:
    blocks: list[email.message.Message] = []
    for part in msg.walk():
        if content_type_of(part) != "message/delivery-status":
            continue
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            blocks += [b for b in payload if isinstance(b, email.message.Message)]
    return blocks


def _original_id(msg: email.message.Message, parsed: ParsedEmail) -> str | None:
    """The Message-ID of the returned mail: its headers part, else any id of ours in the report."""
    for part in msg.walk():
        ctype = content_type_of(part)
        if ctype in ("message/rfc822", "message/global", "message/global-headers"):
            payload = part.get_payload() if part.is_multipart() else None
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, email.message.Message):
                found = message_ids(inner.get("message-id"))
                if found:
                    return found[0]
        if ctype == "text/rfc822-headers":
            inner = email.message_from_bytes(payload_bytes(part), policy=email.policy.compat32)
            found = message_ids(inner.get("message-id"))
            if found:
                return found[0]
    for candidate in (*parsed.in_reply_to, *parsed.references):
        if _OUR_ID.fullmatch(candidate):
            return candidate
    searchable = parsed.full_text
    for part in msg.walk():
        if content_type_of(part).startswith("text/") and not part.is_multipart():
            searchable += "\n" + decode_bytes(payload_bytes(part), param_of(part, "charset"))
    found_ours = _OUR_ID.search(searchable)
    return found_ours.group(1) if found_ours else None


def find_bounce(parsed: ParsedEmail) -> Bounce | None:
    """A permanent delivery failure report (RFC 3464 DSN, or a classic mailer-daemon bounce)."""
    msg = parsed.message
    if msg is None:
        return None
    report = parsed.content_type == "multipart/report" and "delivery-status" in (parsed.header("content-type") or "")
    sender_local = (parsed.from_address or "").split("@", 1)[0]
    classic = sender_local in ("mailer-daemon", "postmaster") or parsed.header("x-failed-recipients") is not None
    if not report and not classic:
        return None
    blocks = _status_blocks(msg)
    failed = [b for b in blocks if (_field(b, "action") or "").lower().startswith("failed")]
    if blocks and not failed:
        return None  # "delayed", "delivered", "relayed": not a failure
    block = failed[0] if failed else None
    original = _original_id(msg, parsed)
    if original is None:
        return None
    recipient = (_field(block, "final-recipient") or _field(block, "original-recipient")) if block else None
    recipient = recipient.split(";", 1)[-1].strip() if recipient else parsed.header("x-failed-recipients")
    status = _field(block, "status") if block else None
    diagnostic = _field(block, "diagnostic-code") if block else None
    detail = (diagnostic.split(";", 1)[-1].strip() if diagnostic else "") or parsed.subject or "delivery failed"
    reason = f"bounced{f' ({status})' if status else ''}: {detail}"[:500]
    return Bounce(original_id=original, recipient=recipient, status=status, reason=reason)
