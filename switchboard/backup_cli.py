"""`switchboard backup --out FILE` and `switchboard restore FILE [--replace]`.

Backup works beside a running hub (through the server the hub records in its data dir) or on
a replica set (`--mongodb-uri`). Restore replaces what the hubs hold, so on the embedded default
it refuses while a hub runs on the data dir; on a replica set, stop every hub first. Schema
migrations of an older backup run when the hub next starts (`hub.migrations`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from hub.store import PyMongoError
from switchboard.admin_db import DatabaseUnreachable, admin_store
from switchboard.backup import BackupError, restore_backup, write_backup
from switchboard.config import Settings


def add_arguments(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    backup = sub.add_parser("backup", help="write every collection and file to one backup file (consistent)")
    backup.add_argument("--out", required=True, type=Path, help="the backup file to write (mode 0600)")
    common(backup)
    restore = sub.add_parser("restore", help="load a backup into an empty database (the hub must be stopped)")
    restore.add_argument("file", type=Path, help="a file written by `switchboard backup`")
    restore.add_argument("--replace", action="store_true",
                         help="drop everything the database holds first (otherwise it must be empty)")
    common(restore)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return await _run(args, settings)
    except (BackupError, DatabaseUnreachable) as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 1
    except PyMongoError as exc:
        print(f"switchboard: database error: {str(exc).splitlines()[0][:200]}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"switchboard: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from switchboard.embedded import running_record

    data_dir = settings.data_dir.resolve()
    embedded = None if settings.mongodb_uri else data_dir / "db"
    if args.command == "backup":
        out: Path = args.out.resolve()
        if not out.parent.is_dir():
            raise BackupError(f"no directory {out.parent} for the backup")
        async with admin_store(settings, indexes=False) as store:
            summary = await write_backup(store, out, embedded_storage=embedded)
        print(f"backup written to {out}: {len(summary.collections)} collections, {summary.documents} documents "
              f"(schema {summary.schema_version}, consistent by {summary.consistency})")
        return 0
    if not args.file.is_file():
        raise BackupError(f"no backup file {args.file}")
    if embedded is not None and running_record(data_dir) is not None:
        raise BackupError(f"a hub is running on {data_dir}: stop it first (a restore replaces what it holds)")
    async with admin_store(settings) as store:
        summary = await restore_backup(store, args.file, replace=args.replace)
    print(f"restored {args.file}: {len(summary.collections)} collections, {summary.documents} documents "
          f"(schema {summary.schema_version}; the hub migrates it on start if older)")
    return 0
