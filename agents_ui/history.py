"""Supervisor history: `GET /api/metrics/history` (JSON) and `/api/metrics/history.csv` (one table as CSV)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from aiohttp import web

from agents_ui.appkeys import HUB
from agents_ui.auth import error, requires
from httpkit.csvcells import cell
from httpkit.query import iso_time
from hub.history import FILTERS, HistoryError
from hub.models import Role, utcnow

TABLES = ("series", "agents", "totals")


async def _history(request: web.Request) -> dict[str, Any]:
    now = utcnow()
    filters = {name: request.query.get(name) for name in FILTERS}
    try:
        end = iso_time(request.query.get("to"), "to") or now
        start = iso_time(request.query.get("from"), "from") or end - timedelta(days=1)
        return await request.app[HUB].history.query(start, end, request.query.get("bucket") or None, filters)
    except HistoryError as exc:
        raise error(400, str(exc)) from exc
    except OverflowError as exc:  # a range at the ends of the calendar (year 1 or 9999)
        raise error(400, "from/to: out of range") from exc


@requires(Role.SUPERVISOR, scope="metrics")
async def history(request: web.Request) -> web.Response:
    """Volume, response and resolution percentiles, service level, abandonment, bot and CSAT figures over
    any range (at most 366 days), by hour or day, filtered by queue, channel, agent, intent and tag."""
    return web.json_response(await _history(request))


@requires(Role.SUPERVISOR, scope="metrics")
async def history_csv(request: web.Request) -> web.Response:
    """One table of the history (`table=series|agents|totals`) as a CSV file, with the same filters."""
    table = request.query.get("table", "series")
    if table not in TABLES:
        raise error(400, f"table must be one of {', '.join(TABLES)}")
    data = await _history(request)
    out = io.StringIO()
    writer = csv.writer(out)
    if table == "totals":
        flat: dict[str, Any] = {}
        for name, value in data["totals"].items():
            if isinstance(value, dict):
                flat.update({f"{name}.{k}": v for k, v in value.items()})
            else:
                flat[name] = value
        writer.writerow(["metric", "value"])
        for name, value in flat.items():
            writer.writerow([cell(name), cell(value)])
    else:
        rows: list[dict[str, Any]] = data[table]
        header = list(rows[0]) if rows else (["t"] if table == "series" else ["agent", "name", "handled"])
        writer.writerow(header)
        for row in rows:
            writer.writerow([cell(row.get(name)) for name in header])
    name = f"history-{table}-{data['from'][:10]}-{data['to'][:10]}.csv"
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


def routes() -> list[web.RouteDef]:
    return [web.get("/api/metrics/history", history), web.get("/api/metrics/history.csv", history_csv)]
