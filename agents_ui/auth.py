"""Desk authentication at the HTTP edge: session cookie, CSRF check, role gates.

Sessions are server-side (the cookie carries only a random token). Every unsafe
request must echo the session's CSRF token in `X-CSRF-Token`; the login call,
which has no session yet, must be JSON from our own origin.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from aiohttp import web

from agents_ui.appkeys import HUB, PUBLIC_ORIGIN
from hub.accounts import AccountService, SessionInfo, has_role
from hub.models import Role

COOKIE = "sb_session"
SESSION_KEY = web.RequestKey("sb_session_info", SessionInfo)
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, reason: str) -> web.HTTPException:
    if status == 413:  # its constructor wants sizes; the reason says them
        return web.HTTPRequestEntityTooLarge(max_size=0, actual_size=0, text=json.dumps({"error": reason}),
                                             content_type="application/json")
    classes: dict[int, type[web.HTTPException]] = {
        400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 403: web.HTTPForbidden, 404: web.HTTPNotFound,
        409: web.HTTPConflict, 422: web.HTTPUnprocessableEntity, 429: web.HTTPTooManyRequests,
    }
    return classes[status](text=json.dumps({"error": reason}), content_type="application/json")


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong with it."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(400, f"malformed JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise error(400, "expected a JSON object")
    return body


def same_origin(request: web.Request) -> bool:
    """The browser's Origin is the hub's: its configured public URL, or what this request was sent to.

    Behind a TLS proxy the request itself looks like plain http unless the proxy is trusted
    (`switchboard.proxies`), so the public URL is what makes the check pass there.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return origin in (request.app.get(PUBLIC_ORIGIN) or None, f"{request.scheme}://{request.host}")


def requires(*roles: Role) -> Callable[[Handler], Handler]:
    """Gate a handler on a live session (and, for unsafe methods, the CSRF token) and a role."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            accounts: AccountService = request.app[HUB].accounts
            info = await accounts.session(request.cookies.get(COOKIE, ""))
            if info is None:
                raise error(401, "login required")
            if request.method in UNSAFE:
                if request.headers.get("X-CSRF-Token") != info.csrf or not same_origin(request):
                    raise error(403, "CSRF token missing or wrong")
            if roles and not has_role(info.agent, *roles):
                raise error(403, "your role does not allow this")
            request[SESSION_KEY] = info
            return await handler(request)

        wrapper.__dict__["roles"] = [r.value for r in roles]
        return wrapper

    return decorate


def session_of(request: web.Request) -> SessionInfo:
    info: SessionInfo = request[SESSION_KEY]
    return info


def agent_of(request: web.Request) -> dict[str, Any]:
    return session_of(request).agent


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """`Secure` whenever browsers reach the hub over https (public URL or a trusted proxy says so)."""
    secure = request.secure or request.app.get(PUBLIC_ORIGIN, "").startswith("https://")
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=secure, path="/",
                        max_age=7 * 86400)
