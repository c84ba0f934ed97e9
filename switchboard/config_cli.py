"""`switchboard config apply FILE [--dry-run] [--prune]`: a configuration file's queues, calendars and widget sites into
the database, beside a running hub (through `admin_store`).

The file has the configuration's shape (config/switchboard.yml: `queues`, `calendars`, with `${ENV}`
substitution); the sections it does not have are left alone. The command prints what would change,
item by item with each field's value before and after, then applies it unless `--dry-run`. Every
change is recorded in the audit trail `via: cli`; a running hub follows at once (hub.queuebook). A
file that cannot be applied stops before anything is written, with one line and exit status 1.

Sections plug in through `SECTIONS` (hub.configdiff.ConfigSection): a new part of the configuration
adds one object with `name`, `desired`, `diff` and `apply`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from channels.widget.i18n import validate_texts as widget_texts_check
from hub.audit import AuditLog
from hub.configdiff import Change, ConfigSection, SectionError, render
from hub.configsections import CalendarsSection, QueuesSection, WidgetSitesSection
from hub.store import PyMongoError
from switchboard.admin_db import DatabaseUnreachable, admin_store
from switchboard.config import Settings, _expand


def sections(settings: Settings) -> list[ConfigSection]:
    """The sections `config apply` knows, in the order they are applied."""
    queues = QueuesSection(settings.default_queue)
    return [CalendarsSection(queues), queues, WidgetSitesSection(texts_check=widget_texts_check)]


def add_arguments(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    config = sub.add_parser("config", help="apply a configuration file's queues, calendars and widget sites "
                                           "to the database")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    apply = config_sub.add_parser("apply", help="show what FILE changes (queues, calendars, widget sites), "
                                                "then apply it")
    apply.add_argument("file", type=Path, help="a YAML file in the configuration's shape")
    apply.add_argument("--dry-run", action="store_true", help="only show the changes; write nothing")
    apply.add_argument("--prune", action="store_true",
                       help="also remove the queues, calendars and widget sites that the file's sections do not list")
    common(apply)


def read_file(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SectionError(f"cannot read {path}: {str(exc).splitlines()[0]}") from exc
    if not isinstance(raw, dict):
        raise SectionError(f"{path}: a YAML mapping (like config/switchboard.yml)")
    return dict(_expand(raw))


async def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return await _apply(args, settings)
    except (SectionError, DatabaseUnreachable) as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 1
    except PyMongoError as exc:
        print(f"switchboard: database error: {str(exc).splitlines()[0][:200]}", file=sys.stderr)
        return 1


async def _apply(args: argparse.Namespace, settings: Settings) -> int:
    raw = read_file(args.file)
    chosen = [(s, d) for s in sections(settings) if (d := s.desired(raw)) is not None]
    if not chosen:
        raise SectionError(f"{args.file}: none of the sections {', '.join(s.name for s in sections(settings))}")
    async with admin_store(settings) as store:
        plans: list[tuple[ConfigSection, list[Change]]] = []
        for section, desired in chosen:  # every section checked before anything is written
            plans.append((section, await section.diff(store, desired, args.prune)))
        changes = [c for _, cs in plans for c in cs]
        for line in render(changes):
            print(line)
        if not changes:
            print("no changes")
            return 0
        if args.dry_run:
            print(f"{len(changes)} change(s); dry run: nothing written")
            return 0
        audit = AuditLog(store)
        for section, section_changes in plans:
            await section.apply(store, section_changes, audit)
    print(f"applied {len(changes)} change(s)")
    return 0
