"""`switchboard metrics rebuild [--from DATE] [--check]`: recompute the history's aggregates from the raw records.

Works beside a running hub (through `admin_store`): the rebuild takes the aggregates job's lease, so the
hubs' batch jobs pause while it runs and then apply whatever changed meanwhile from the event log.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from hub.aggregates import Aggregates
from hub.audit import AuditLog
from hub.history import COUNTERS, HistoryService
from hub.models import utcnow
from hub.store import PyMongoError
from switchboard.admin_db import DatabaseUnreachable, admin_store
from switchboard.config import Settings


def add_arguments(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    metrics = sub.add_parser("metrics", help="the supervisor history's aggregates")
    metrics_sub = metrics.add_subparsers(dest="metrics_command", required=True)
    rebuild = metrics_sub.add_parser("rebuild", help="recompute the history's buckets from the raw tickets and "
                                                     "conversations (all, or the days from --from on)")
    rebuild.add_argument("--from", dest="since", type=date.fromisoformat, metavar="DATE",
                         help="rebuild the hours from this UTC day (YYYY-MM-DD) on; earlier buckets stay")
    rebuild.add_argument("--check", action="store_true",
                         help="then compare the rebuilt figures with the raw computation (reads every record again)")
    common(rebuild)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        async with admin_store(settings) as store:
            history = HistoryService(store, settings.queues)
            aggregates = Aggregates(store, history)
            since = datetime(args.since.year, args.since.month, args.since.day, tzinfo=UTC) if args.since else None
            started = time.perf_counter()
            done = await aggregates.rebuild(since)
            seconds = time.perf_counter() - started
            await AuditLog(store).record("metrics.rebuilt", details={
                "from": since.date().isoformat() if since else None, **done, "via": "cli"})
            print(f"rebuilt the history from {since.date() if since else 'the start'}: {done['records']} records, "
                  f"{done['buckets']} buckets in {seconds:.1f} s")
            if args.check:
                end = utcnow() + timedelta(hours=1)
                start = max(since or end - timedelta(days=366), end - timedelta(days=366))
                agg, raw = await history.query(start, end, "day"), await history.raw(start, end, "day")
                differ = [n for n in COUNTERS if agg["totals"][n] != raw["totals"][n]]
                if differ:
                    print(f"switchboard: the rebuilt figures differ from the raw ones: {', '.join(differ)}",
                          file=sys.stderr)
                    return 1
                print(f"matches the raw computation from {start.date()} ({agg['totals']['opened']} tickets opened)")
        return 0
    except DatabaseUnreachable as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 1
    except PyMongoError as exc:
        print(f"switchboard: database error: {str(exc).splitlines()[0][:200]}", file=sys.stderr)
        return 1
