"""The audit trail for admins: a filtered, paged list and a CSV export (itself recorded)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import datetime, timedelta

from aiohttp import web

from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, requires
from httpkit.csvcells import cell
from httpkit.errors import error
from httpkit.query import iso_time
from hub.audit import ACTION_WORDS, KNOWN_ACTIONS, AuditPage, AuditQuery, BadCursor
from hub.display import DISPLAY_FIELDS, display_name
from hub.models import Role
from hub.store import Doc, ObjectId
from hub.views import jsonable

MAX_PAGE = 200
#: Entries per round of the CSV export.
EXPORT_PAGE = 500


def _when(value: str | None, name: str) -> datetime | None:
    """A query time; a bare date `to` includes that whole day."""
    parsed = iso_time(value, name)
    if parsed is not None and name == "to" and value is not None and len(value) == 10:
        parsed += timedelta(days=1)
    return parsed


def _int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise error(400, f"{name} must be a whole number") from exc
    if not low <= number <= high:
        raise error(400, f"{name} must be between {low} and {high}")
    return number


def query_of(request: web.Request, *, limit: int | None = None) -> AuditQuery:
    """The filter from `action`, `actor` (an agent's username), `from`, `to`, `after` (the previous page's
    `next_cursor`), `limit`."""
    q = request.query
    start, end = _when(q.get("from"), "from"), _when(q.get("to"), "to")
    if start and end and end <= start:
        raise error(400, "`to` must be after `from`")
    action = q.get("action") or None
    if action is not None and len(action) > 100:
        raise error(400, "action: at most 100 characters")
    after = q.get("after") or None
    if after is not None and len(after) > 60:
        raise error(400, "after: the `next_cursor` of the previous page")
    return AuditQuery(action=action, actor_id=None, start=start, end=end, after=after,
                      limit=limit or _int(q.get("limit"), "limit", 50, 1, MAX_PAGE))


async def _with_actor(request: web.Request, query: AuditQuery) -> AuditQuery:
    """Resolve `actor=<username>` (people filter by name; the trail is indexed by id)."""
    username = request.query.get("actor")
    if not username:
        return query
    found = await request.app[HUB].store.agents.find_one({"username": username.strip().lower()[:200]},
                                                         projection={"_id": 1})
    if found is None:
        raise error(400, f"no desk user {username[:60]!r}")
    return AuditQuery(query.action, found["_id"], query.start, query.end, query.after, query.limit)


async def _target_names(request: web.Request, entries: list[Doc]) -> dict[ObjectId, str]:
    """Today's readable names of the agents, tickets and contacts entries point at (an erased
    customer reads "customer (erased)": the trail itself keeps no customer's name)."""
    store = request.app[HUB].store
    wanted: dict[str, set[ObjectId]] = {"agent": set(), "ticket": set(), "contact": set()}
    for e in entries:
        target = e.get("target") or {}
        if isinstance(target, dict) and isinstance(target.get("id"), ObjectId) and target.get("type") in wanted:
            wanted[str(target["type"])].add(target["id"])
    names: dict[ObjectId, str] = {}
    for a in await store.agents.find({"_id": {"$in": list(wanted["agent"])}}, projection={"name": 1}).to_list():
        names[a["_id"]] = a.get("name") or ""
    for t in await store.tickets.find({"_id": {"$in": list(wanted["ticket"])}}, projection={"number": 1}).to_list():
        names[t["_id"]] = f"#{t['number']}"
    for c in await store.contacts.find({"_id": {"$in": list(wanted["contact"])}},
                                       projection={**DISPLAY_FIELDS, "erased_at": 1}).to_list():
        names[c["_id"]] = "(erased)" if c.get("erased_at") else display_name(c)  # as the desk names them
    return names


#: What a target is, in the desk's words (a kind not listed reads as its code, underscores as spaces).
TARGET_WORDS = {"agent": "user", "contact": "customer", "response": "canned response", "automation_rule": "rule",
                "calendar": "business hours", "setting": "setting", "article": "article"}


