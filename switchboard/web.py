"""The aiohttp application: health, OpenAPI, error translation, security headers."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from agents_ui.appkeys import EXTRAS, HUB
from hub.hub import Hub
from hub.store import PyMongoError
from switchboard.database_supervisor import DatabaseSupervisor

log = logging.getLogger(__name__)

#: Set by the composition root when it runs the embedded database (absent with MONGODB_URI).
DATABASE_SUPERVISOR = web.AppKey("database_supervisor", DatabaseSupervisor)

_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/auth/login"): {"username": "string", "password": "string"},
    ("POST", "/api/tickets/{id}/reply"): {"text": "string", "private": "boolean", "conversation_id": "string",
                                          "status": "string", "attachments": "array"},
    ("POST", "/api/tickets/{id}/status"): {"status": "string"},
    ("POST", "/api/tickets/{id}/assign"): {"agent_id": "string"},
    ("POST", "/api/agents"): {"username": "string", "password": "string", "name": "string",
                              "roles": "array", "capacity": "integer"},
    ("POST", "/api/widget/session"): {"site": "string", "token": "string", "user_id": "string",
                                      "user_hash": "string", "name": "string", "email": "string"},
    ("POST", "/api/widget/messages"): {"text": "string", "client_id": "string"},
    ("POST", "/api/widget/rating"): {"message_id": "string", "score": "integer", "comment": "string"},
    ("POST", "/api/me/password"): {"current": "string", "new": "string"},
    ("POST", "/api/me/status"): {"status": "string"},
    ("POST", "/api/responses"): {"shortcut": "string", "title": "string", "text": "string"},
    ("PUT", "/api/responses/{id}"): {"shortcut": "string", "title": "string", "text": "string"},
    ("POST", "/api/trainer/intents"): {"name": "string", "examples": "array", "answers": "array", "queue": "string",
                                       "label": "string"},
    ("PUT", "/api/trainer/intents/{name}"): {"examples": "array", "answers": "array", "queue": "string",
                                             "label": "string"},
    ("POST", "/api/trainer/train"): {"version": "integer"},
    ("POST", "/api/trainer/evaluate"): {"version": "integer"},
    ("POST", "/api/trainer/try"): {"text": "string", "channel": "string"},
    ("POST", "/api/trainer/inbox/{id}/label"): {"intent": "string", "out_of_scope": "boolean"},
    ("POST", "/api/trainer/import"): {"nlu": "string", "domain": "string", "policy": "string", "message": "string"},
}


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Database outages become 503 + Retry-After, other surprises a JSON 500; HTTP errors pass through."""
    try:
        response = await handler(request)
    except web.HTTPException:
        raise
    except PyMongoError as exc:
        # Nothing was acknowledged: the client (or provider) retries and the unique keys dedupe.
        log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
        return web.json_response({"error": "database unavailable, retry later"}, status=503,
                                 headers={"Retry-After": "5"})
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "internal error"}, status=500)
    return response


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith("/desk"):
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'",
        )
    return response


async def healthz(request: web.Request) -> web.Response:
    """Liveness and database status: ok, restarting (attempt, since) or down; 503 unless ok."""
    supervisor = request.app.get(DATABASE_SUPERVISOR)
    if supervisor is not None and supervisor.status.state != "ok":
        status = supervisor.status
        return web.json_response({"status": "degraded" if status.state == "restarting" else "down",
                                  **status.as_json()}, status=503)
    hub: Hub = request.app[HUB]
    db_ok = await hub.store.ping()
    return web.json_response({"status": "ok" if db_ok else "degraded", "database": "ok" if db_ok else "down"},
                             status=200 if db_ok else 503)


def openapi_document(app: web.Application) -> dict[str, Any]:
    """OpenAPI 3.1 generated from the live router, so no REST route goes undocumented."""
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if not path or not (path.startswith("/api/") or path == "/healthz") or route.method in ("HEAD", "OPTIONS"):
            continue
        doc = (route.handler.__doc__ or "").strip().splitlines()
        op: dict[str, Any] = {
            "summary": doc[0] if doc else path,
            "tags": [path.split("/")[2] if path.startswith("/api/") else "health"],
            "responses": {"200": {"description": "OK"}, "4XX": {"description": "Client error: {\"error\": reason}"}},
        }
        roles = getattr(route.handler, "roles", None)
        if roles is not None:
            op["security"] = [{"session": []}]
            op["x-roles"] = roles
        params = [seg[1:-1] for seg in path.split("/") if seg.startswith("{")]
        if params:
            op["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                                for p in params]
        body = _BODIES.get((route.method, path))
        if body:
            op["requestBody"] = {"content": {"application/json": {"schema": {
                "type": "object", "properties": {k: {"type": v} for k, v in body.items()}}}}}
        paths.setdefault(path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchboard", "version": "0.1.0"},
        "paths": dict(sorted(paths.items())),
        "components": {"securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "sb_session"}}},
    }


async def openapi(request: web.Request) -> web.Response:
    """This document."""
    return web.Response(text=json.dumps(openapi_document(request.app)), content_type="application/json")


async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/desk")


def build_app(hub: Hub, routes: list[web.RouteDef], client_max_size: int = 25 * 1024 * 1024) -> web.Application:
    app = web.Application(middlewares=[errors, security_headers], client_max_size=client_max_size)
    app[HUB] = hub
    app[EXTRAS] = {}
    app.add_routes([web.get("/", root), web.get("/healthz", healthz), web.get("/api/openapi.json", openapi)])
    app.add_routes(routes)
    return app
