"""What each channel last did, for the admins' Channels page, at no cost on the message paths.

The hub's telemetry (`hub.telemetry`) tells this tracker of every message stored in and delivered
out, and the outbox (and adapters) of every failed attempt; the tracker keeps the newest of each per
channel in memory and writes them, at most every `interval` seconds and only when something
changed, to one small document per channel (`channel_status`, `_id` = the hub channel name), so
that every hub process's news shows. Timestamps are merged with `$max`: a process that writes
later with older news never moves a channel's "last message" back.

Credential checks (run by admins) are written at once: they are not on a message path.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime
from typing import Any

from hub.models import utcnow
from hub.store import Doc, PyMongoError, Store

log = logging.getLogger(__name__)

COLLECTION = "channel_status"
#: The outbox statuses counted as a channel's backlog (waiting or being sent) and its failures.
BACKLOG_STATUSES = ("pending", "sending")
MAX_REASON = 300


class ChannelStatus:
    def __init__(self, store: Store, interval: float = 5.0) -> None:
        self.store = store
        self.collection = store.db[COLLECTION]
        #: How often news is written (seconds); 0 writes nothing by itself (tests call `flush`).
        self.interval = interval
        self._news: dict[str, Doc] = {}

    # -- fed by the hub (in memory only) ----------------------------------------------------
    def observe(self, name: str, labels: dict[str, str]) -> None:
        """A `hub.telemetry` count: a message stored (`in`) or delivered (`out`) on a channel."""
        if name != "message":
            return
        field = "last_in" if labels.get("direction") == "in" else "last_out"
        self._news.setdefault(labels.get("channel", "unknown"), {})[field] = utcnow()

    def error(self, channel: str, reason: str) -> None:
        """Something on `channel` failed: an outbox attempt (retried later or given up), or an adapter's
        connection to its provider (an IMAP login, say). Kept without the addresses a provider names in it: the
        channel's status outlives an erasure of the customer it was about."""
        news = self._news.setdefault(channel, {})
        news["last_error"] = without_addresses(reason)[:MAX_REASON]
        news["last_error_at"] = utcnow()

    # -- written ------------------------------------------------------------------------------
    async def flush(self) -> None:
        """Write the news gathered since the last flush, one upsert per channel that has any."""
        news, self._news = self._news, {}
        for channel, fields in news.items():
            update: Doc = {}
            stamps = {k: v for k, v in fields.items() if k in ("last_in", "last_out")}
            if stamps:
                update["$max"] = stamps
            if "last_error" in fields:
                update["$set"] = {"last_error": fields["last_error"], "last_error_at": fields["last_error_at"]}
            try:
                await self.collection.update_one({"_id": channel}, update, upsert=True)
            except PyMongoError as exc:
                log.warning("channel status: could not write %s (%s); kept for the next flush", channel, exc)
                self._merge_back(channel, fields)

    def _merge_back(self, channel: str, fields: Doc) -> None:
        news = self._news.setdefault(channel, {})
        for key, value in fields.items():
            news.setdefault(key, value)

    async def run(self) -> None:
        """Flush every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            if self._news:
                await self.flush()

    async def record_check(self, channel: str, ok: bool, detail: str) -> None:
        """The outcome of an admin's credential check of `channel` (a config section: slack, phone...)."""
        await self.collection.update_one(
            {"_id": f"check:{channel}"},
            {"$set": {"ok": ok, "detail": detail[:MAX_REASON], "at": utcnow()}}, upsert=True)

    # -- read -----------------------------------------------------------------------------------
    async def read(self, channels: list[str], sections: list[str]) -> tuple[dict[str, Doc], dict[str, Doc]]:
        """Per hub channel: last in/out, last error (the stored news merged with this process's unwritten
        news); per config section: the last credential check."""
        ids = [*channels, *(f"check:{s}" for s in sections)]
        docs = {d["_id"]: d async for d in self.collection.find({"_id": {"$in": ids}})}
        status: dict[str, Doc] = {}
        for channel in channels:
            doc = dict(docs.get(channel) or {})
            doc.pop("_id", None)
            for key, value in self._news.get(channel, {}).items():
                if key in ("last_in", "last_out"):
                    doc[key] = _latest(doc.get(key), value)
                else:
                    doc[key] = value
            status[channel] = doc
        checks = {s: {k: v for k, v in docs[f"check:{s}"].items() if k != "_id"}
                  for s in sections if f"check:{s}" in docs}
        return status, checks

    async def backlog(self) -> dict[str, dict[str, int]]:
        """Outbox entries per channel: `waiting` (pending or being sent) and `failed`, by one grouped count
        over the outbox's status index."""
        pipeline = [{"$match": {"status": {"$in": [*BACKLOG_STATUSES, "failed"]}, "channel": {"$exists": True}}},
                    {"$group": {"_id": {"status": "$status", "channel": "$channel"}, "n": {"$sum": 1}}}]
        counts: dict[str, dict[str, int]] = {}
        async for doc in await self.store.outbox.aggregate(pipeline):
            channel = str(doc["_id"].get("channel"))
            kind = "failed" if doc["_id"]["status"] == "failed" else "waiting"
            entry = counts.setdefault(channel, {"waiting": 0, "failed": 0})
            entry[kind] += int(doc["n"])
        return counts


#: An email address, and a phone number or chat id: seven digits or more, with spaces, dashes or brackets between
#: them but no dots (an IP address and a port stay, they are the host's, not a person's).
_EMAIL = re.compile(r"[^\s@'\"<>()\[\],;:]+@[^\s@'\"<>()\[\],;:]+\.[A-Za-z]{2,}")
_NUMBER = re.compile(r"(?<![\d+\-])(?!\d{4}-\d\d-\d\d)\+?\d(?:[\s()\-]*\d){6,}")  # not a date (2026-12-05)


def without_addresses(reason: str) -> str:
    """`reason` with the email addresses and phone numbers (or chat ids) a provider's refusal names replaced:
    "The 'To' number +15551234567 is not valid" reads "The 'To' number [number] is not valid"."""
    return _NUMBER.sub("[number]", _EMAIL.sub("[address]", reason))


def _latest(a: datetime | None, b: datetime | None) -> Any:
    if a is None or b is None:
        return a or b
    return max(a, b)
