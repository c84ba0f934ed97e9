"""Addresses and Message-IDs as they appear in headers, normalised so they can be compared."""

from __future__ import annotations

import email.utils
import hashlib
import re
from collections.abc import Iterable

from channels.email.charsets import decode_header, raw_header
from hub.ports import MAX_COPIES

_MSGID = re.compile(r"<([^<>]{1,998})>")
_BARE_ID = re.compile(r"[^\s<>,;\"]+@[^\s<>,;\"]+")
_BARE_ADDRESS = re.compile(r"[^\s<>,;\"'()\[\]]+@[^\s<>,;\"'()\[\]]+")
#: Message-IDs longer than this are stored as a hash (they are index keys).
MAX_ID = 250


def clean_address(value: str) -> str | None:
    """`Bob@Example.COM` → `bob@example.com`; None when it is not a usable mailbox address."""
    text = value.strip().strip("<>").strip().lower()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or len(text) > 254 or "." not in domain.strip("."):
        return None
    if any(ch.isspace() or ch in "<>,;\"()[]\\" or ord(ch) < 32 for ch in text):
        return None
    return text


def parse_addresses(raw: object) -> list[tuple[str | None, str]]:
    """(display name, address) pairs of an address header; names decoded, junk entries left out."""
    if raw is None:
        return []
    text = raw_header(raw)
    try:
        pairs = email.utils.getaddresses([text])
    except (ValueError, IndexError, TypeError):
        return []
    out: list[tuple[str | None, str]] = []
    for name, address in pairs:
        clean = clean_address(address)
        if clean is None:
            continue
        display = decode_header(name).strip().strip('"').strip() or None
        out.append((display, clean))
    if not out:
        # Broken quoting (`"Name <a@b>`) defeats the parser: take any address-looking text, as clients do.
        for candidate in _BARE_ADDRESS.findall(text):
            clean = clean_address(candidate)
            if clean is not None and clean not in [a for _, a in out]:
                out.append((None, clean))
    return out


def normalise_id(value: str) -> str:
    """A Message-ID without brackets or whitespace; a hash when too long for an index key."""
    text = "".join(value.split()).strip("<>")
    if len(text) > MAX_ID:
        text = "sha256-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return text


def message_ids(raw: object) -> list[str]:
    """Every Message-ID in an In-Reply-To/References header, in order, without duplicates."""
    if raw is None:
        return []
    text = raw_header(raw)
    found = _MSGID.findall(text) or _BARE_ID.findall(text)
    out: list[str] = []
    for item in found:
        normal = normalise_id(item)
        if normal and normal not in out:
            out.append(normal)
    return out


def split_plus(address: str) -> tuple[str, str | None]:
    """`support+abc@x` → (`support@x`, `abc`)."""
    local, _, domain = address.rpartition("@")
    base, plus, tag = local.partition("+")
    return f"{base}@{domain}", (tag if plus else None)


#: The most people an agent's reply copies ("reply all" to the customer's Cc, or whom the agent added); a mail that
#: copied more still gets its answer, copied to the first MAX_CC.
MAX_CC = MAX_COPIES


def copied(cc: Iterable[str], sender: str | None, own: frozenset[str]) -> list[str]:
    """The people a customer's mail copied, whom an agent's reply copies too: each address checked and lower-cased,
    without the sender, without us (any mailbox of the hub, plus-addressed or not), once each, at most MAX_CC."""
    out: list[str] = []
    for raw in cc:
        address = clean_address(raw)
        if address is None or address == sender or address in out:
            continue
        if address in own or split_plus(address)[0] in own:
            continue
        out.append(address)
    return out[:MAX_CC]