def _describe_target(target: object, names: dict[ObjectId, str]) -> str:
    if not isinstance(target, dict):
        return "" if target is None else str(target)
    kind = str(target.get("type", ""))
    kind = TARGET_WORDS.get(kind, kind.replace("_", " "))
    label = names.get(target.get("id")) or target.get("name") or ("(deleted)" if target.get("id") else "")
    return f"{kind} {label}".strip()


def _who(entry: Doc) -> str:
    actor = entry.get("actor") or {}
    if actor:
        return str(actor.get("name") or actor.get("username"))
    if (entry.get("details") or {}).get("via") == "cli":
        return "command line"
    return "anonymous" if entry.get("ip") else "system"


def _view(entry: Doc, names: dict[ObjectId, str]) -> dict[str, object]:
    actor = entry.get("actor") or {}
    return {
        "id": str(entry["_id"]), "at": entry["at"].isoformat(), "action": entry["action"],
        "actor": _who(entry), "actor_username": actor.get("username"),
        "target": _describe_target(entry.get("target"), names), "ip": entry.get("ip"),
        "details": jsonable(entry.get("details") or {}),
    }


async def _page(request: web.Request, query: AuditQuery) -> AuditPage:
    try:
        return await request.app[HUB].audit.page(query)
    except BadCursor as exc:
        raise error(400, str(exc)) from exc


@requires(Role.ADMIN)
async def list_audit(request: web.Request) -> web.Response:
    """Newest first: `action`, `actor` (username), `from`/`to` (ISO 8601; a date `to` is inclusive),
    `limit` (≤ 200), `after` (the previous page's `next_cursor`, for the older entries; none when it is null)."""
    query = await _with_actor(request, query_of(request))
    page = await _page(request, query)
    names = await _target_names(request, page.entries)
    return web.json_response({"entries": [_view(e, names) for e in page.entries], "next_cursor": page.next_cursor,
                              "limit": query.limit, "actions": list(KNOWN_ACTIONS), "action_words": ACTION_WORDS})


@requires(Role.ADMIN)
async def export_audit(request: web.Request) -> web.StreamResponse:
    """Every entry the filters match as a CSV file, newest first, streamed a page at a time (the server
    reads one page per round, the hub holds one); the export is itself recorded, with its row count."""
    query = await _with_actor(request, replace(query_of(request, limit=1), after=None))
    hub = request.app[HUB]
    response = web.StreamResponse(headers={"Content-Type": "text/csv; charset=utf-8",
                                           "Content-Disposition": 'attachment; filename="audit.csv"'})
    await response.prepare(request)
    rows, complete = 0, False
    try:
        await response.write(_csv_rows([["at", "action", "actor", "actor_username", "target", "ip", "details"]]))
        async for entries in hub.audit.walk(query, EXPORT_PAGE):
            names = await _target_names(request, entries)
            await response.write(_csv_rows([_csv_row(_view(e, names)) for e in entries]))
            rows += len(entries)
        await response.write_eof()
        complete = True
    finally:  # an export cut short (the admin's browser gone) is recorded too, with what it sent
        await hub.audit.record("audit.exported", actor=agent_of(request), ip=request.remote,
                               details={"rows": rows, **({} if complete else {"complete": False}),
                                        **{k: v for k, v in request.query.items()
                                           if k in ("action", "actor", "from", "to")}})
    return response


def _csv_row(v: dict[str, object]) -> list[str]:
    return [cell(v["at"]), cell(v["action"]), cell(v["actor"]), cell(v["actor_username"]),
            cell(v["target"]), cell(v["ip"]), cell(json.dumps(v["details"], ensure_ascii=False, sort_keys=True))]


def _csv_rows(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def routes() -> list[web.RouteDef]:
    return [web.get("/api/admin/audit", list_audit), web.get("/api/admin/audit.csv", export_audit)]

