"""Configuration as data: what a configuration file would change in the database, and applying it.

`switchboard config apply FILE [--dry-run]` reads a YAML file of the configuration's shape and asks
each registered *section* (one part of that file, such as `queues` or `calendars`) to compare what
the file says with what the database holds:

    class ConfigSection(Protocol):
        name: str                                   # its path in the file, e.g. "queues", "channels.widget.sites"
        def desired(self, raw: dict) -> Any | None  # the file's part for it (None: the file has none: skipped)
        async def diff(self, store, desired, prune) -> list[Change]   # raises SectionError on a bad file
        async def apply(self, store, changes, audit) -> None          # records each change, `via: cli`

A `Change` says what happens to one item (`added`, `changed`, `removed`) with its fields' values
before and after; `render` prints them for people. Sections live next to the domain they change
(hub.configsections for queues and calendars); the command line (switchboard.config_cli) keeps
the list, in order (calendars before the queues that name them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from hub.audit import AuditLog
from hub.store import Store

Kind = Literal["added", "changed", "removed"]


class SectionError(ValueError):
    """The file's section cannot be applied as written; the message says where and why (one line)."""


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Change:
    section: str
    key: str
    kind: Kind
    fields: tuple[FieldChange, ...] = ()
    #: What the section needs to apply it (the desired item); not printed.
    value: Any = field(default=None, compare=False, repr=False)


class ConfigSection(Protocol):
    name: str

    def desired(self, raw: dict[str, Any]) -> Any | None: ...

    async def diff(self, store: Store, desired: Any, prune: bool) -> list[Change]: ...

    async def apply(self, store: Store, changes: list[Change], audit: AuditLog) -> None: ...


def field_changes(before: dict[str, Any] | None, after: dict[str, Any], keys: Iterable[str] | None = None
                  ) -> tuple[FieldChange, ...]:
    """The fields whose values differ (`keys`: only these; default every key of `after`)."""
    before = before or {}
    return tuple(FieldChange(k, before.get(k), after.get(k)) for k in (keys if keys is not None else after)
                 if before.get(k) != after.get(k))


def path(raw: dict[str, Any], dotted: str) -> Any | None:
    """The value at `a.b.c` of a parsed file, or None when any part is absent."""
    value: Any = raw
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if value else '""'
    return json.dumps(value, ensure_ascii=False, default=str)


def render(changes: list[Change]) -> list[str]:
    """One line per item (`+ added`, `~ changed`, `- removed`) and an indented line per changed field."""
    lines: list[str] = []
    for change in changes:
        mark = {"added": "+", "changed": "~", "removed": "-"}[change.kind]
        lines.append(f"{mark} {change.section} {change.key} ({change.kind})")
        for f in change.fields:
            if change.kind == "added":
                lines.append(f"    {f.field}: {_show(f.after)}")
            else:
                lines.append(f"    {f.field}: {_show(f.before)} -> {_show(f.after)}")
    return lines
