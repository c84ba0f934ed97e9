"""Plain, JSON-ready views of stored documents for the desk and the widget.

Ids become strings and datetimes ISO 8601; the customer-facing view leaves out
private notes' existence, NLU internals and agent ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.slaclock import due_of, fired, live_target
from hub.store import Doc, ObjectId
from hub.ticketindex import INDEX_FIELDS


def jsonable(value: Any) -> Any:
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items() if k != "password_hash"}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return None
    return value


def message_for_customer(doc: Doc) -> dict[str, Any]:
    author = doc.get("author", {})
    return {
        "id": str(doc["_id"]),
        "conversation_id": str(doc["conversation_id"]),
        "direction": doc["direction"],
        "author": {"kind": author.get("kind"), "name": author.get("name")},
        "text": doc.get("text", ""),
        "quick_replies": doc.get("quick_replies", []),
        "attachments": [{"filename": a.get("filename"), "content_type": a.get("content_type"),
                         "size": a.get("size"), "id": a.get("blob_id")} for a in doc.get("attachments", [])],
        "created_at": doc["created_at"].isoformat(),
        # A help-center article the bot offered (title, url, snippet, lead, question): the widget draws a card.
        **({"article": _article_card(doc["metadata"]["article"])} if _offers_article(doc) else {}),
    }


def _offers_article(doc: Doc) -> bool:
    meta = doc.get("metadata")
    return doc.get("direction") == "out" and isinstance(meta, dict) and isinstance(meta.get("article"), dict)


def _article_card(article: dict[str, Any]) -> dict[str, str]:
    return {k: str(article.get(k, "")) for k in ("title", "url", "snippet", "lead", "question")}


def message_for_desk(doc: Doc) -> dict[str, Any]:
    view = jsonable({k: v for k, v in doc.items() if k not in ("pending_bot", "lease_until")})
    view["id"] = view.pop("_id")
    return view


def ticket_view(doc: Doc) -> dict[str, Any]:
    view = jsonable({k: v for k, v in doc.items() if k not in INDEX_FIELDS})
    view["id"] = view.pop("_id")
    view["sla_clock"] = sla_clock(doc)
    return view


def sla_clock(ticket: Doc) -> dict[str, Any] | None:
    """What the desk shows of the SLA (hub.slaclock): the target running now, its due and warning
    times, whether the warning or breach was emitted, and whether the clock is paused (pending).
    The desk colours it against its own clock: green, amber from the warning time, red once due."""
    target = live_target(ticket)
    due = due_of(ticket, target) if target else None
    if target is None or due is None:
        return None
    warn = due_of(ticket, target, "warn")
    return {"target": target, "due": due.isoformat(), "warn": warn.isoformat() if warn else None,
            "warned": fired(ticket, target, "warning") is not None, "breached": fired(ticket, target, "breach")
            is not None, "paused": ticket.get("status") == "pending" and "calendar" in (ticket.get("sla") or {})}
