"""The aiohttp application: health, OpenAPI, error translation, security headers."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from yarl import URL

from agents_ui.appkeys import EXTRAS, HUB, PUBLIC_ORIGIN
from httpkit.bodies import MAX_DEPTH, request_model
from hub.hub import Hub
from hub.store import PyMongoError
from switchboard.database_supervisor import DatabaseSupervisor
from switchboard.proxies import TrustedProxies, UntrustedForwarding

log = logging.getLogger(__name__)
REF_TEMPLATE = "#/components/schemas/{model}"

#: Set by the composition root when it runs the embedded database (absent with MONGODB_URI).
DATABASE_SUPERVISOR = web.AppKey("database_supervisor", DatabaseSupervisor)


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Database outages become 503 + Retry-After, other surprises a JSON 500; HTTP errors pass through
    (under /api/ always as `{"error": reason}`)."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json" and request.path.startswith("/api/"):
            return _as_json(exc)  # aiohttp's own (no route, wrong method, not a WebSocket) keep the one shape
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


def _as_json(exc: web.HTTPException) -> web.Response:
    reason = (exc.text or exc.reason or "").strip()
    reason = reason.removeprefix(f"{exc.status}:").strip() or exc.reason
    headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
    return web.json_response({"error": reason}, status=exc.status, headers=headers)


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


ERROR_SCHEMA = {"type": "object", "required": ["error"], "additionalProperties": False,
                "properties": {"error": {"type": "string", "description": "what was wrong, naming the field"}}}


def openapi_document(app: web.Application) -> dict[str, Any]:
    """OpenAPI 3.1 generated from the live router, so no REST route goes undocumented; each request
    body's schema is the pydantic model its handler validates with (`httpkit.bodies.accepts`)."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    error_response = {"description": "Client error: {\"error\": reason}",
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if not path or not (path.startswith("/api/") or path == "/healthz") or route.method in ("HEAD", "OPTIONS"):
            continue
        doc = (route.handler.__doc__ or "").strip().splitlines()
        op: dict[str, Any] = {
            "summary": doc[0] if doc else path,
            "operationId": f"{route.method.lower()}{path}",
            "tags": [path.split("/")[2] if path.startswith("/api/") else "health"],
            "responses": {"2XX": {"description": "OK"}, "4XX": error_response},
        }
        roles = getattr(route.handler, "roles", None)
        if roles is not None:
            op["security"] = [{"session": []}]
            op["x-roles"] = roles
            scope = getattr(route.handler, "scope", None)
            if scope is not None:
                op["security"].append({"apiToken": []})
                op["x-scope"] = scope
        params = [seg[1:-1].split(":")[0] for seg in path.split("/") if seg.startswith("{")]
        if params:
            op["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                                for p in params]
        model = request_model(route.handler)
        if model is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": _component(model, schemas)}}}
            op["responses"]["400"] = {**error_response, "description": "Malformed, non-object or too deeply "
                                      f"nested JSON (more than {MAX_DEPTH} levels)"}
            op["responses"]["413"] = {**error_response, "description": "Body too large"}
            op["responses"]["422"] = {**error_response, "description": "The body does not match its schema"}
        paths.setdefault(path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchboard", "version": "0.1.0"},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "sb_session"},
            "apiToken": {"type": "http", "scheme": "bearer", "description": "An API token (sbt_…); see x-scope"}}},
    }


def _component(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    """Put `model` (and the models it uses) into `components/schemas`; return a reference to it."""
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    for name, definition in {**schema.pop("$defs", {}), model.__name__: schema}.items():
        if schemas.setdefault(name, definition) != definition:
            raise ValueError(f"two request body schemas are named {name!r}: rename one model")
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


async def openapi(request: web.Request) -> web.Response:
    """This document."""
    return web.Response(text=json.dumps(openapi_document(request.app)), content_type="application/json")


async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/desk")


def build_app(hub: Hub, routes: list[web.RouteDef], client_max_size: int = 25 * 1024 * 1024, *,
              public_url: str = "", trusted_proxies: list[str] | None = None,
              observe: Any | None = None) -> web.Application:
    """The app; `public_url` is the origin browsers use, `trusted_proxies` whose X-Forwarded-* to believe,
    `observe` an outermost middleware that sees every request and its final status (Prometheus)."""
    middlewares: list[Any] = [errors, security_headers]
    if trusted_proxies:
        middlewares.insert(0, TrustedProxies(trusted_proxies).middleware)  # first: everything sees the rewrite
    else:
        middlewares.insert(0, UntrustedForwarding().middleware)
    if observe is not None:
        middlewares.insert(0, observe)
    app = web.Application(middlewares=middlewares, client_max_size=client_max_size)
    app[HUB] = hub
    app[PUBLIC_ORIGIN] = str(URL(public_url).origin()) if public_url else ""
    app[EXTRAS] = {}
    app.add_routes([web.get("/", root), web.get("/healthz", healthz), web.get("/api/openapi.json", openapi)])
    app.add_routes(routes)
    return app
