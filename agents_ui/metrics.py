"""Supervisor metrics: live queue state, a report for any window, a daily trend."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from agents_ui.appkeys import HUB
from agents_ui.auth import error, requires
from httpkit.query import iso_time
from hub.models import Role, utcnow


@requires(Role.SUPERVISOR, scope="metrics")
async def live(request: web.Request) -> web.Response:
    """Queue depth, longest wait and agent occupancy right now."""
    return web.json_response(await request.app[HUB].metrics.live())


@requires(Role.SUPERVISOR, scope="metrics")
async def report(request: web.Request) -> web.Response:
    """ASA, service level, abandonment, first response, resolution, CSAT and bot containment for [from, to)."""
    now = utcnow()
    start = iso_time(request.query.get("from"), "from") or now - timedelta(days=1)
    end = iso_time(request.query.get("to"), "to") or now
    if end <= start:
        raise error(400, "`to` must be after `from`")
    if end - start > timedelta(days=366):
        raise error(400, "windows longer than a year are not served")
    return web.json_response(await request.app[HUB].metrics.window(start, end))


@requires(Role.SUPERVISOR, scope="metrics")
async def daily(request: web.Request) -> web.Response:
    """One row a day for the last `days` days (default 7, at most 90)."""
    try:
        days = int(request.query.get("days", "7"))
    except ValueError as exc:
        raise error(400, "days must be a number") from exc
    if not 1 <= days <= 90:
        raise error(400, "days must be between 1 and 90")
    return web.json_response({"days": await request.app[HUB].metrics.daily(days)})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/metrics/live", live),
        web.get("/api/metrics/report", report),
        web.get("/api/metrics/daily", daily),
    ]
