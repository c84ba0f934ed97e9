"""The event log keeps `hub.event_log_days` (hub.eventlog): older events go with the retention job, never one the
history's aggregates have not read, five minutes of the log at a time, jumping over empty stretches."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pymongo import monitoring

from hub.aggregates import STATE, events_read_until
from hub.eventlog import MARK_FIELD, MARK_ID, EventLogRetention
from hub.models import utcnow
from hub.store import ObjectId, Store
from switchboard.bootstrap import Runtime
from switchboard.config import ConfigError, load_settings
from tests.conftest import ROOT
from tests.helpers import scratch_store

DAY = timedelta(days=1)


class EventReads(monitoring.CommandListener):
    """The commands sent to the event log, by name."""

    def __init__(self) -> None:
        self.names: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command.get(event.command_name) == "events":
            self.names[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def log_at(store: Store, *whens: datetime) -> list[ObjectId]:
    ids = [ObjectId() for _ in whens]
    await store.events.insert_many([{"_id": i, "type": "ticket.created", "at": at}
                                    for i, at in zip(ids, whens, strict=True)])
    return ids


async def read_by_aggregates_until(store: Store, when: datetime) -> None:
    """The aggregates' watermark, as their batch job writes it."""
    await store.db[STATE].update_one({"_id": "events"}, {"$set": {"at": when}}, upsert=True)


async def kept(store: Store) -> list[ObjectId]:
    return [e["_id"] async for e in store.events.find({}, sort=[("at", 1)])]


async def still_mine() -> bool:
    return True


async def test_events_older_than_the_limit_go_and_the_rest_stay(mongo_uri: str) -> None:
    async with scratch_store(mongo_uri, "eventlog_days") as store:
        now = utcnow()
        old, older, recent, today = await log_at(store, now - 31 * DAY, now - 40 * DAY, now - 29 * DAY, now)
        await read_by_aggregates_until(store, now)
        trim = EventLogRetention(store, 30, lambda: events_read_until(store))
        assert await trim.run(now, still_mine) == 2
        assert await kept(store) == [recent, today]
        mark = await store.settings.find_one({"_id": MARK_ID})
        assert mark is not None and abs(mark[MARK_FIELD] - (now - 30 * DAY)) < timedelta(milliseconds=2)
        # five minutes later the next run, starting at the mark, finds nothing new due
        assert await trim.run(now + timedelta(minutes=5), still_mine) == 0
        assert await kept(store) == [recent, today]
        assert old not in await kept(store) and older not in await kept(store)


async def test_no_event_the_aggregates_have_not_read_goes(mongo_uri: str) -> None:
    async with scratch_store(mongo_uri, "eventlog_unread") as store:
        now = utcnow()
        read, unread = await log_at(store, now - 40 * DAY, now - 35 * DAY)
        trim = EventLogRetention(store, 30, lambda: events_read_until(store))
        assert await trim.run(now, still_mine) == 0  # the aggregates never ran here: nothing is known read
        assert await kept(store) == [read, unread]
        # their batch job stopped 36 days ago (it re-reads the last minute before its watermark)
        await read_by_aggregates_until(store, now - 36 * DAY)
        assert await trim.run(now, still_mine) == 1
        assert await kept(store) == [unread]


async def test_a_log_with_months_between_its_events_is_not_read_window_by_window(mongo_uri: str) -> None:
    reads = EventReads()
    async with scratch_store(mongo_uri, "eventlog_gaps", [reads]) as store:
        now = utcnow()
        # a year and more of history: 12 hours of events a year ago, then one a month until two months ago
        whens = [now - 400 * DAY + timedelta(hours=h) for h in range(12)]
        whens += [now - k * 30 * DAY for k in range(12, 1, -1)] + [now]
        ids = await log_at(store, *whens)
        await read_by_aggregates_until(store, now)
        reads.names.clear()
        assert await EventLogRetention(store, 30, lambda: events_read_until(store)).run(now, still_mine) == 23
        made = Counter(reads.names)
        assert await kept(store) == ids[-1:]
        # three reads for each five minutes with events (them, the empty five after, the jump to the next event)
        # and the first event's: not one for each of the 107,000 windows between
        assert made["find"] <= 3 * 23 + 1, made
        assert made["delete"] == 23


async def test_the_limit_is_read_from_the_configuration(tmp_path: Path) -> None:
    assert load_settings(ROOT / "config" / "switchboard.yml").event_log_days == 30
    for raw, days in (("0", None), ("400", 400), ('"45"', 45)):  # quoted: as an environment variable gives it
        config = tmp_path / f"days-{raw}.yml"
        config.write_text(f"hub:\n  event_log_days: {raw}\n", encoding="utf-8")
        assert load_settings(config).event_log_days == days
    config = tmp_path / "bad.yml"
    for bad in ("-1", "thirty", "1.5"):
        config.write_text(f"hub:\n  event_log_days: {bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=r"hub\.event_log_days"):
            load_settings(config)


async def test_the_hubs_retention_job_trims_the_log_behind_the_aggregates(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None and hub.retention.events.days == 30 and not hub.retention.rules
    store = hub.store
    now = utcnow()
    [old] = await log_at(store, now - 45 * DAY)
    await hub.aggregates.catch_up()  # its watermark: now, less a second
    fresh = await store.events.count_documents({"at": {"$gte": now - DAY}})
    run = await hub.apply_retention(now)
    assert run.ran and run.events == 1
    assert await store.events.count_documents({"_id": old}) == 0
    assert await store.events.count_documents({}) == fresh
    assert await store.audit.count_documents({"action": "retention.run"}) == 0  # housekeeping, not an audit entry
