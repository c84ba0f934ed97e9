"""Splitting long replies under Telegram's 4096-character message limit.

Telegram counts in UTF-16 code units (an emoji outside the BMP is two), so the
limit is measured that way; pieces are cut at the last paragraph, line or word
break that fits, and only a single over-long word is cut mid-way.
"""

from __future__ import annotations

MESSAGE_LIMIT = 4096


def utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _fitting_prefix(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 units."""
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return i
    return len(text)


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    pieces: list[str] = []
    rest = text.strip()
    while utf16_len(rest) > limit:
        fit = _fitting_prefix(rest, limit)
        cut = fit
        for sep in ("\n\n", "\n", " "):
            at = rest.rfind(sep, 0, fit + 1)
            if at > 0 and rest[:at].strip():
                cut = at
                break
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces
