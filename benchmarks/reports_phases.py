"""Where `switchboard bench reports` spends its time: each phase, and each index, timed apart.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/reports_phases.py [--tickets 20000] [--keep DIR]

Seeds `--tickets` tickets on a fresh embedded database with the bench's own seeder
(`switchboard.bench_cli.seed`), then times: the hub's indexes (`Store.ensure_indexes`, each
`createIndexes` timed by a pymongo command listener), the hub's start on it (`Runtime.start`: the indexes
again, which exist, and any migration), `Aggregates.rebuild` and `HistoryService.raw` over 90 days.
Prints two JSON lines: after the indexes (with `per_index`, slowest first) and at the end. With `--keep`
the database stays in DIR (to profile queries on it); without, a temporary directory is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from pymongo import monitoring

from hub.models import Role, utcnow
from hub.store import Store
from switchboard.bench_cli import SUPERVISOR_PASSWORD, seed, seed_agents
from switchboard.bootstrap import Runtime
from switchboard.config import load_settings
from switchboard.embedded import EmbeddedServer


class IndexTimes(monitoring.CommandListener):
    """The duration of every `createIndexes` command: (collection, index, seconds)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, float]] = []
        self._open: dict[int, tuple[str, str]] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "createIndexes":
            self._open[event.request_id] = (event.command["createIndexes"], event.command["indexes"][0]["name"])

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.request_id in self._open:
            collection, name = self._open.pop(event.request_id)
            self.rows.append((collection, name, event.duration_micros / 1e6))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._open.pop(event.request_id, None)


async def phases(tickets: int, path: Path) -> None:
    server = EmbeddedServer(path / "db", record=False)
    uri = await server.start()
    out: dict[str, Any] = {"tickets": tickets, "load_avg_at_start": os.getloadavg()}
    try:
        settings = load_settings(mongodb_uri=uri, data_dir=path / "var", secret="bench",
                                 db_name="bench")
        settings.metrics_aggregate_seconds = 0
        store = Store(uri, settings.db_name)
        agents = await seed_agents(store)
        t0 = time.perf_counter()
        out["counts"] = await seed(store, list(settings.queues), tickets, 90, random.Random(1), agents)
        out["seed_s"] = round(time.perf_counter() - t0, 1)
        await store.close()
        listener = IndexTimes()
        store = Store(uri, settings.db_name, event_listeners=[listener])
        t0 = time.perf_counter()
        await store.ensure_indexes()
        out["index_s"] = round(time.perf_counter() - t0, 1)
        await store.close()
        out["per_index"] = [(c, n, round(s, 2)) for c, n, s in sorted(listener.rows, key=lambda r: -r[2]) if s >= 0.05]
        out["load_avg_after_indexes"] = os.getloadavg()
        print(json.dumps(out), flush=True)
        runtime = Runtime(settings)
        t0 = time.perf_counter()
        await runtime.start()
        out["start_s"] = round(time.perf_counter() - t0, 1)
        hub = runtime.hub
        assert hub is not None
        try:
            await hub.accounts.create("boss", SUPERVISOR_PASSWORD, name="Boss", roles=[Role.SUPERVISOR])
            t0 = time.perf_counter()
            out["rebuilt"] = await hub.aggregates.rebuild()
            out["rebuild_s"] = round(time.perf_counter() - t0, 1)
            end = utcnow()
            start = (end - timedelta(days=90)).replace(hour=0, minute=0, second=0, microsecond=0)
            t0 = time.perf_counter()
            await hub.history.raw(start, end)
            out["raw_s"] = round(time.perf_counter() - t0, 1)
        finally:
            await runtime.stop()
        out["load_avg_at_end"] = os.getloadavg()
        print(json.dumps({k: v for k, v in out.items() if k != "per_index"}), flush=True)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--keep", type=Path, help="keep the database in this (new) directory")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True)
        asyncio.run(phases(args.tickets, args.keep))
    else:
        with tempfile.TemporaryDirectory(prefix="reports-phases-") as tmp:
            asyncio.run(phases(args.tickets, Path(tmp)))


if __name__ == "__main__":
    main()
