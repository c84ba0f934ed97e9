"""Retention: closed conversations older than a channel's limit are deleted or anonymised.

Rules come from configuration (`retention.<channel>: {days, action}`). The job runs in every
hub process, but each tick first takes the `retention` lease (hub.leases), so across processes
sharing a database only one does the work at a time. Each run starts where the last one stopped
(a mark per channel in `settings`) and skips what was already handled, so a run that dies
half-way is finished by the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.eventlog import EventLogRetention
from hub.leases import Lease
from hub.models import utcnow
from hub.privacy import Privacy, Redaction
from hub.store import BY_ID, CONVERSATIONS_BY_CLOSED, Doc, Store

ACTIONS = ("delete", "anonymise")
#: How much of the past one read of the conversations covers.
DAY = timedelta(days=1)
#: The `settings` document holding where each channel's last run stopped.
MARK_ID = "retention"


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
    #: Events deleted from the event log (hub.eventlog).
    events: int = 0

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
        #: The event log's limit (`hub.event_log_days`), set by the composition root; None: the log is kept.
        self.events = EventLogRetention(store, None)

    async def run_once(self, now: datetime | None = None, via: str = "schedule") -> RetentionRun:
        """Apply every rule to what is due at `now` (injectable for tests), then the event log's limit, if we
        get the lease.

        A run that changed conversations is recorded in the audit trail (per channel counts, and the events
        deleted); the event log's hourly trim alone is housekeeping, not recorded."""
        now = now or utcnow()
        if (not self.rules and self.events.days is None) or not await self.lease.acquire(now):
            return RetentionRun(False, {})
        done: dict[str, dict[str, Any]] = {}
        for rule in self.rules:
            total = await self._apply(rule, now)
            done[rule.channel] = {"days": rule.days, "action": rule.action, **total.as_dict()}
        events = await self.events.run(now, lambda: self.lease.acquire(max(now, utcnow())))
        result = RetentionRun(True, done, events)
        if result.conversations:
            await self.privacy.audit.record("retention.run", details={"channels": done, "events": events,
                                                                      "via": via})
        return result

    async def _apply(self, rule: RetentionRule, now: datetime) -> Redaction:
        """Retain what the rule's channel closed between the last run's cutoff and this one's, a day at a time.

        Each day is one range of the `(channel, closed_at)` index, read whole (secantusd-py reads a range
        whole even under a limit, and plans a filter with any other field as a scan): a run reads only the
        conversations closed since the last one, never again those it already did. What a day holds still
        open (reopened) is left: closing it again moves its `closed_at` past the mark. The mark moves after
        each day is done, so a run that dies half-way leaves its day to the next run (already retained
        conversations are skipped)."""
        cutoff = now - timedelta(days=rule.days)
        total = Redaction()
        day = await self._done_before(rule.channel) or await self._oldest(rule.channel, cutoff)
        while day is not None and day < cutoff:
            until = min(day + DAY, cutoff)
            closed = await self.store.conversations.find(
                {"channel": rule.channel, "closed_at": {"$gte": day, "$lt": until}},
                projection={"_id": 1, "open": 1, "retained_at": 1}).to_list()
            due = [c for c in closed if not c.get("open") and c.get("retained_at") is None]
            for first in range(0, len(due), self.batch):
                total.add(await self._retain(rule, due[first:first + self.batch], now))
                await self.lease.acquire(max(now, utcnow()))  # still ours, a while longer (never backwards)
            await self.store.settings.update_one({"_id": MARK_ID}, {"$max": {f"done_before.{rule.channel}": until}},
                                                 upsert=True)
            day = until
        return total

    async def _retain(self, rule: RetentionRule, due: list[Doc], now: datetime) -> Redaction:
        """Retain one batch of the day's conversations, those still closed now: the day was read before
        the batches ahead of this one ran, and a customer's reply (an email answering the old thread)
        reopens its conversation meanwhile. The conversation's own writes are conditioned on it being
        closed too, for a reply landing while the batch runs."""
        current = await self.store.conversations.find({"_id": {"$in": [c["_id"] for c in due]}},
                                                      projection={"_id": 1, "open": 1, "retained_at": 1}).to_list()
        due = [c for c in current if not c.get("open") and c.get("retained_at") is None]
        ids = [c["_id"] for c in due]
        tickets = await self.privacy.redact_closed_tickets_of(ids)
        if rule.action == "delete":
            removed = await self.privacy.delete_conversations(due)
        else:
            removed = await self.privacy.redact(due, detach=False)
            await self.store.update_in_batches(self.store.conversations, "_id", ids, {"$set": {"retained_at": now}},
                                               condition={"open": False}, hint=BY_ID)
        removed.tickets += tickets
        return removed

    async def _done_before(self, channel: str) -> datetime | None:
        """Where the channel's last run stopped: everything closed before it was retained."""
        mark = await self.store.settings.find_one({"_id": MARK_ID})
        done = ((mark or {}).get("done_before") or {}).get(channel)
        return done if isinstance(done, datetime) else None

    async def _oldest(self, channel: str, cutoff: datetime) -> datetime | None:
        """The first run on a channel starts at its oldest closed conversation (one read of the whole range,
        once: the mark is kept from then on)."""
        first = await self.store.conversations.find(
            {"channel": channel, "closed_at": {"$lt": cutoff}}, projection={"closed_at": 1},
            sort=CONVERSATIONS_BY_CLOSED, limit=1).to_list()
        return first[0]["closed_at"] if first else None
