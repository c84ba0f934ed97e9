"""`switchboard contacts export|erase` and `switchboard retention run`: data protection from a shell.

They open the database the hub uses (`--mongodb-uri`, `MONGODB_URI`, the configuration, or the
embedded server in `--data-dir` when no hub is running on it) and record every action in the
audit trail as done `via: cli`. Expected failures print one line and exit non-zero.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from hub.aggregates import events_read_until
from hub.audit import AuditLog
from hub.blobs import BlobStore
from hub.eventlog import EventLogRetention
from hub.privacy import NoSuchContact, Privacy
from hub.retention import Retention, RetentionConfigError, parse_rules
from hub.store import PyMongoError, oid
from switchboard.admin_db import DatabaseUnreachable, admin_store
from switchboard.config import Settings


def add_arguments(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """The `contacts` and `retention` command groups (`common` adds the database/config options)."""
    contacts = sub.add_parser("contacts", help="export or erase everything held about a contact")
    contacts_sub = contacts.add_subparsers(dest="contacts_command", required=True)
    export = contacts_sub.add_parser("export", help="write a zip: contact.json plus the contact's files")
    common(export)
    export.add_argument("contact_id")
    export.add_argument("--out", type=Path, required=True, help="the zip file to write")
    erase = contacts_sub.add_parser("erase", help="erase a contact for good (messages redacted, files deleted)")
    common(erase)
    erase.add_argument("contact_id")
    erase.add_argument("--yes", action="store_true", help="confirm: erasure cannot be undone")
    retention = sub.add_parser("retention", help="data retention per channel (config `retention`)")
    retention_sub = retention.add_subparsers(dest="retention_command", required=True)
    common(retention_sub.add_parser("run", help="apply the retention rules now"))


class CommandError(Exception):
    """An expected failure: printed as one line."""


@asynccontextmanager
async def _privacy(settings: Settings) -> AsyncIterator[Privacy]:
    async with admin_store(settings) as store:
        yield Privacy(store, BlobStore(store), AuditLog(store))


async def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return await _run(args, settings)
    except (CommandError, DatabaseUnreachable, NoSuchContact, RetentionConfigError) as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 1
    except PyMongoError as exc:
        print(f"switchboard: database error: {str(exc).splitlines()[0][:200]}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "retention":
        rules = parse_rules(settings.retention)
        if not rules and settings.event_log_days is None:
            print("no retention rules configured (see `retention` and `hub.event_log_days` in the configuration)")
            return 0
        async with _privacy(settings) as privacy:
            retention = Retention(privacy.store, privacy, rules)
            retention.events = EventLogRetention(privacy.store, settings.event_log_days,
                                                 lambda: events_read_until(privacy.store))
            result = await retention.run_once(via="cli")
        if not result.ran:
            raise CommandError("another hub process is applying retention right now; try again later")
        for channel, done in result.done.items():
            print(f"{channel}: {done['action']} after {done['days']} days: {done['conversations']} conversation(s), "
                  f"{done['messages']} message(s), {done['files']} file(s)")
        if settings.event_log_days is not None:
            print(f"event log: {result.events} event(s) older than {settings.event_log_days} days deleted")
        return 0
    try:
        contact_id = oid(args.contact_id)
    except ValueError as exc:
        raise CommandError(f"not a contact id: {args.contact_id!r}") from exc
    if args.contacts_command == "export":
        async with _privacy(settings) as privacy:
            data = await privacy.export(contact_id, via="cli")
        try:
            args.out.write_bytes(data)
        except OSError as exc:
            raise CommandError(f"cannot write {args.out}: {exc.strerror}") from exc
        print(f"wrote {args.out} ({len(data)} bytes)")
        return 0
    if not args.yes:
        raise CommandError("erasure cannot be undone: add --yes to confirm")
    async with _privacy(settings) as privacy:
        erasure = await privacy.erase(contact_id, via="cli")
    if erasure.already:
        print(f"contact {contact_id} was erased already; nothing to do")
    else:
        removed = erasure.removed
        print(f"erased contact {contact_id}: {removed.messages} message(s) redacted, {removed.files} file(s) "
              f"deleted, {removed.conversations} conversation(s), {removed.tickets} ticket(s)")
    return 0
