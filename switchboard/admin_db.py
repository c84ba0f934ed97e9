"""The database an admin command works on, beside or without a running hub.

`--mongodb-uri`, `MONGODB_URI` or the configuration name it; otherwise the embedded server
is started on `--data-dir` (which waits, bounded, while a hub still holds that storage).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hub.store import Store
from switchboard.config import Settings


class DatabaseUnreachable(Exception):
    """The configured database does not answer: an expected failure, printed as one line."""


@asynccontextmanager
async def admin_store(settings: Settings) -> AsyncIterator[Store]:
    """A connected store with its indexes, closed (and the embedded server stopped) afterwards."""
    from switchboard.embedded import EmbeddedServer

    embedded = None
    uri = settings.mongodb_uri
    if not uri:
        embedded = EmbeddedServer(settings.data_dir.resolve())
        uri = await embedded.start()
    store = Store(uri, settings.db_name)
    try:
        if not await store.ping():
            # Not the URI itself: it may carry a password.
            raise DatabaseUnreachable("cannot reach the database (check --mongodb-uri / MONGODB_URI)")
        await store.ensure_indexes()
        yield store
    finally:
        await store.close()
        if embedded:
            embedded.stop()
