"""Canned responses: answers supervisors write once and agents insert into a reply.

Most of a desk's replies are the same few answers; typing them again is slow and drifts
from what the team agreed to say. A response has a `shortcut` (unique, what agents search
by), a `title` and a `text` with placeholders filled for the ticket at hand:
`{{customer.name}}`, `{{customer.first_name}}`, `{{agent.name}}`, `{{ticket.number}}`.
An unknown placeholder is left as written, so a typo shows instead of vanishing.
Customer names follow hub.display: `{{customer.name}}` is never an internal id ("Visitor 4821"
at worst) and `{{customer.first_name}}` of a customer who gave no name is `name_fallback`
(configuration `responses.name_fallback`, default "there": "Hi there").
"""

from __future__ import annotations

import re
from typing import Any

from hub.display import DEFAULT_NAME_FALLBACK, display_name, first_name
from hub.models import utcnow
from hub.store import Doc, DuplicateKeyError, ObjectId, ReturnDocument, Store

_SHORTCUT = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")
MAX_TEXT = 5000


class ResponseError(ValueError):
    """A response that cannot be saved as given; the message says why."""


class ShortcutTaken(ResponseError):
    """Another response already has this shortcut."""


class ResponseLibrary:
    def __init__(self, store: Store, name_fallback: str = DEFAULT_NAME_FALLBACK) -> None:
        self.collection = store.responses
        #: What `{{customer.first_name}}` says for a customer without a name (set from the configuration).
        self.name_fallback = name_fallback

    async def list(self) -> list[Doc]:
        """Every response, by shortcut (a library of tens to hundreds: read whole)."""
        return await self.collection.find({}, sort=[("shortcut", 1)]).to_list()

    async def create(self, fields: dict[str, Any], by: ObjectId) -> Doc:
        doc = {**_validated(fields), "created_by": by, "updated_at": utcnow()}
        try:
            result = await self.collection.insert_one(doc)
        except DuplicateKeyError as exc:
            raise ShortcutTaken(f"a response with shortcut {doc['shortcut']!r} exists") from exc
        doc["_id"] = result.inserted_id
        return doc

    async def update(self, response_id: ObjectId, fields: dict[str, Any], by: ObjectId) -> Doc | None:
        try:
            return await self.collection.find_one_and_update(
                {"_id": response_id}, {"$set": {**_validated(fields), "updated_by": by, "updated_at": utcnow()}},
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError as exc:
            raise ShortcutTaken(f"a response with shortcut {fields.get('shortcut')!r} exists") from exc

    async def delete(self, response_id: ObjectId) -> bool:
        return (await self.collection.delete_one({"_id": response_id})).deleted_count == 1


    def render(self, text: str, *, customer: Doc | None, agent: Doc | None, ticket: Doc | None) -> str:
        """`render` with this desk's configured name fallback."""
        return render(text, customer=customer, agent=agent, ticket=ticket, name_fallback=self.name_fallback)


def render(text: str, *, customer: Doc | None, agent: Doc | None, ticket: Doc | None,
           name_fallback: str = DEFAULT_NAME_FALLBACK) -> str:
    """The text with its placeholders filled for this ticket (unknown ones left as written)."""
    values = {
        "customer.name": display_name(customer) if customer is not None else name_fallback,
        "customer.first_name": first_name(customer, name_fallback),
        "agent.name": str((agent or {}).get("name") or ""),
        "ticket.number": str((ticket or {}).get("number") or ""),
    }
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _validated(fields: dict[str, Any]) -> dict[str, str]:
    shortcut = str(fields.get("shortcut") or "").strip().lower()
    title = str(fields.get("title") or "").strip()
    text = str(fields.get("text") or "").strip()
    if not _SHORTCUT.fullmatch(shortcut):
        raise ResponseError("shortcut: 1-40 lower-case letters, digits, '-' or '_'")
    if not title or len(title) > 200:
        raise ResponseError("title: 1-200 characters")
    if not text or len(text) > MAX_TEXT:
        raise ResponseError(f"text: 1-{MAX_TEXT} characters")
    return {"shortcut": shortcut, "title": title, "text": text}
