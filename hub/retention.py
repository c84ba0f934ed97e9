"""Retention: closed conversations older than a channel's limit are deleted or anonymised.

Rules come from configuration (`retention.<channel>: {days, action}`). The job runs in every
hub process, but each tick first takes the `retention` lease (hub.leases), so across processes
sharing a database only one does the work at a time; the selection skips what a previous run
already handled, so a run that dies half-way is finished by the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.leases import Lease
from hub.models import utcnow
from hub.privacy import Privacy, Redaction
from hub.store import CONVERSATIONS_BY_CLOSED, Store

ACTIONS = ("delete", "anonymise")


class RetentionConfigError(ValueError):
    pass


@dataclass(frozen=True)
class RetentionRule:
    channel: str
    days: int
    action: str = "anonymise"


def parse_rules(raw: dict[str, Any] | None) -> list[RetentionRule]:
    """`{widget: {days: 30, action: delete}, ...}` → rules; a bad entry is a one-line error."""
    rules = []
    for channel, spec in (raw or {}).items():
        if not isinstance(spec, dict):
            raise RetentionConfigError(f"retention.{channel}: expected a mapping with days and action")
        days, action = spec.get("days"), spec.get("action", "anonymise")
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise RetentionConfigError(f"retention.{channel}.days: a whole number of days (1 or more)")
        if action not in ACTIONS:
            raise RetentionConfigError(f"retention.{channel}.action: one of {', '.join(ACTIONS)}")
        rules.append(RetentionRule(str(channel), days, action))
    return rules


@dataclass(frozen=True)
class RetentionRun:
    """One tick: whether this process held the lease, and what it did per channel."""

    ran: bool
    done: dict[str, dict[str, Any]]

    @property
    def conversations(self) -> int:
        return sum(d["conversations"] for d in self.done.values())


class Retention:
    def __init__(self, store: Store, privacy: Privacy, rules: list[RetentionRule], *, batch: int = 200,
                 lease_seconds: float = 600.0, holder: str | None = None) -> None:
        self.store = store
        self.privacy = privacy
        self.rules = rules
        self.batch = batch
        self.lease = Lease(store, "retention", lease_seconds, holder)

    async def run_once(self, now: datetime | None = None, via: str = "schedule") -> RetentionRun:
        """Apply every rule to what is due at `now` (injectable for tests), if we get the lease.

        A run that changed anything is recorded in the audit trail (per channel counts)."""
        now = now or utcnow()
        if not self.rules or not await self.lease.acquire(now):
            return RetentionRun(False, {})
        done: dict[str, dict[str, Any]] = {}
        for rule in self.rules:
            total = Redaction()
            while True:
                due = await self.store.conversations.find(
                    {"channel": rule.channel, "closed_at": {"$lt": now - timedelta(days=rule.days)}, "open": False,
                     "retained_at": {"$exists": False}},
                    projection={"_id": 1, "open": 1}, limit=self.batch, hint=CONVERSATIONS_BY_CLOSED,
                ).to_list()
                if not due:
                    break
                ids = [c["_id"] for c in due]
                total.tickets += await self.privacy.redact_closed_tickets_of(ids)
                if rule.action == "delete":
                    total.add(await self.privacy.delete_conversations(due))
                else:
                    total.add(await self.privacy.redact(due, detach=False))
                    await self.store.conversations.update_many({"_id": {"$in": ids}},
                                                               {"$set": {"retained_at": now}})
                await self.lease.acquire(max(now, utcnow()))  # still ours, a while longer (never backwards)
            done[rule.channel] = {"days": rule.days, "action": rule.action, **total.as_dict()}
        result = RetentionRun(True, done)
        if result.conversations:
            await self.privacy.audit.record("retention.run", details={"channels": done, "via": via})
        return result
