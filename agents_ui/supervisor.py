"""Supervisor page helpers: tickets about to breach SLA, and the choices the history filters offer."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from agents_ui.appkeys import HUB
from agents_ui.auth import error, requires
from hub.models import Role
from hub.slawatch import at_risk


@requires(Role.SUPERVISOR, scope="metrics")
async def tickets_at_risk(request: web.Request) -> web.Response:
    """Active tickets whose SLA clock falls due within `minutes` (default 15, 1-1440), most overdue first."""
    try:
        minutes = int(request.query.get("minutes", "15"))
        limit = int(request.query.get("limit", "20"))
    except ValueError as exc:
        raise error(400, "minutes and limit must be whole numbers") from exc
    if not 1 <= minutes <= 1440:
        raise error(400, "minutes must be between 1 and 1440")
    if not 1 <= limit <= 100:
        raise error(400, "limit must be between 1 and 100")
    tickets = await at_risk(request.app[HUB].store, horizon=timedelta(minutes=minutes), limit=limit)
    return web.json_response({"minutes": minutes, "tickets": tickets})


@requires(Role.SUPERVISOR, scope="metrics")
async def filter_options(request: web.Request) -> web.Response:
    """What the history page's filters can pick: queues (with their service-level target), channels, agents
    (by name), intents."""
    hub = request.app[HUB]
    configured = hub.tickets.queues
    queues = [{"value": name, "label": q.title or name, "answer_target_seconds": q.answer_target_seconds,
               "service_level_goal": q.service_level_goal} for name, q in sorted(configured.items())]
    agents = [{"value": a["username"], "label": a.get("name") or a["username"]}
              for a in await hub.accounts.list() if "agent" in a.get("roles", [])]
    intents = [{"value": i["name"], "label": i["name"]}
               for i in await hub.store.intents.find({}, projection={"name": 1}, sort=[("name", 1)]).to_list()]
    channels = [{"value": c, "label": c} for c in sorted(set(hub.outbox.senders) | {"widget"})]
    return web.json_response({"queues": queues, "channels": channels, "agents": agents, "intents": intents})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/metrics/at-risk", tickets_at_risk),
        web.get("/api/metrics/filters", filter_options),
    ]
