"""Overlapping re-reads of an in-memory copy apply in the order they began (hub.latestread): a reload that read
before a widget secret was revoked, and ends after, must not bring the revoked secret back."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.latestread import LatestRead
from hub.sitebook import SiteBook
from switchboard.bootstrap import Runtime


def test_a_read_begun_before_an_applied_one_is_dropped() -> None:
    reads = LatestRead()
    older, newer = reads.begin(), reads.begin()
    assert reads.apply(newer) is True
    assert reads.apply(older) is False  # it ended last, but read first
    assert reads.apply(reads.begin()) is True
    alone = LatestRead()
    assert alone.apply(alone.begin()) is True


class _HeldCursor:
    """The real cursor's documents, handed back only once the test lets them go (a slow reload)."""

    def __init__(self, cursor: Any, release: asyncio.Event, read: asyncio.Event) -> None:
        self.cursor, self.release, self.read = cursor, release, read

    async def to_list(self) -> list[Any]:
        docs = await self.cursor.to_list()
        self.read.set()
        await self.release.wait()
        return docs


class _HoldFirstFind:
    """The real collection; its first `find` is held after reading (the rest pass straight through)."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection
        self.release, self.read = asyncio.Event(), asyncio.Event()
        self.held = False

    def find(self, *args: Any, **kwargs: Any) -> Any:
        cursor = self.collection.find(*args, **kwargs)
        if self.held:
            return cursor
        self.held = True
        return _HeldCursor(cursor, self.release, self.read)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.collection, name)


async def test_a_slow_reload_does_not_bring_back_a_revoked_secret(runtime: Runtime) -> None:
    assert runtime.store is not None
    book = SiteBook(runtime.store)
    await book.save("acme", {"title": "Acme", "allowed_origins": ["https://shop.example.com"]})
    old, _ = await book.rotate_secret("acme")
    held = _HoldFirstFind(book.collection)
    book.collection = held  # type: ignore[assignment]
    slow = asyncio.ensure_future(book.load())  # as an event on the bus starts it: it reads the old secret...
    await held.read.wait()
    new, _ = await book.rotate_secret("acme", grace_seconds=0)  # ...the admin revokes it meanwhile...
    held.release.set()
    await slow  # ...and the slow reload ends last
    assert book.identity_secrets("acme") == [new]
    assert old not in book.identity_secrets("acme")
