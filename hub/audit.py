"""The audit trail: who did what, when and from where, for the people who must answer for it.

Append-only by construction: this module only ever inserts into `audit` (there is no update or
delete path anywhere in the hub), so a compromised admin session can add noise but not rewrite
history. Each record keeps the actor's username and name as they were at the time, so the
trail still reads after an account is renamed or removed. Records never carry customer text:
an erasure is recorded by contact id and counts, not by what was erased.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.models import utcnow
from hub.store import Doc, ObjectId, Store

#: What the desk offers in its filter, in the words it shows for each (other actions are recorded and searchable
#: too, and shown by their code; the CSV export keeps the codes).
ACTION_WORDS: dict[str, str] = {
    "login": "signed in", "login.failed": "sign-in failed", "login.refused": "sign-in refused",
    "agent.created": "user created", "agent.roles_changed": "user's roles changed", "agent.updated": "user changed",
    "agent.password_reset": "password reset", "agent.password_set": "password chosen",
    "agent.disabled": "user disabled", "agent.enabled": "user enabled",
    "ticket.assigned": "ticket assigned", "ticket.transferred": "ticket transferred",
    "ticket.merged": "tickets merged", "ticket.split": "message split into a new ticket",
    "response.created": "canned response created", "response.updated": "canned response changed",
    "response.deleted": "canned response deleted",
    "contact.exported": "customer's data exported", "contact.erased": "customer erased",
    "contact.erased_late": "customer's late messages erased",
    "retention.run": "retention run", "audit.exported": "audit trail exported", "metrics.rebuilt": "metrics rebuilt",
    "calendar.saved": "business hours saved", "calendar.deleted": "business hours deleted",
    "ticket_field.saved": "ticket field saved", "ticket_field.deleted": "ticket field deleted",
    "kb.article_created": "article created", "kb.article_updated": "article changed",
    "kb.article_published": "article published", "kb.article_unpublished": "article unpublished",
    "kb.article_deleted": "article deleted",
    "bot.threshold_set": "bot's out-of-scope threshold set", "bot.negative_excluded": "out-of-scope example left out",
    "bot.negative_included": "out-of-scope example taken back",
    "contact.updated": "customer record changed", "contact.merged": "customer records merged",
    "contact.blocked": "customer blocked", "contact.unblocked": "customer unblocked",
    "contact.tickets_closed": "blocked customer's tickets closed",
    "contacts.imported": "customer records imported", "contacts.exported": "customer records exported",
    "automation.rule_saved": "automation rule saved", "automation.rule_deleted": "automation rule deleted",
    "automation.macro_saved": "macro saved", "automation.macro_deleted": "macro deleted",
    "totp.enabled": "two-factor sign-in turned on", "totp.disabled": "two-factor sign-in turned off",
    "totp.reset": "two-factor sign-in reset", "totp.recovery_renewed": "recovery codes renewed",
    "totp.policy_changed": "two-factor policy changed",
    "channel.secret_set": "channel secret set", "channel.secret_cleared": "channel secret cleared",
    "channel.checked": "channel credentials checked", "channel.test_sent": "channel test message sent",
    "widget_site.created": "widget site created", "widget_site.updated": "widget site changed",
    "widget_site.deleted": "widget site deleted", "widget_site.secret_rotated": "widget site's secret rotated",
    "queue.created": "queue created", "queue.updated": "queue changed", "queue.deleted": "queue deleted",
    "config.applied": "configuration applied",
}
KNOWN_ACTIONS = tuple(ACTION_WORDS)


#: The first span of time a page reads back from its newest end; doubled until the page is full.
FIRST_SPAN = timedelta(minutes=1)
#: Nothing is recorded before this (the page stops looking back here).
OLDEST = datetime(2020, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Milliseconds (13 digits reach the year 2286; more would overflow a datetime) and an id.
_CURSOR = re.compile(r"^(\d{1,13})-([0-9a-f]{24})$")


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class AuditQuery:
    """A filter over the trail; every combination is served by one of the indexes on `at`, `(action, at)` and
    `(actor.id, at)` (hub.store)."""

    action: str | None = None
    actor_id: ObjectId | None = None
    start: datetime | None = None
    end: datetime | None = None
    #: Where the previous page ended (`AuditPage.next_cursor`): older entries only.
    after: str | None = None
    limit: int = 50

    def key_filter(self) -> Doc:
        """The part of the filter one index holds whole, without the time (secantusd-py plans a filter with a
        field outside the index it picks as a scan): the action's, else the actor's, else the time's."""
        if self.action:
            return {"action": self.action}
        if self.actor_id is not None:
            return {"actor.id": self.actor_id}
        return {}

    def matches(self, entry: Doc) -> bool:
        """What `key_filter` leaves out (the actor when an action was asked too), checked here."""
        return self.actor_id is None or (entry.get("actor") or {}).get("id") == self.actor_id

    def newest(self, now: datetime) -> tuple[datetime, tuple[datetime, ObjectId] | None]:
        """The end of time the page reads back from, and the (at, _id) it must stay below (a cursor)."""
        top = self.end or now + timedelta(seconds=1)
        if self.after is None:
            return top, None
        found = _CURSOR.match(self.after)
        if found is None:
            raise BadCursor("after: the `next_cursor` of the previous page")
        at = _EPOCH + timedelta(milliseconds=int(found.group(1)))  # integers: a float could miss by a millisecond
        return min(top, at + timedelta(milliseconds=1)), (at, ObjectId(found.group(2)))


