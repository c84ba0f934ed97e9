"""Desk authentication at the HTTP edge: session cookie, CSRF check, role gates.

Sessions are server-side (the cookie carries only a random token). Every unsafe
request must echo the session's CSRF token in `X-CSRF-Token`; the login call,
which has no session yet, must be JSON from our own origin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from aiohttp import web

from agents_ui.appkeys import HUB
from httpkit.bodies import read_object
from httpkit.errors import error
from hub.accounts import AccountService, SessionInfo, has_role
from hub.models import Role

COOKIE = "sb_session"
SESSION_KEY = web.RequestKey("sb_session_info", SessionInfo)
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

__all__ = ["COOKIE", "SESSION_KEY", "agent_of", "error", "json_body", "requires", "same_origin", "session_of",
           "set_session_cookie"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object without a schema (size- and depth-limited), or a 4xx saying why not.
    Prefer `httpkit.bodies.accepts(Model)`: it validates and documents the body."""
    return await read_object(request)


def same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return origin == f"{request.scheme}://{request.host}"


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
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=request.secure, path="/",
                        max_age=7 * 86400)
