"""Names people see (agents' names, usernames, visitors' names): what may be in them.

Bidirectional control characters (U+202A-U+202E embeddings and overrides, U+2066-U+2069
isolates) make a name display as something else ("admin" shown for a different user), and
lone surrogates cannot be stored at all. Checked here for every caller (HTTP, CLI, seeding).
"""

from __future__ import annotations

import re

BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
SURROGATES = re.compile("[\ud800-\udfff]")
MAX_USERNAME = 64
MAX_NAME = 200
#: Capacities, versions and counts stay within a signed 32-bit integer.
MAX_COUNT = 2**31 - 1


def name_problem(value: object, what: str, max_length: int) -> str | None:
    """Why `value` is not acceptable as a displayed name (None: it is)."""
    if not isinstance(value, str):
        return f"{what} must be a string"
    if len(value) > max_length:
        return f"{what} must be at most {max_length} characters"
    if SURROGATES.search(value):
        return f"{what} must be valid Unicode (no lone surrogates)"
    if BIDI_CONTROLS.search(value):
        return f"{what} must not contain bidirectional control characters"
    return None


def choices_problem(values: object, known: tuple[str, ...], what: str) -> str | None:
    """Why `values` is not a non-empty list of some of `known` (None: it is; e.g. scopes, events)."""
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        return f"{what} must be a non-empty list of: {', '.join(known)}"
    unknown = sorted(set(values) - set(known))
    if unknown:
        return f"unknown {what.rstrip('s')} {unknown[0]!r}; known: {', '.join(known)}"
    return None
