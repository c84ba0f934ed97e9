"""Small test helpers."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from pymongo import monitoring

from hub.store import Doc, ObjectId, Store

T = TypeVar("T")
_scratch = itertools.count()


@asynccontextmanager
async def scratch_store(mongo_uri: str, prefix: str, listeners: Sequence[Any] = ()) -> AsyncIterator[Store]:
    """A `Store` on a database of its own (indexes made), dropped afterwards; `listeners`: PyMongo
    command listeners, for tests that count what the server was asked."""
    store = Store(mongo_uri, f"{prefix}_{next(_scratch)}", list(listeners))
    await store.ensure_indexes()
    try:
        yield store
    finally:
        await store.client.drop_database(store.db.name)
        await store.client.close()


class FindReads(monitoring.CommandListener):
    """The `find`s on `collection` whose filter `wanted` accepts: each filter, and whether it was part of a
    transaction (for tests of which reads an operation makes inside its transaction and which beside it)."""

    def __init__(self, collection: str, wanted: Callable[[Doc], bool]) -> None:
        self.collection, self.wanted = collection, wanted
        self.filters: list[Doc] = []
        self.in_transaction: list[bool] = []
        self._lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        query = event.command.get("filter") or {}
        if event.command_name == "find" and event.command.get("find") == self.collection and self.wanted(query):
            with self._lock:
                self.filters.append(dict(query))
                self.in_transaction.append("txnNumber" in event.command)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class Counted(monitoring.CommandListener):
    """The commands the client sent, by name."""

    def __init__(self) -> None:
        self.names: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def bare_conversation(store: Store, channel: str = "test") -> Doc:
    """An open conversation with just the fields the outbox reads (no contact or messages behind it)."""
    oid = ObjectId()
    doc: Doc = {"_id": oid, "channel": channel, "contact_id": ObjectId(), "thread_key": f"t-{oid}",
                "recipient": f"customer-{oid}", "open": True, "token": f"k-{oid}"}
    await store.conversations.insert_one(doc)
    return doc


async def outbox_entry(store: Store, text: str) -> Doc:
    """The outbox entry of the (only) message with this text."""
    message = await store.messages.find_one({"text": text})
    assert message is not None, text
    entry = await store.outbox.find_one({"message_id": message["_id"]})
    assert entry is not None, text
    return entry


class StoppedClock:
    """Seconds that move only when the test moves them (`clock.now += 5`): for code that takes a `clock`
    callable (the rate limiters, the Rasa backend's timers) instead of sleeping."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def holds(value: bool) -> bool:
    """A condition already computed, for `eventually(lambda: holds(...))` on state kept in memory."""
    return value


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
