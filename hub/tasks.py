"""Stopping background tasks for sure, in bounded time.

A cancellation can be swallowed by a driver call that is retrying (seen with PyMongo while
the database is down): the task then goes on and a plain `await task` never returns, so a
hub whose database died could not shut down. Cancel again until the tasks end, up to a limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[object]], grace_seconds: float = 10.0) -> None:
    """Cancel `tasks` and wait for them, cancelling again every half second; after `grace_seconds`
    log the ones still running and return without them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_seconds
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=0.5)
        if pending and loop.time() >= deadline:
            log.error("background tasks did not stop within %ss: %s", grace_seconds,
                      ", ".join(sorted(t.get_name() for t in pending)))
            return
