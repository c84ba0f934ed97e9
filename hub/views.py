"""Plain, JSON-ready views of stored documents for the desk and the widget.

Ids become strings and datetimes ISO 8601; the customer-facing view leaves out
private notes' existence, NLU internals and agent ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.store import Doc, ObjectId


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


#: Denormalised list fields (hub.ticketindex): internal, and `keys` names agents by id.
TICKET_INDEX_FIELDS = ("keys", "words", "active_words", "wait_rank", "sla_rank")


def ticket_view(doc: Doc) -> dict[str, Any]:
    view = jsonable({k: v for k, v in doc.items() if k not in TICKET_INDEX_FIELDS})
    view["id"] = view.pop("_id")
    return view
