"""Small test helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 10.0, what: str = "condition") -> T:
    """Re-check a condition that has no event to wait on, until it holds or the deadline passes.

    For state reached in another task (an outbox delivery, a change stream): each check is a
    real query; the short pause only yields to the event loop between checks.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def assert_sent_after_rate_limit(runtime: Any, message_id: Any) -> None:
    """The message's outbox entry ended `sent`, after an attempt the provider rate-limited."""
    assert runtime.hub is not None
    entry = await runtime.hub.store.outbox.find_one({"message_id": message_id})
    assert entry is not None and entry["status"] == "sent", entry
    assert "rate limit" in entry["last_error"], entry["last_error"]
