"""Raw RFC 5322 bytes to one `ParsedEmail`: text, HTML, files, addresses and threading headers.

The standard library's lenient (`compat32`) parser reads the structure, so broken
mail still parses; every header and part is then decoded here with the
fallbacks real mail needs (`charsets`). `parse_message` returns a result for
anything that looks like a mail message and raises `ParseError`, with a reason,
for anything that does not; no other exception escapes it.
"""

from __future__ import annotations

import email
import email.errors
import email.message
import email.policy
import email.utils
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from channels.email.addresses import message_ids, normalise_id, parse_addresses
from channels.email.charsets import decode_bytes, decode_header
from channels.email.htmltext import html_to_text
from channels.email.quoting import strip_reply, tidy
from hub.models import Attachment

_CTYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: Headers kept with the message (for agents, loop detection and audit), decoded.
KEPT_HEADERS = (
    "message-id", "date", "from", "sender", "reply-to", "to", "cc", "delivered-to", "x-original-to", "envelope-to",
    "subject", "in-reply-to", "references", "auto-submitted", "precedence", "list-id", "list-unsubscribe",
    "x-autoreply", "x-autorespond", "x-auto-response-suppress", "x-loop", "return-path", "x-mailer",
    "user-agent", "content-type", "thread-index", "x-failed-recipients",
)
_MAX_HEADER = 2000


class ParseError(ValueError):
    """The bytes are not a mail message we can read; `reason` says why (for the log and the SMTP reply)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParseLimits:
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_original_chars: int = 512 * 1024
    max_parts: int = 200
    max_depth: int = 20


@dataclass(frozen=True)
class DroppedFile:
    """A file listed on the message but not stored (over the size limit)."""

    filename: str
    content_type: str
    size: int
    reason: str


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str
    #: True when the mail had no usable Message-ID and `message_id` is derived from its bytes.
    synthetic_id: bool
    from_address: str | None
    from_name: str | None
    reply_to: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    #: Delivered-To / X-Original-To / Envelope-To: the real recipient when To is a list or Bcc.
    delivered_to: tuple[str, ...]
    subject: str
    date: datetime | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    #: What the conversation shows: the new part, quoted history and signature stripped.
    text: str
    #: The whole text as sent (capped), for agents who need the history.
    full_text: str
    html: str | None
    attachments: tuple[Attachment, ...]
    dropped: tuple[DroppedFile, ...]
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    defects: tuple[str, ...] = ()
    size: int = 0
    message: email.message.Message | None = field(default=None, repr=False, compare=False)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def recipients(self) -> tuple[str, ...]:
        return (*self.delivered_to, *self.to, *self.cc)


@dataclass
class _Body:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    dropped: list[DroppedFile] = field(default_factory=list)
    parts: int = 0
    defects: list[str] = field(default_factory=list)


def param_of(part: email.message.Message, name: str, header: str = "content-type") -> str | None:
    try:
        value = part.get_param(name, header=header)
    except (ValueError, LookupError, UnicodeError, IndexError, TypeError):
        return None
    if value is None:
        return None
    if isinstance(value, tuple):
        try:
            value = email.utils.collapse_rfc2231_value(value)
        except (ValueError, LookupError, UnicodeError):
            value = str(value[2])
    return decode_header(value) if isinstance(value, str) else None


def content_type_of(part: email.message.Message) -> str:
    try:
        ctype = part.get_content_type()
    except (ValueError, IndexError, AttributeError, TypeError):
        return "application/octet-stream"
    return ctype if _CTYPE.match(ctype) else "application/octet-stream"


def _disposition(part: email.message.Message) -> str | None:
    raw = part.get("content-disposition")
    if raw is None:
        return None
    return decode_header(raw).split(";", 1)[0].strip().lower() or None


_PAYLOAD_ERRORS = (ValueError, LookupError, UnicodeError, IndexError, TypeError, AssertionError)


def payload_bytes(part: email.message.Message) -> bytes:
    """A part's content with its transfer encoding undone; the raw text if that fails; never raises."""
    for decode in (True, False):
        try:
            data = part.get_payload(decode=decode)
        except _PAYLOAD_ERRORS:
            continue
        if isinstance(data, bytes):
            return data
        if isinstance(data, str):
            return data.encode("utf-8", errors="surrogateescape")
    return b""


