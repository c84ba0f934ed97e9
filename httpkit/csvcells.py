"""CSV cells a spreadsheet opens as text, never runs: the desk's exports hold text customers and strangers typed (a
contact's name, the username of a failed sign-in), and a cell starting with `=`, `+`, `-` or `@` is a formula to
Excel and LibreOffice (OWASP's "CSV injection"). Such a cell gets a leading apostrophe, unless it is a number
(a phone number in international form, "-1")."""

from __future__ import annotations

from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """The value as a CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in TRIGGERS and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
