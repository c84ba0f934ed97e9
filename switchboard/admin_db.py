"""The database an admin command works on, beside or without a running hub.

`--mongodb-uri`, `MONGODB_URI` or the configuration name it. Otherwise, when a hub runs on
`--data-dir`, its embedded server holds the storage (WiredTiger's lock), so the command uses
that server through the URI the hub recorded there (`embedded.json`). With no hub running,
the command starts the embedded server on `--data-dir` itself for as long as it runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hub.store import Store
from switchboard.config import Settings


class DatabaseUnreachable(Exception):
    """The configured database does not answer: an expected failure, printed as one line."""


@asynccontextmanager
async def admin_store(settings: Settings, indexes: bool = True) -> AsyncIterator[Store]:
    """A connected store with its indexes, closed (and an embedded server we started, stopped) afterwards.

    `indexes=False` for a command that must leave the database exactly as it is (a backup).
    """
    from switchboard.embedded import EmbeddedServer, running_record

    embedded = None
    uri = settings.mongodb_uri
    unreachable = "cannot reach the database (check --mongodb-uri / MONGODB_URI)"  # not the URI: it may hold a password
    if not uri and (running := running_record(settings.data_dir.resolve())) is not None:
        uri = running.uri  # a hub runs on the data dir: its server holds the storage, so use that server
        unreachable = f"the database of the hub running on {settings.data_dir} does not answer"
    if not uri:
        embedded = EmbeddedServer(settings.data_dir.resolve(), record=False)
        uri = await embedded.start(lock_wait_seconds=settings.embedded_lock_wait_seconds)
    store = Store(uri, settings.db_name)
    try:
        if not await store.ping():
            raise DatabaseUnreachable(unreachable)
        if indexes:
            await store.ensure_indexes()
        yield store
    finally:
        await store.close()
        if embedded:
            embedded.stop()
