"""Webhook endpoint routes (admins only): register (the secret is in this one answer), list, remove, deliveries."""

from __future__ import annotations

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, fields_of
from hub.models import Role
from hub.store import ObjectId, oid
from hub.webhooks import EVENTS, WebhookError, Webhooks, delivery_view, webhook_view


def _webhooks(request: web.Request) -> Webhooks:
    webhooks: Webhooks = request.app[HUB].webhooks
    return webhooks


def _id(request: web.Request) -> ObjectId:
    try:
        return oid(request.match_info["id"])
    except ValueError as exc:
        raise error(404, str(exc)) from exc


@requires(Role.ADMIN)
async def list_webhooks(request: web.Request) -> web.Response:
    """Registered webhook endpoints (without their secrets) and the events they can subscribe to."""
    return web.json_response({"webhooks": [webhook_view(w) for w in await _webhooks(request).list()],
                              "events": list(EVENTS)})


@requires(Role.ADMIN)
@accepts(schemas.NewWebhook)
async def create_webhook(request: web.Request) -> web.Response:
    """Register an endpoint (`url`, `events`, optional `description`); the answer shows its signing secret once."""
    body = fields_of(request)
    try:
        doc = await _webhooks(request).register(body.get("url"), body.get("events"), agent_of(request),
                                                body.get("description", ""))
    except WebhookError as exc:
        raise error(400, str(exc)) from exc
    return web.json_response({"webhook": webhook_view(doc, with_secret=True)}, status=201)


@requires(Role.ADMIN)
async def delete_webhook(request: web.Request) -> web.Response:
    """Remove an endpoint: nothing more is sent to it (its delivery log stays)."""
    if not await _webhooks(request).remove(_id(request)):
        raise error(404, "no such webhook")
    return web.json_response({"ok": True})


@requires(Role.ADMIN)
async def list_deliveries(request: web.Request) -> web.Response:
    """Every delivery attempt to an endpoint, newest first: event, attempt, HTTP status, error."""
    webhook_id = _id(request)
    if await request.app[HUB].store.webhooks.find_one({"_id": webhook_id}, projection={"_id": 1}) is None:
        raise error(404, "no such webhook")
    return web.json_response({"deliveries": [delivery_view(d) for d in
                                             await _webhooks(request).deliveries(webhook_id)]})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/webhooks", list_webhooks),
        web.post("/api/webhooks", create_webhook),
        web.delete("/api/webhooks/{id}", delete_webhook),
        web.get("/api/webhooks/{id}/deliveries", list_deliveries),
    ]