def _part_text(part: email.message.Message) -> str:
    text = decode_bytes(payload_bytes(part), param_of(part, "charset"))
    if (param_of(part, "format") or "").lower() == "flowed":
        text = _unflow(text, (param_of(part, "delsp") or "").lower() == "yes")
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed: lines ending in a space continue on the next line."""
    out: list[str] = []
    buffer = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith(" "):
            line = line[1:]  # space-stuffing
        if line.endswith(" ") and line != "-- ":
            buffer += line[:-1] if delsp else line
            continue
        out.append(buffer + line)
        buffer = ""
    if buffer:
        out.append(buffer)
    return "\n".join(out)


def _filename(part: email.message.Message, ctype: str, index: int) -> str:
    name = param_of(part, "filename", "content-disposition") or param_of(part, "name") or ""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*').strip(" .")[:200]
    if name:
        return name
    extension = mimetypes.guess_extension(ctype) or (".txt" if ctype.startswith("text/") else ".bin")
    return f"attachment-{index}{extension}"


def _attach(part: email.message.Message, ctype: str, data: bytes, body: _Body, limits: ParseLimits,
            filename: str | None = None) -> None:
    name = filename or _filename(part, ctype, len(body.attachments) + 1)
    if len(data) > limits.max_attachment_bytes:
        body.dropped.append(DroppedFile(name, ctype, len(data),
                                        f"larger than the {limits.max_attachment_bytes} byte attachment limit"))
        body.attachments.append(Attachment(filename=name, content_type=ctype, data=None, size=len(data)))
        return
    body.attachments.append(Attachment(filename=name, content_type=ctype, data=data, size=len(data)))


def _inner_message(part: email.message.Message) -> tuple[bytes, str]:
    """A forwarded message (message/rfc822) as .eml bytes and a file name from its subject."""
    payload = part.get_payload() if part.is_multipart() else None
    if isinstance(payload, list) and payload and isinstance(payload[0], email.message.Message):
        inner = payload[0]
        try:
            data = inner.as_bytes(policy=email.policy.compat32)
        except (ValueError, LookupError, UnicodeError, TypeError, IndexError, AttributeError):
            data = str(inner).encode("utf-8", errors="surrogateescape")
        subject = decode_header(inner.get("subject"))
    else:
        data, subject = payload_bytes(part), ""
    safe = "".join(ch for ch in subject if ch.isalnum() or ch in " -_")[:80].strip() or "forwarded message"
    return data, f"{safe}.eml"


def _walk(part: email.message.Message, body: _Body, limits: ParseLimits, depth: int) -> None:
    body.parts += 1
    if body.parts > limits.max_parts or depth > limits.max_depth:
        if "too many parts" not in body.defects:
            body.defects.append("too many parts")
        return
    ctype = content_type_of(part)
    disposition = _disposition(part)
    children = part.get_payload() if part.is_multipart() else None
    if ctype.startswith("multipart/") and isinstance(children, list):
        subparts = [c for c in children if isinstance(c, email.message.Message)]
        if ctype == "multipart/alternative":
            _walk_alternative(subparts, body, limits, depth)
        else:
            for child in subparts:
                _walk(child, body, limits, depth + 1)
        return
    if ctype in ("message/rfc822", "message/global"):
        data, name = _inner_message(part)
        _attach(part, "message/rfc822", data, body, limits, filename=name)
        return
    if ctype.startswith("multipart/") or ctype.startswith("message/"):
        ctype = "text/plain"  # a multipart without parts (no boundary): its body is all there is
    if ctype == "text/plain" and disposition != "attachment":
        body.plain.append(_part_text(part))
    elif ctype == "text/html" and disposition != "attachment":
        body.html.append(_part_text(part))
    else:
        _attach(part, ctype, payload_bytes(part), body, limits)


def _walk_alternative(subparts: list[email.message.Message], body: _Body, limits: ParseLimits, depth: int) -> None:
    """One rendering of the same content: plain text preferred, HTML kept as the original."""
    versions = []
    for child in subparts:
        version = _Body(parts=body.parts)
        _walk(child, version, limits, depth + 1)
        body.parts = version.parts
        body.attachments += version.attachments
        body.dropped += version.dropped
        body.defects += version.defects
        versions.append(version)
    plain = next((v.plain for v in versions if any(t.strip() for t in v.plain)), [])
    html = next((v.html for v in versions if any(t.strip() for t in v.html)), [])
    body.plain += plain
    body.html += html


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _headers(msg: email.message.Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in msg.items():
        key = str(name).strip().lower()
        if key in KEPT_HEADERS and key not in out:
            out[key] = decode_header(value)[:_MAX_HEADER]
    return out


def _first(pairs: list[tuple[str | None, str]]) -> tuple[str | None, str | None]:
    return pairs[0] if pairs else (None, None)


def parse_message(raw: bytes, limits: ParseLimits | None = None) -> ParsedEmail:
    """Parse one message; `ParseError` if it is not a mail message at all."""
    limits = limits or ParseLimits()
    if not isinstance(raw, bytes | bytearray):
        raise ParseError("expected the message as bytes")
    raw = bytes(raw)
    if not raw.strip():
        raise ParseError("empty message")
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except (ValueError, LookupError, UnicodeError, IndexError, TypeError, AssertionError,
            email.errors.MessageError, RecursionError) as exc:
        raise ParseError(f"unreadable MIME structure: {type(exc).__name__}") from exc
    if not msg.keys():
        raise ParseError("no header section (not a mail message)")
    headers = _headers(msg)
    body = _Body()
    try:
        _walk(msg, body, limits, 0)
    except RecursionError as exc:
        raise ParseError("MIME structure nested too deeply") from exc
    cap = limits.max_original_chars
    html = "\n".join(body.html)[:cap] or None
    if any(t.strip() for t in body.plain):
        full = tidy("\n\n".join(t for t in body.plain if t.strip()))
        shown = strip_reply(full)
    elif html:
        full = tidy(html_to_text(html))
        shown = strip_reply(html_to_text(html, drop_signatures=True))
    else:
        full = shown = ""
    ids = message_ids(msg.get("message-id"))
    message_id = ids[0] if ids else ""
    synthetic = not message_id
    if synthetic:
        message_id = "sb-nomsgid-" + hashlib.sha256(raw).hexdigest()[:40]
    from_name, from_address = _first(parse_addresses(msg.get("from")) or parse_addresses(msg.get("sender")))
    _, reply_to = _first(parse_addresses(msg.get("reply-to")))
    delivered = [a for h in ("delivered-to", "x-original-to", "envelope-to")
                 for value in (msg.get_all(h) or []) for _, a in parse_addresses(value)]
    references = message_ids(msg.get("references"))
    if len(references) > 50:
        references = [references[0], *references[-49:]]
    defects = [type(d).__name__ for d in getattr(msg, "defects", [])][:20] + body.defects
    return ParsedEmail(
        message_id=normalise_id(message_id),
        synthetic_id=synthetic,
        from_address=from_address,
        from_name=from_name,
        reply_to=reply_to,
        to=tuple(a for _, a in parse_addresses(msg.get("to"))),
        cc=tuple(a for _, a in parse_addresses(msg.get("cc"))),
        delivered_to=tuple(dict.fromkeys(delivered)),
        subject=decode_header(msg.get("subject"))[:_MAX_HEADER],
        date=_date(headers.get("date")),
        in_reply_to=tuple(message_ids(msg.get("in-reply-to"))[:5]),
        references=tuple(references),
        text=shown[:cap],
        full_text=full[:cap],
        html=html,
        attachments=tuple(body.attachments),
        dropped=tuple(body.dropped),
        content_type=content_type_of(msg),
        headers=headers,
        defects=tuple(defects),
        size=len(raw),
        message=msg,
    )