@dataclass(frozen=True)
class AuditPage:
    entries: list[Doc]
    #: Pass as `after` for the next, older page; None on the last page.
    next_cursor: str | None


def cursor_of(entry: Doc) -> str:
    """The entry's time in whole milliseconds (BSON's precision) and its id."""
    return f"{(entry['at'] - _EPOCH) // timedelta(milliseconds=1)}-{entry['_id']}"


def _actor(agent: Doc | None) -> Doc | None:
    if agent is None:
        return None
    return {"id": agent.get("_id"), "username": agent.get("username"), "name": agent.get("name")}


class AuditLog:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.collection = store.audit

    async def record(self, action: str, actor: Doc | None = None, target: Any = None, ip: str | None = None,
                     details: dict[str, Any] | None = None) -> ObjectId:
        """Append one entry. `actor`: the agent document (None for the CLI, the system or an
        anonymous login attempt); `target`: what it was done to, ideally with a readable `name`."""
        doc: Doc = {"at": utcnow(), "action": action, "actor": _actor(actor), "target": target, "ip": ip,
                    "details": details or {}}
        result = await self.collection.insert_one(doc)
        return result.inserted_id

    async def page(self, query: AuditQuery) -> AuditPage:
        """Newest first, `query.limit` entries, read back in time spans that double from a minute until the
        page is full (or the query's `start` is reached).

        Each span is one range of an index, read whole: secantusd-py reads a whole range even under a
        sort and a limit, so "the newest 50" over the whole trail read every entry (1.2 s at 20,000, and
        counting them as long again). A page now reads about what it shows, however long the trail; it
        shows no total, which only a count of the whole trail could give."""
        floor = max(query.start or OLDEST, OLDEST)
        high, below = query.newest(utcnow())
        found: list[Doc] = []
        span = FIRST_SPAN
        while high > floor and len(found) <= query.limit:
            low = max(floor, high - span)
            batch = await self.collection.find({**query.key_filter(), "at": {"$gte": low, "$lt": high}}).to_list()
            found += sorted((e for e in batch if query.matches(e)
                             and (below is None or (e["at"], e["_id"]) < below)),
                            key=lambda e: (e["at"], e["_id"]), reverse=True)
            high, span = low, span * 2
        entries = found[:query.limit]
        return AuditPage(entries, cursor_of(entries[-1]) if len(found) > query.limit else None)

    async def walk(self, query: AuditQuery, size: int) -> AsyncIterator[list[Doc]]:
        """Every entry the query matches, newest first, `size` at a time (page after page by cursor), so
        an export of the whole trail never holds more than a page, nor keeps the server busy longer."""
        after = query.after
        while True:
            page = await self.page(replace(query, after=after, limit=size))
            if page.entries:
                yield page.entries
            if (after := page.next_cursor) is None:
                return
