"""Queues and routing in the desk: admins list, create, change and delete queues (hub.queuebook).

A queue's name is its slug and never changes; everything else is edited here: title, members
(the agents' own queue lists), routing mode, auto-transfer, targets, SLA, calendar, the fallback
queue for when nobody serving it is online, and what the customer is told on escalation. Every
change is on the audit trail (`queue.created`, `queue.updated`, `queue.deleted`) with the queue
before and after. A rule the domain checks (an unknown fallback or calendar, a fallback to itself,
a queue with open tickets) is refused with 400 and the reason; a body of the wrong shape with 422.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field

from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, body_of
from httpkit.fields import Body, Count, Name, Text, Token, Username
from hub.models import Role
from hub.queuebook import QueueError, QueueNotFound

Seconds = Annotated[int, Field(strict=True, ge=1, le=366 * 86400)]
Share = Annotated[float, Field(ge=0.01, le=1.0)]
Slug = Annotated[str, Field(strict=True, pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]


class QueueFields(Body):
    """A queue's editable fields; a field left out keeps its value."""

    title: Name | None = None
    members: Annotated[list[Username], Field(max_length=500)] | None = Field(
        None, description="usernames of the agents serving this queue")
    routing: Literal["manual", "least_busy"] | None = Field(
        None, description="manual: agents pull; least_busy: auto-assign to the online member with most free capacity")
    auto_transfer_seconds: Count | None = Field(
        None, description="least_busy: an assigned agent who has not answered this long loses the ticket (0: never)")
    max_per_agent: Count | None = Field(
        None, description="least_busy: at most this many active tickets of this queue per agent (0: their capacity)")
    answer_target_seconds: Seconds | None = None
    service_level_goal: Share | None = Field(None, description="share of tickets answered within the target")
    first_response_sla_seconds: Seconds | None = None
    resolution_sla_seconds: Seconds | None = None
    sla_warning_ratio: Annotated[float, Field(gt=0, lt=1)] | None = None
    sla_warning_seconds: Count | None = None
    calendar: Token | None = Field(None, description="business-hours calendar name; empty: 24/7")
    fallback_queue: Token | None = Field(None, description="used when no member is online; empty: none")
    escalation_message: Text | None = Field(None, description="what the customer is told on escalation")
    on_transfer_message: Text | None = None
    on_reply_after_close: Literal["reopen", "new"] | None = None


class NewQueue(QueueFields):
    name: Slug


def _values(body: QueueFields) -> dict[str, Any]:
    return {k: v for k, v in body.model_dump(exclude={"name"}).items() if v is not None}


def _audit_view(view: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if view is None else {k: v for k, v in view.items() if k not in ("open_tickets", "all_queue_agents")}


async def _record(request: web.Request, action: str, name: str, before: Any, after: Any) -> None:
    await request.app[HUB].audit.record(action, actor=agent_of(request), ip=request.remote,
                                        target={"type": "queue", "id": name, "name": name},
                                        details={"before": _audit_view(before), "after": _audit_view(after)})


@requires(Role.ADMIN)
async def list_queues(request: web.Request) -> web.Response:
    """Every queue with its members, open tickets, and the calendars and agents to choose from."""
    hub = request.app[HUB]
    agents = await hub.store.agents.find({"roles": Role.AGENT.value, "disabled": {"$ne": True}},
                                         projection={"username": 1, "name": 1}).to_list()
    return web.json_response({
        "queues": await hub.queuebook.list(),
        "default_queue": hub.tickets.default_queue,
        "calendars": [c["_id"] for c in await hub.tickets.calendars.list()],
        "agents": sorted(({"username": a["username"], "name": a.get("name") or a["username"]} for a in agents),
                         key=lambda a: a["username"]),
    })


@requires(Role.ADMIN)
@accepts(NewQueue)
async def create_queue(request: web.Request) -> web.Response:
    body = body_of(request, NewQueue)
    try:
        _, after = await request.app[HUB].queuebook.save(body.name, _values(body), create=True)
    except QueueError as exc:
        raise error(400, str(exc)) from exc
    await _record(request, "queue.created", body.name, None, after)
    return web.json_response({"queue": after}, status=201)


@requires(Role.ADMIN)
@accepts(QueueFields)
async def update_queue(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    try:
        before, after = await request.app[HUB].queuebook.save(name, _values(body_of(request, QueueFields)),
                                                              create=False)
    except QueueNotFound as exc:
        raise error(404, str(exc)) from exc
    except QueueError as exc:
        raise error(400, str(exc)) from exc
    await _record(request, "queue.updated", name, before, after)
    await request.app[HUB].router.route_queue(name)  # now auto-assigned, or new members: the waiting tickets go
    return web.json_response({"queue": after})


@requires(Role.ADMIN)
async def delete_queue(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    try:
        before = await request.app[HUB].queuebook.delete(name)
    except QueueNotFound as exc:
        raise error(404, str(exc)) from exc
    except QueueError as exc:
        raise error(409, str(exc)) from exc
    await _record(request, "queue.deleted", name, before, None)
    return web.json_response({"ok": True})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/admin/queues", list_queues),
        web.post("/api/admin/queues", create_queue),
        web.patch("/api/admin/queues/{name}", update_queue),
        web.delete("/api/admin/queues/{name}", delete_queue),
    ]
