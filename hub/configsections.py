"""The `queues`, `calendars` and `channels.widget.sites` sections of `switchboard config apply` (hub.configdiff).

`queues`: a list of queues in the configuration's shape (`name` plus any QueueConfig field, a
`calendar` name, and optionally `members`, a list of usernames). A queue the database lacks is
added; for one it has, only the fields the file names are compared and changed (a field the file
leaves out keeps its value, so a seed file re-applied does not undo the desk's other edits).
`calendars`: a mapping from name to `{timezone, hours, holidays}`, compared as a whole; a calendar
keeps the queues it serves. With `prune`, items the database has and the file lacks are removed
(a queue with open tickets, the default queue or another's fallback is refused, as in the desk).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any

from hub.audit import AuditLog
from hub.calendars import CalendarError, parse_calendar
from hub.configdiff import Change, FieldChange, SectionError, field_changes, path
from hub.queuebook import QueueBook, QueueError, announce, check
from hub.sitebook import SiteBook, SiteError, check_name, site_fields
from hub.sitebook import apply as apply_sites
from hub.sla import Calendars, _stored
from hub.store import Store
from hub.tickets import QueueConfig

QUEUE_FIELDS = {f.name for f in fields(QueueConfig)} | {"members"}
VIA = "cli"


def _queue_items(desired: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(desired, list):
        raise SectionError("queues: a list of queues, each with a name")
    items: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(desired):
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise SectionError(f"queues[{i}]: a mapping with a name")
        unknown = sorted(set(raw) - QUEUE_FIELDS)
        if unknown:
            raise SectionError(f"queues.{raw['name']}.{unknown[0]}: not a queue field")
        if raw["name"] in items:
            raise SectionError(f"queues.{raw['name']}: listed twice")
        members = raw.get("members")
        if members is not None and not (isinstance(members, list) and all(isinstance(m, str) for m in members)):
            raise SectionError(f"queues.{raw['name']}.members: a list of usernames")
        items[raw["name"]] = {k: v for k, v in raw.items() if k != "name"}
    return items


class QueuesSection:
    name = "queues"

    def __init__(self, default_queue: str = "") -> None:
        self.default_queue = default_queue
        #: Calendars the same file adds (set by CalendarsSection.diff): its queues may name them.
        self.new_calendars: set[str] = set()

    def desired(self, raw: dict[str, Any]) -> Any | None:
        return raw.get("queues")

    async def diff(self, store: Store, desired: Any, prune: bool) -> list[Change]:
        items = _queue_items(desired)
        book = QueueBook(store, default_queue=self.default_queue)
        await book.load()
        current = {name: await book.get(name) for name in book.live}
        names = set(current) | set(items)
        calendars = {c["_id"] async for c in store.calendars.find({}, projection={"_id": 1})}
        calendars |= self.new_calendars
        serve_all = {a["username"] async for a in store.agents.find({}, projection={"username": 1, "queues": 1})
                     if not a.get("queues")}
        changes = []
        for name, values in items.items():
            before = current.get(name)
            base = {k: v for k, v in asdict(QueueConfig(name=name)).items()} if before is None else before
            try:
                q = QueueConfig(**{**{k: v for k, v in base.items() if k in QUEUE_FIELDS and k != "members"},
                                   **{k: v for k, v in values.items() if k != "members"}, "name": name})
                check(q, names)
            except (QueueError, TypeError) as exc:
                raise SectionError(f"queues.{name}: {exc}") from exc
            if q.calendar and q.calendar not in calendars:
                raise SectionError(f"queues.{name}.calendar: no calendar named {q.calendar!r}")
            if "members" in values:
                try:
                    await book.check_members(name, values["members"])
                except QueueError as exc:
                    raise SectionError(f"queues.{name}.{exc}") from exc
            after = {k: getattr(q, k) for k in values if k != "members"}
            if "members" in values:  # an agent with no queue list serves every queue already: not listed
                after["members"] = sorted(set(values["members"]) - serve_all)
            if before is None:
                changes.append(Change(self.name, name, "added", field_changes(None, after), values))
            elif diffs := field_changes(before, after):
                changes.append(Change(self.name, name, "changed", diffs, values))
        if prune:
            for name in sorted(set(current) - set(items)):
                if name == self.default_queue:
                    raise SectionError(f"queues.{name}: the default queue cannot be removed")
                if open_tickets := await book.open_tickets(name):
                    raise SectionError(f"queues.{name}: has {open_tickets} open ticket(s); move them first")
                changes.append(Change(self.name, name, "removed"))
        return changes

    async def apply(self, store: Store, changes: list[Change], audit: AuditLog) -> None:
        book = QueueBook(store, default_queue=self.default_queue, calendars=Calendars(store))
        for change in changes:
            try:
                if change.kind == "removed":
                    before, after = await book.delete(change.key), None
                else:
                    before, after = await book.save(change.key, change.value, create=change.kind == "added")
            except QueueError as exc:
                raise SectionError(f"queues.{change.key}: {exc}") from exc
            action = {"added": "queue.created", "changed": "queue.updated", "removed": "queue.deleted"}[change.kind]
            await audit.record(action, target={"type": "queue", "id": change.key, "name": change.key},
                               details={"before": before, "after": after, "via": VIA})


class CalendarsSection:
    name = "calendars"

    def __init__(self, queues: QueuesSection | None = None) -> None:
        self.queues = queues  # told which calendars this file adds, so that its queues may name them

    def desired(self, raw: dict[str, Any]) -> Any | None:
        return raw.get("calendars")

    async def diff(self, store: Store, desired: Any, prune: bool) -> list[Change]:
        if not isinstance(desired, dict):
            raise SectionError("calendars: a mapping from calendar name to {timezone, hours, holidays}")
        current = {doc["_id"]: doc for doc in await Calendars(store).list()}
        changes = []
        for name, spec in desired.items():
            try:
                after = _stored(parse_calendar(str(name), spec))
            except CalendarError as exc:
                raise SectionError(f"calendars.{name}: {exc}") from exc
            before = current.get(name)
            if before is None:
                changes.append(Change(self.name, name, "added", field_changes(None, after), spec))
            elif diffs := field_changes({k: before.get(k) for k in after}, after):
                changes.append(Change(self.name, name, "changed", diffs, spec))
        if prune:
            changes += [Change(self.name, name, "removed") for name in sorted(set(current) - set(desired))]
        if self.queues is not None:
            self.queues.new_calendars = {str(n) for n in desired}
        return changes

    async def apply(self, store: Store, changes: list[Change], audit: AuditLog) -> None:
        calendars = Calendars(store)
        current = {doc["_id"]: doc for doc in await calendars.list()}
        for change in changes:
            if change.kind == "removed":
                await calendars.delete(change.key)
                await audit.record("calendar.deleted", target={"type": "calendar", "id": change.key,
                                                               "name": change.key}, details={"via": VIA})
                continue
            queues = (current.get(change.key) or {}).get("queues") or []
            doc = await calendars.save(change.key, change.value, queues, set(queues))
            await audit.record("calendar.saved", target={"type": "calendar", "id": change.key, "name": change.key},
                               details={**{k: doc[k] for k in ("timezone", "hours", "holidays", "queues")},
                                        "via": VIA})
        if changes:
            await announce(store)  # every hub drops its calendars' cache


class WidgetSitesSection:
    """`channels.widget.sites`: a mapping from site name to its settings (hub.sitebook). A site the database
    lacks is added; one it has is compared on what the desk edits (title, origins, colours, greeting,
    pre-chat form, text overrides) and an identity secret the file sets. Secret values never appear in the
    diff. With `prune`, sites the file lacks are removed."""

    name = "channels.widget.sites"

    def __init__(self, texts_check: Callable[[Any, str], Any] | None = None) -> None:
        self.texts_check = texts_check  # the widget's check of text overrides (handed in by the root)

    def desired(self, raw: dict[str, Any]) -> Any | None:
        return path(raw, self.name)

    async def _book(self, store: Store) -> SiteBook:
        book = SiteBook(store, texts_check=self.texts_check)
        await book.load()
        return book

    async def diff(self, store: Store, desired: Any, prune: bool) -> list[Change]:
        if not isinstance(desired, dict):
            raise SectionError(f"{self.name}: a mapping from site name to its settings")
        book = await self._book(store)
        changes = []
        for name, raw in desired.items():
            try:
                after = site_fields(book.normalise(raw or {}, check_name(str(name))))
            except SiteError as exc:
                raise SectionError(f"{self.name}.{name}: {exc}") from exc
            secret = str((raw or {}).get("identity_secret") or "")
            before = book.sites.get(str(name))
            if before is None:
                diffs = field_changes(None, after)
                diffs += (FieldChange("identity_secret", None, "(set)"),) if secret else ()
                changes.append(Change(self.name, str(name), "added", diffs, raw or {}))
                continue
            diffs = field_changes(site_fields(before), after)
            if secret and secret != before.get("identity_secret"):
                diffs += (FieldChange("identity_secret", "(set)", "(replaced)"),)
            if diffs:
                changes.append(Change(self.name, str(name), "changed", diffs, raw or {}))
        if prune:
            changes += [Change(self.name, n, "removed") for n in sorted(set(book.sites) - {str(k) for k in desired})]
        return changes

    async def apply(self, store: Store, changes: list[Change], audit: AuditLog) -> None:
        book = await self._book(store)
        wanted = {c.key: c.value for c in changes if c.kind != "removed"}
        await apply_sites(book, wanted)
        for change in changes:
            if change.kind == "removed":
                await book.delete(change.key)
            action = {"added": "widget_site.created", "changed": "widget_site.updated",
                      "removed": "widget_site.deleted"}[change.kind]
            await audit.record(action, target={"type": "widget_site", "id": change.key, "name": change.key},
                               details={"fields": [f.field for f in change.fields], "via": VIA})
