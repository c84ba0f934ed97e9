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


def _running_hub_uri(settings: Settings) -> str | None:
    """The URI of the database a hub running on the data dir uses, None when no hub runs there."""
    from switchboard.embedded import running_record

    record = running_record(settings.data_dir.resolve())
    if record is None:
        return None
    if not record.server_alive:
        raise DatabaseUnreachable(f"the hub (pid {record.hub_pid}) on {settings.data_dir} is restarting its "
                                  "database; try again shortly")
    return record.uri


@asynccontextmanager
async def admin_store(settings: Settings) -> AsyncIterator[Store]:
    """A connected store with its indexes, closed (and an embedded server we started, stopped) afterwards."""
    from switchboard.embedded import EmbeddedServer

    embedded = None
    uri = settings.mongodb_uri
    unreachable = "cannot reach the database (check --mongodb-uri / MONGODB_URI)"  # not the URI: it may hold a password
    if not uri and (uri := _running_hub_uri(settings)):
        unreachable = f"the database of the hub running on {settings.data_dir} does not answer"
    if not uri:
        embedded = EmbeddedServer(settings.data_dir.resolve(), record=False)
        uri = await embedded.start(lock_wait_seconds=settings.embedded_lock_wait_seconds)
    store = Store(uri, settings.db_name)
    try:
        if not await store.ping():
            raise DatabaseUnreachable(unreachable)
        await store.ensure_indexes()
        yield store
    finally:
        await store.close()
        if embedded:
            embedded.stop()
