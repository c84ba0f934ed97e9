"""Query-string values shared by the desk's APIs: one parser, one 400 message."""

from __future__ import annotations

from datetime import UTC, datetime

from httpkit.errors import error


def iso_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 date or time from the query (UTC unless it says otherwise); None when absent."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise error(400, f"{name}: not an ISO 8601 date or time: {value[:40]!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
