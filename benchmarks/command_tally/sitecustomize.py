"""Count every database command a hub process sends, by command, collection and calling code (a measuring aid).

Not part of the hub: Python imports this module at start-up only when its folder is on PYTHONPATH, e.g.

    SWITCHBOARD_COMMAND_TALLY=/tmp/tally PYTHONPATH=benchmarks/command_tally:$PWD \
        python -m switchboard.cli bench load --steps c20 --seconds 60

Every `switchboard serve` the load generator starts inherits both variables (the generator itself is skipped: it
has no SWITCHBOARD_SECRET in its environment). Each hub process registers one PyMongo command listener for all its
clients and appends a cumulative snapshot to `<SWITCHBOARD_COMMAND_TALLY>.<pid>.jsonl` every 2 s:
`{"t": unix time, "counts": {"command collection | caller": n}}`. The caller is the innermost frame of the
project's code outside hub/store.py, found by walking the stack of the task that sent the command (with asyncio
the awaiting callers are on it). `benchmarks/command_tally/report.py` turns two snapshots into a table.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter

_PATH = os.environ.get("SWITCHBOARD_COMMAND_TALLY")
_PROJECT = ("/hub/", "/channels/", "/bot/", "/agents_ui/", "/switchboard/", "/httpkit/")


def _caller() -> str:
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if ".venv" not in name and "site-packages" not in name and any(p in name for p in _PROJECT) \
                and not name.endswith("hub/store.py"):
            module = name.rsplit("/", 2)
            return f"{module[-2]}/{module[-1][:-3]}:{frame.f_code.co_name}"
        frame = frame.f_back
    return "?"


def _install(path: str) -> None:
    from pymongo import monitoring

    counts: Counter[str] = Counter()
    lock = threading.Lock()

    class Tally(monitoring.CommandListener):
        def started(self, event: monitoring.CommandStartedEvent) -> None:
            name = event.command_name
            if name in ("hello", "isMaster", "ismaster", "endSessions", "ping"):
                return
            value = event.command.get(name)
            coll = value if isinstance(value, str) else str(event.command.get("collection", ""))
            key = f"{name} {coll} | {_caller()}"
            with lock:
                counts[key] += 1

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
            pass

        def failed(self, event: monitoring.CommandFailedEvent) -> None:
            pass

    monitoring.register(Tally())
    out = f"{path}.{os.getpid()}.jsonl"

    def dump() -> None:
        while True:
            time.sleep(2.0)
            with lock:
                snapshot = dict(counts)
            with open(out, "a") as fh:
                fh.write(json.dumps({"t": time.time(), "counts": snapshot}) + "\n")

    threading.Thread(target=dump, daemon=True, name="command-tally").start()


if _PATH and os.environ.get("SWITCHBOARD_SECRET"):
    _install(_PATH)
