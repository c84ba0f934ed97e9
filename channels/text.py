"""Splitting long replies under a channel's message limit, shared by every channel that has one.

Pieces are cut at the last paragraph, line or word break that fits; only a single
over-long word is cut mid-way (where `safe_cut` may move the cut back, e.g. so an
`&amp;` escape stays whole). `weight` measures a character in the provider's units
(Telegram counts UTF-16 code units, so a character outside the BMP weighs two).
"""

from __future__ import annotations

from collections.abc import Callable


def one(_ch: str) -> int:
    return 1


def utf16_units(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def measure(text: str, weight: Callable[[str], int] = one) -> int:
    return len(text) if weight is one else sum(weight(ch) for ch in text)


def _fitting_prefix(text: str, limit: int, weight: Callable[[str], int]) -> int:
    """How many characters of `text` fit in `limit` units."""
    if weight is one:
        return min(len(text), limit)
    units = 0
    for i, ch in enumerate(text):
        units += weight(ch)
        if units > limit:
            return i
    return len(text)


def split_text(text: str, limit: int, *, weight: Callable[[str], int] = one,
               safe_cut: Callable[[str, int], int] | None = None) -> list[str]:
    """Pieces of at most `limit` units; `[""]` never comes back for non-empty text."""
    pieces: list[str] = []
    rest = text.strip()
    while measure(rest, weight) > limit:
        fit = _fitting_prefix(rest, limit, weight)
        cut = -1
        for sep in ("\n\n", "\n", " "):
            at = rest.rfind(sep, 0, fit + 1)
            if at > 0 and rest[:at].strip():
                cut = at
                break
        if cut == -1:
            cut = safe_cut(rest, fit) if safe_cut else fit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces
