"""Ticket fields an admin defines: an order number, the product, whether a refund was approved.

A desk's tickets carry facts the hub cannot know: Zammad's object manager and Chatwoot's custom attributes let
admins add them. Here an admin defines each field once (a key, the label agents read, a kind, and for a list
its choices); agents fill them in on the ticket, and each change is a line in the ticket's timeline and an
event in its history, like a priority change. A ticket keeps its values in `fields` (key -> value). The
definitions are a small library an admin curates (`ticket_fields`, `_id`: the key), read whole.

The kinds and what a value must be (None clears a value):
* `text`: up to MAX_TEXT characters, one line; `number`: a finite number; `date`: a calendar day, YYYY-MM-DD;
* `list`: one of the field's choices; `checkbox`: true or false; `link`: an http(s) address.

A field's kind cannot change once defined (the values stored under the old kind would no longer be what it
says); a new field is the way. Deleting a field leaves the values on the tickets, unshown, and keeps its key and
kind (`deleted_at`): defining the key again, of the same kind, shows them again. Text, number and link values are
search words of the ticket (an order number finds it).

A field can belong to some **queues** only (Zammad shows attributes per group): Billing needs an invoice number,
Returns an order number. Such a field is shown, and required, on the tickets of those queues; a value set on a
ticket elsewhere (before a transfer, by the API) is kept and shown. No queues: every ticket.

A field can be **required to solve** (Zammad's mandatory fields on close): an agent cannot solve or close a ticket
while it is empty, by the status menu, "Send and solve", the bulk bar or a macro; the refusal names the fields. A
checkbox cannot be required (it is yes or no already). Every process keeps the definitions in memory (`live`,
re-read when any process announces a change on the realtime bus, as the queue book does), so a solve checks them
without a database command.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from hub.latestread import LatestRead
from hub.models import utcnow
from hub.store import Doc, Store

KINDS = ("text", "number", "date", "list", "checkbox", "link")
#: Kinds whose values are words a search finds the ticket by.
SEARCHED = ("text", "number", "link")
MAX_FIELDS = 30
MAX_TEXT = 500
MAX_LABEL = 60
MAX_OPTIONS = 50
MAX_OPTION = 80
MAX_DESCRIPTION = 200
KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
#: The event every process re-reads the definitions on (hub.realtime.RealtimeBus.reload_on).
FIELDS_CHANGED = "ticket_fields.changed"


class FieldError(ValueError):
    """A definition or a value the hub cannot take; the message says why, in words an admin or agent reads."""


@dataclass(frozen=True)
class FieldDef:
    key: str
    label: str
    kind: str
    options: tuple[str, ...] = ()
    description: str = ""
    #: A ticket is not solved or closed while this field is empty.
    required: bool = False
    #: The queues whose tickets have the field; empty: every queue's.
    queues: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "kind": self.kind, "options": list(self.options),
                "description": self.description, "required": self.required, "queues": list(self.queues)}

    def applies(self, queue: str | None) -> bool:
        """Whether a ticket of `queue` has this field."""
        return not self.queues or queue in self.queues


def definition(key: str, label: str, kind: str, options: list[str] | None = None, description: str = "",
               required: bool = False, queues: list[str] | None = None,
               known_queues: Collection[str] | None = None) -> FieldDef:
    """A checked definition: a key of lower-case letters, digits and `_`, a label, a known kind, and for a list
    1 to MAX_OPTIONS distinct choices (no other kind has choices); any kind but a checkbox may be required; the
    queues it belongs to, each one of `known_queues` when given (none: every queue)."""
    if not KEY.fullmatch(key):
        raise FieldError("a field's key is 1 to 40 lower-case letters, digits or _, starting with a letter")
    label = " ".join(label.split())
    if not label or len(label) > MAX_LABEL:
        raise FieldError(f"a field's label is 1 to {MAX_LABEL} characters")
    if kind not in KINDS:
        raise FieldError(f"a field's kind is one of {', '.join(KINDS)}")
    choices = [" ".join(o.split()) for o in options or []]
    if kind == "list":
        if not 1 <= len(choices) <= MAX_OPTIONS or not all(choices) or any(len(o) > MAX_OPTION for o in choices):
            raise FieldError(f"a list field has 1 to {MAX_OPTIONS} choices of 1 to {MAX_OPTION} characters")
        if len(set(choices)) != len(choices):
            raise FieldError("a list field's choices are all different")
    elif choices:
        raise FieldError("only a list field has choices")
    description = " ".join(description.split())
    if len(description) > MAX_DESCRIPTION:
        raise FieldError(f"a field's description is at most {MAX_DESCRIPTION} characters")
    if required and kind == "checkbox":
        raise FieldError("a checkbox is yes or no already: it cannot be required")
    picked = tuple(dict.fromkeys(queues or ()))
    unknown = [q for q in picked if known_queues is not None and q not in known_queues]
    if unknown:
        raise FieldError(f"no queue {unknown[0]!r}")
    return FieldDef(key, label, kind, tuple(choices), description, required, picked)


def checked_value(field: FieldDef, value: Any) -> Any:
    """The value as stored, or FieldError saying what this field takes. None (or an empty text) clears it."""
    if value is None or (isinstance(value, str) and not value.strip() and field.kind != "checkbox"):
        return None
    kind, label = field.kind, field.label
    if kind == "checkbox":
        if not isinstance(value, bool):
            raise FieldError(f"{label} is true or false")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldError(f"{label} is a number")
        if isinstance(value, int):  # exact up to 2^53, as every client's JSON reads it (and the database stores it)
            if abs(value) >= 2**53:
                raise FieldError(f"{label} is a number of at most 15 digits")
            return value
        if not math.isfinite(value):
            raise FieldError(f"{label} is a number")
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if not isinstance(value, str):
        raise FieldError(f"{label} is a text")
    text = " ".join(value.split())
    if kind == "text":
        if len(text) > MAX_TEXT:
            raise FieldError(f"{label} is at most {MAX_TEXT} characters")
        return text
    if kind == "date":
        try:
            return date.fromisoformat(text).isoformat() if len(text) == 10 else _not_a_day(label)
        except ValueError:
            return _not_a_day(label)
    if kind == "list":
        if text not in field.options:
            raise FieldError(f"{label} is one of {', '.join(field.options)}")
        return text
    parts = urlsplit(text)  # link
    if parts.scheme not in ("http", "https") or not parts.netloc or len(text) > MAX_TEXT or " " in text:
        raise FieldError(f"{label} is a web address starting with http:// or https://")
    return text


def _not_a_day(label: str) -> str:
    raise FieldError(f"{label} is a day, written YYYY-MM-DD")


def shown(value: Any) -> str:
    """A value in a timeline line's words."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def search_texts(fields: dict[str, FieldDef], values: dict[str, Any]) -> list[str]:
    """The values that are search words of the ticket: text, number and link fields'."""
    return [str(v) for k, v in values.items() if v is not None and k in fields and fields[k].kind in SEARCHED]


