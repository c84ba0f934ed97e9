"""The audit trail: who did what, when and from where, for the people who must answer for it.

Append-only by construction: this module only ever inserts into `audit` (there is no update or
delete path anywhere in the hub), so a compromised admin session can add noise but not rewrite
history. Each record keeps the actor's username and name as they were at the time, so the
trail still reads after an account is renamed or removed. Records never carry customer text:
an erasure is recorded by contact id and counts, not by what was erased.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.models import utcnow
from hub.store import Doc, ObjectId, Store

AUDIT_BY_TIME = [("at", -1)]
AUDIT_BY_ACTION = [("action", 1), ("at", -1)]
AUDIT_BY_ACTOR = [("actor.id", 1), ("at", -1)]

#: What the desk offers in its filter (other actions are recorded and searchable too).
KNOWN_ACTIONS = (
    "login", "login.failed", "login.refused", "agent.created", "agent.roles_changed", "agent.updated",
    "agent.password_reset", "agent.password_set", "agent.disabled", "agent.enabled",
    "ticket.assigned", "ticket.transferred", "ticket.merged", "ticket.split",
    "response.created", "response.updated", "response.deleted", "contact.exported", "contact.erased",
    "retention.run", "audit.exported", "metrics.rebuilt", "calendar.saved", "calendar.deleted",
    "kb.article_created", "kb.article_updated", "kb.article_published", "kb.article_unpublished", "kb.article_deleted",
    "bot.threshold_set", "bot.negative_excluded", "bot.negative_included",
    "contact.updated", "contact.merged",
    "automation.rule_saved", "automation.rule_deleted", "automation.macro_saved", "automation.macro_deleted",
    "totp.enabled", "totp.disabled", "totp.reset", "totp.recovery_renewed", "totp.policy_changed",
    "channel.secret_set", "channel.secret_cleared", "channel.checked", "channel.test_sent",
    "widget_site.created", "widget_site.updated", "widget_site.deleted", "widget_site.secret_rotated",
    "queue.created", "queue.updated", "queue.deleted", "config.applied",
)


@dataclass(frozen=True)
class AuditQuery:
    """A filter over the trail; every combination is served by one of the indexes above."""

    action: str | None = None
    actor_id: ObjectId | None = None
    start: datetime | None = None
    end: datetime | None = None
    offset: int = 0
    limit: int = 50

    def filter(self) -> Doc:
        query: Doc = {}
        if self.action:
            query["action"] = self.action
        if self.actor_id is not None:
            query["actor.id"] = self.actor_id
        when: Doc = {}
        if self.start is not None:
            when["$gte"] = self.start
        if self.end is not None:
            when["$lt"] = self.end
        if when:
            query["at"] = when
        return query

    def hint(self) -> list[tuple[str, int]]:
        if self.action:
            return AUDIT_BY_ACTION
        if self.actor_id is not None:
            return AUDIT_BY_ACTOR
        return AUDIT_BY_TIME


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

    async def search(self, query: AuditQuery) -> list[Doc]:
        """Newest first, one page."""
        return await self.collection.find(
            query.filter(), sort=[("at", -1), ("_id", -1)], skip=query.offset, limit=query.limit, hint=query.hint()
        ).to_list()

    async def count(self, query: AuditQuery) -> int:
        return await self.collection.count_documents(query.filter(), hint=query.hint())
