"""Backups of the whole database (every collection, attachments included) in one portable file.

The file is a gzipped tar: `manifest.json` (format and version, the schema version, counts per
collection, how consistency was obtained) and one `collections/<name>.bson` per collection, the
documents in BSON exactly as stored (the same encoding `mongodump` writes), so dates, ids and
binary data come back unchanged.

Consistent: on a MongoDB replica set the documents are read in one snapshot session (one point
in time, MongoDB 5.0+). `secantusd-py`, the embedded default, accepts snapshot sessions but does
not honour them (a write during the session is visible to it: measured), so there the server
first writes a WiredTiger checkpoint (`secantusAdmin.backupArchive`), a private server is started
on a copy of it, and the backup is read from that copy.

A restore refuses a file of a newer format, or of a newer schema, than this release reads, and a
database that already holds data unless told to replace it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from bson import decode_file_iter
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from hub.migrations import SCHEMA_VERSION, schema_version
from hub.store import Store

FORMAT = "switchboard-backup"
FORMAT_VERSION = 1
RAW = CodecOptions(document_class=RawBSONDocument)
BATCH_DOCUMENTS = 1000
BATCH_BYTES = 8 * 1024 * 1024


class BackupError(Exception):
    """An expected failure (bad file, newer format, non-empty target): printed as one line."""


@dataclass(frozen=True)
class Summary:
    collections: dict[str, int]
    schema_version: int | None
    consistency: str

    @property
    def documents(self) -> int:
        return sum(self.collections.values())


def _collection_names(names: list[str]) -> list[str]:
    return sorted(n for n in names if not n.startswith("system."))


async def _dump(db: AsyncDatabase[Any], work: Path, session: Any = None) -> dict[str, int]:
    """Each collection's raw documents into `work/<name>.bson`; the counts."""
    counts: dict[str, int] = {}
    for name in _collection_names(await db.list_collection_names(session=session)):
        count = 0
        with (work / f"{name}.bson").open("wb") as out:
            async for doc in db.get_collection(name, codec_options=RAW).find({}, session=session):
                out.write(doc.raw)
                count += 1
        counts[name] = count
    return counts


@asynccontextmanager
async def _checkpoint_copy(store: Store, storage_parent: Path) -> AsyncIterator[Store]:
    """A private server on a copy of the embedded server's storage at one checkpoint."""
    from switchboard.embedded import EmbeddedServer

    work = Path(tempfile.mkdtemp(prefix=".backup-", dir=storage_parent))  # the server writes here
    try:
        archive = work / "checkpoint.tar.gz"
        await store.db.client.admin.command("secantusAdmin.backupArchive", outputPath=str(archive))
        copy = work / "copy"
        (copy / "db").mkdir(parents=True, mode=0o700)
        with tarfile.open(archive) as tar:
            tar.extractall(copy / "db", filter="data")
        archive.unlink()
        server = EmbeddedServer(copy, record=False)
        uri = await server.start()
        snapshot = Store(uri, store.db.name)
        try:
            yield snapshot
        finally:
            await snapshot.close()
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def write_backup(store: Store, out: Path, embedded_storage: Path | None = None) -> Summary:
    """Write a consistent backup of `store`'s database to `out` (mode 0600: it holds customer data)."""
    with tempfile.TemporaryDirectory(prefix="switchboard-backup-") as tmp:
        work = Path(tmp)
        if embedded_storage is not None:
            consistency = "checkpoint"
            async with _checkpoint_copy(store, embedded_storage.parent) as snapshot:
                counts = await _dump(snapshot.db, work)
                version = await schema_version(snapshot)
        else:
            consistency = "snapshot"
            async with store.client.start_session(snapshot=True) as session:
                try:
                    counts = await _dump(store.db, work, session)
                except OperationFailure as exc:  # a standalone server has no snapshots
                    if exc.code not in (72, 123, 263):  # InvalidOptions, NotAReplicaSet-like, snapshot unsupported
                        raise
                    consistency = "none (standalone server without snapshots: stop the hubs for a consistent copy)"
                    counts = await _dump(store.db, work)
            version = await schema_version(store)
        manifest = {"format": FORMAT, "version": FORMAT_VERSION, "schema_version": version,
                    "created_at": datetime.now(UTC).isoformat(), "database": store.db.name,
                    "consistency": consistency, "collections": counts}
        partial = out.with_name(f".{out.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
                data = json.dumps(manifest, indent=1).encode()
                info = tarfile.TarInfo("manifest.json")
                info.size, info.mode, info.mtime = len(data), 0o600, int(datetime.now(UTC).timestamp())
                tar.addfile(info, io.BytesIO(data))
                for name in counts:
                    tar.add(work / f"{name}.bson", arcname=f"collections/{name}.bson")
            os.replace(partial, out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return Summary(counts, version, consistency)


def read_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    """The manifest, checked: our format, a version this release reads."""
    try:
        member = tar.extractfile("manifest.json")
        manifest = json.loads(member.read()) if member else None
    except (KeyError, ValueError) as exc:
        raise BackupError("not a Switchboard backup (no readable manifest.json)") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("not a Switchboard backup (unknown format)")
    version = manifest.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BackupError(f"the backup has format version {version}, written by a newer Switchboard; "
                          f"this release reads up to {FORMAT_VERSION}")
    schema = manifest.get("schema_version")
    if isinstance(schema, int) and schema > SCHEMA_VERSION:
        raise BackupError(f"the backup holds schema version {schema}, from a newer Switchboard; "
                          f"this release knows up to {SCHEMA_VERSION}")
    if not isinstance(manifest.get("collections"), dict):
        raise BackupError("the backup's manifest lists no collections")
    return manifest


async def _insert_all(db: AsyncDatabase[Any], name: str, stream: IO[bytes]) -> int:
    collection = await db.create_collection(name, codec_options=RAW)  # empty ones come back too
    batch: list[RawBSONDocument] = []
    size = count = 0
    for doc in decode_file_iter(stream, codec_options=RAW):
        batch.append(doc)
        size += len(doc.raw)
        if len(batch) >= BATCH_DOCUMENTS or size >= BATCH_BYTES:
            await collection.insert_many(batch, ordered=True)
            count, batch, size = count + len(batch), [], 0
    if batch:
        await collection.insert_many(batch, ordered=True)
        count += len(batch)
    return count


async def restore_backup(store: Store, path: Path, replace: bool = False) -> Summary:
    """Load a backup into `store`'s database (empty, or emptied first with `replace`)."""
    try:
        tar = tarfile.open(path, mode="r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"cannot read {path}: {exc}") from exc
    with tar:
        manifest = read_manifest(tar)
        existing = _collection_names(await store.db.list_collection_names())
        holding = [n for n in existing if await store.db[n].find_one({}, projection={"_id": 1}) is not None]
        if holding and not replace:
            raise BackupError(f"the database {store.db.name!r} already holds data ({', '.join(holding[:4])}"
                              f"{'…' if len(holding) > 4 else ''}); restore into an empty one or pass --replace")
        for name in existing:
            await store.db.drop_collection(name)
        counts: dict[str, int] = {}
        for name, expected in manifest["collections"].items():
            member = tar.extractfile(f"collections/{name}.bson")
            if member is None:
                raise BackupError(f"the backup lacks collections/{name}.bson")
            counts[name] = await _insert_all(store.db, name, member)
            if counts[name] != expected:
                raise BackupError(f"collections/{name}.bson holds {counts[name]} documents, the manifest says "
                                  f"{expected}: the file is damaged")
    await store.ensure_indexes()
    return Summary(counts, manifest.get("schema_version"), str(manifest.get("consistency")))
