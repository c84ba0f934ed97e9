"""A transaction's inserts, and a few writes safe to repeat, sent together in one command.

An escalation inserts the ticket, its search words, the notice and the events: four commands, each a round
trip and a command for the single-threaded embedded server to parse, plan and log. MongoDB 8.0's client-level
`bulkWrite` (wire version 25; secantusd-py has it) takes writes to several collections in one command, inside a
transaction too: `Store.insert_later` gathers a transaction's inserts (nothing in it reads them back) and
`run_in_transaction` sends them just before it commits, in the order they were made. Updates in a transaction
are made where the code makes them (`Store.update`): deferring them too was measured and dropped (it changes
when a transaction takes the documents it changes, and the load's latency tail grew). Outside a transaction,
`Store.gathered` sends a few single-document writes, each safe to repeat, in one ordered command (the bot's
answer). Against an older server each write goes out on its own, as before (inserts into one collection in one
`insert_many`).

Measured on secantusd-py (a scratch script, 300 rounds): a transaction of four writes 2.77 → 1.76 ms
per round, the server's CPU 1.73 → 1.27 ms (docs/ingest.md, "Writes together").
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, ClientBulkWriteException, DuplicateKeyError, PyMongoError, WriteError
from pymongo.operations import DeleteOne, InsertOne, UpdateMany, UpdateOne
from pymongo.write_concern import WriteConcern

Doc = dict[str, Any]

#: The wire version of MongoDB 8.0, the first with the client-level `bulkWrite` command.
CLIENT_BULK_WIRE_VERSION = 25
DUPLICATE_KEY = 11000


@dataclass
class LaterWrite:
    """One write to be made with others in one command: a transaction's insert waiting for its last round trip,
    a `gathered` session's write, a wait announcer pass's."""

    collection: AsyncCollection[Doc]
    kind: Literal["insert", "update", "update_many", "delete"]
    doc: Doc  # insert: the document; update: the update; delete: unused
    filter: Doc = field(default_factory=dict)
    upsert: bool = False

    def model(self, *, client: bool = True) -> InsertOne[Doc] | UpdateOne | UpdateMany | DeleteOne:
        """The write as an entry of a client-level `bulkWrite` (`client`), or of its collection's `bulk_write`."""
        where: dict[str, Any] = {"namespace": self.collection.full_name} if client else {}
        if self.kind == "insert":
            return InsertOne(self.doc, **where)
        if self.kind == "update":
            return UpdateOne(self.filter, self.doc, upsert=self.upsert, **where)
        if self.kind == "delete":
            return DeleteOne(self.filter, **where)
        return UpdateMany(self.filter, self.doc, **where)

    async def alone(self, session: AsyncClientSession | None) -> None:
        if self.kind == "insert":
            await self.collection.insert_one(self.doc, session=session)
        elif self.kind == "update":
            await self.collection.update_one(self.filter, self.doc, upsert=self.upsert, session=session)
        elif self.kind == "delete":
            await self.collection.delete_one(self.filter, session=session)
        else:
            await self.collection.update_many(self.filter, self.doc, session=session)


def together_supported(client: Any) -> bool | None:
    """Whether every writable server the client knows takes a client-level `bulkWrite` (None: it knows none yet)."""
    wires = [s.max_wire_version for s in client.topology_description.known_servers if s.is_writable]
    return min(wires) >= CLIENT_BULK_WIRE_VERSION if wires else None


async def write_all(client: Any, writes: list[LaterWrite], session: AsyncClientSession | None, *,
                    together: bool, write_concern: WriteConcern | None = None) -> None:
    """Make `writes` in their order, stopping at the first that fails: one `bulkWrite` when `together`, else
    one command per write (the inserts into one collection in one `insert_many`), with `write_concern` if given.
    Errors are those the single writes raise: a duplicate key is `DuplicateKeyError`, and a write conflict keeps
    its `TransientTransactionError` label, so that `with_transaction` retries the transaction."""
    if not writes:
        return
    if not together:
        if write_concern is not None:
            writes = [replace(w, collection=w.collection.with_options(write_concern=write_concern)) for w in writes]
        await _one_by_one(writes, session)
        return
    try:
        await client.bulk_write([w.model() for w in writes], session=session, ordered=True,
                                write_concern=write_concern)
    except ClientBulkWriteException as exc:
        raise _refused(exc) from exc


def _refused(exc: ClientBulkWriteException) -> PyMongoError:
    """The error the write that failed would have raised on its own."""
    if isinstance(exc.error, PyMongoError):  # the command failed as a whole (a write conflict, a lost connection)
        return exc.error
    if exc.write_errors:
        first = exc.write_errors[0]
        cls = DuplicateKeyError if first.get("code") == DUPLICATE_KEY else WriteError
        return cls(first.get("errmsg", "write refused"), first.get("code"), first)
    return exc


async def _one_by_one(writes: list[LaterWrite], session: AsyncClientSession | None) -> None:
    """Each collection's inserts in one `insert_many` where its first one was made, and each run of other writes
    to one collection in one `bulk_write` (as the transaction's events and the wait notices were before)."""
    inserts: dict[str, list[Doc]] = {}
    for w in writes:
        if w.kind == "insert":
            inserts.setdefault(w.collection.full_name, []).append(w.doc)
    run: list[LaterWrite] = []
    for w in [*writes, None]:
        if run and (w is None or w.kind == "insert" or w.collection.full_name != run[0].collection.full_name):
            await _alike(run, session)
            run = []
        if w is None:
            break
        if w.kind != "insert":
            run.append(w)
            continue
        docs = inserts.pop(w.collection.full_name, None)
        if docs is not None and len(docs) == 1:
            await w.alone(session)
        elif docs is not None:
            await _duplicate_as_such(w.collection.insert_many(docs, session=session))


async def _alike(run: list[LaterWrite], session: AsyncClientSession | None) -> None:
    if len(run) == 1:
        await run[0].alone(session)
    else:
        await _duplicate_as_such(run[0].collection.bulk_write([w.model(client=False) for w in run], ordered=True,
                                                              session=session))


async def _duplicate_as_such(write: Awaitable[Any]) -> None:
    """A batch refused for a duplicate key raises `DuplicateKeyError`, as the single write would."""
    try:
        await write
    except BulkWriteError as exc:
        first = (exc.details.get("writeErrors") or [{}])[0]
        if first.get("code") == DUPLICATE_KEY:
            raise DuplicateKeyError(first.get("errmsg", "duplicate key"), DUPLICATE_KEY, first) from exc
        raise