def missing_text(missing: list[FieldDef], doing: str) -> str:
    """The refusal of a solve or close while required fields are empty, naming them."""
    return f"fill in {', '.join(f.label for f in missing)} before {doing} the ticket"


class TicketFields:
    """The admins' definitions (`ticket_fields`, read whole: at most MAX_FIELDS)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        #: The definitions as this process last read them (`load`, `follow`): what a solve checks, with no read.
        self.live: dict[str, FieldDef] = {}
        self._reads = LatestRead()

    async def load(self) -> dict[str, FieldDef]:
        """Re-read the definitions into the live copy (unless a read begun later was applied already)."""
        turn = self._reads.begin()
        fresh = await self.by_key()
        if self._reads.apply(turn):
            self.live = fresh
        return self.live

    def follow(self, bus: Any) -> None:
        """Re-read the definitions whenever any process announces a change (`ticket_fields.changed`)."""
        bus.reload_on(FIELDS_CHANGED, self.load, "ticket fields")

    async def _changed(self) -> None:
        """After a save or delete: this process reads again now, the others when the event passes their bus."""
        await self.store.append_event(FIELDS_CHANGED, utcnow(), data={"by": "ticketfields"})
        await self.load()

    def missing(self, ticket: Doc) -> list[FieldDef]:
        """The required fields of `ticket`'s queue it leaves empty (from the live copy: no database command)."""
        values = ticket.get("fields") or {}
        return [f for f in self.live.values()
                if f.required and f.applies(ticket.get("queue")) and values.get(f.key) is None]

    async def list(self) -> list[FieldDef]:
        """Every field, in the order they were defined (not the deleted ones)."""
        docs = [d for d in await self.store.ticket_fields.find({}).to_list() if not d.get("deleted_at")]
        docs.sort(key=lambda d: (d["created_at"], d["_id"]))
        return [FieldDef(d["_id"], d["label"], d["kind"], tuple(d.get("options") or ()), d.get("description") or "",
                         bool(d.get("required")), tuple(d.get("queues") or ())) for d in docs]

    async def by_key(self) -> dict[str, FieldDef]:
        return {f.key: f for f in await self.list()}

    async def save(self, field: FieldDef) -> FieldDef:
        """Define a field (again, after a delete), or change one's label, choices or description (its kind stays)."""
        docs = {d["_id"]: d for d in await self.store.ticket_fields.find({}).to_list()}
        before = docs.get(field.key)
        live = [d for d in docs.values() if not d.get("deleted_at")]
        if (before is None or before.get("deleted_at")) and len(live) >= MAX_FIELDS:
            raise FieldError(f"a desk has at most {MAX_FIELDS} ticket fields")
        if before is not None and before["kind"] != field.kind:
            was = "was" if before.get("deleted_at") else "is"
            raise FieldError(f"{field.key} {was} a {before['kind']} field, and the tickets keep its values; a field's "
                             "kind cannot change (define a new field instead)")
        now = utcnow()
        created = now if before is None or before.get("deleted_at") else before["created_at"]
        await self.store.ticket_fields.update_one(
            {"_id": field.key},
            {"$set": {"label": field.label, "kind": field.kind, "options": list(field.options),
                      "description": field.description, "required": field.required,
                      "queues": list(field.queues), "created_at": created,
                      "updated_at": now},
             "$unset": {"deleted_at": ""}},
            upsert=True)
        await self._changed()
        return field

    async def delete(self, key: str) -> bool:
        """Take a field off the desk: its values stay on the tickets, unshown, and its key keeps its kind."""
        doc = await self.store.ticket_fields.find_one({"_id": key})
        if doc is None or doc.get("deleted_at"):
            return False
        await self.store.ticket_fields.update_one({"_id": key}, {"$set": {"deleted_at": utcnow()}})
        await self._changed()
        return True

    async def changes(self, ticket: Doc, values: dict[str, Any]) -> tuple[dict[str, FieldDef], dict[str, Doc]]:
        """The definitions and each field's change {from, to} that setting `values` on `ticket` makes (none for a
        value as it is); FieldError for an unknown field or a value the field does not take."""
        fields = await self.by_key()
        had = ticket.get("fields") or {}
        out: dict[str, Doc] = {}
        for key, raw in values.items():
            field = fields.get(key)
            if field is None:
                raise FieldError(f"no ticket field {key!r}")
            value = checked_value(field, raw)
            if value != had.get(key):
                out[key] = {"from": had.get(key), "to": value}
        return fields, out
