"""The end of a WebSocket's writing task, shared by the desk's feed and the widget's."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


async def stop_writer(task: asyncio.Task[None] | None) -> None:
    """Cancel a task that writes to a socket and wait until it has ended, however it ends, so that the handler's
    cleanup after it (presence, subscriptions) always runs.

    A peer gone while a frame was being written ends the task with aiohttp's `ClientConnectionResetError` (a
    `ConnectionResetError`) before the handler sees the socket close: that is how a socket ends, not an error. Until
    2026-12-06 it escaped the handler's `finally` and skipped the disconnect: an agent whose desk closed under a
    frame stayed online for routing (a CI run of tests/test_presence.py). Any other error is logged, not raised.
    """
    if task is None:
        return
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, ConnectionResetError):
        pass
    except Exception:
        log.exception("a socket's writing task failed")
