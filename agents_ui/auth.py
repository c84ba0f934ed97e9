"""Desk authentication at the HTTP edge: session cookie, CSRF check, role gates, API tokens.

Sessions are server-side (the cookie carries only a random token). Every unsafe
request must echo the session's CSRF token in `X-CSRF-Token`; the login call,
which has no session yet, must be JSON from our own origin.

An `Authorization: Bearer sbt_…` API token (hub.apitokens) is accepted instead only by
routes that name a `scope`; it needs no CSRF token (a browser never attaches it on its
own) and it is never taken on pages or the desk WebSocket, which name no scope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from aiohttp import web

from agents_ui.appkeys import HUB, PUBLIC_ORIGIN
from httpkit.bodies import read_object
from httpkit.errors import error
from hub.accounts import AccountService, SessionInfo, has_role
from hub.apitokens import SCOPES, ApiTokenService, TokenPrincipal
from hub.models import Role

COOKIE = "sb_session"
SESSION_KEY = web.RequestKey("sb_session_info", SessionInfo)
TOKEN_KEY = web.RequestKey("sb_api_token", TokenPrincipal)
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

__all__ = ["COOKIE", "SESSION_KEY", "agent_of", "error", "json_body", "requires", "same_origin", "session_of",
           "set_session_cookie"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object without a schema (size- and depth-limited), or a 4xx saying why not.
    Prefer `httpkit.bodies.accepts(Model)`: it validates and documents the body."""
    return await read_object(request)


def same_origin(request: web.Request) -> bool:
    """The browser's Origin is the hub's: its configured public URL, or what this request was sent to.

    Behind a TLS proxy the request itself looks like plain http unless the proxy is trusted
    (`switchboard.proxies`), so the public URL is what makes the check pass there.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return origin in (request.app.get(PUBLIC_ORIGIN) or None, f"{request.scheme}://{request.host}")


def requires(*roles: Role, scope: str | None = None, enrolling: bool = False) -> Callable[[Handler], Handler]:
    """Gate a handler on a live session (and, for unsafe methods, the CSRF token) and a role.

    `scope`: the API token scope that also opens this route (None: sessions only). A
    personal token must hold the scope *and* its user the role; a service token the scope.
    `enrolling`: open to a user whose role requires two-factor sign-in before they have enrolled
    (hub.totp); every other route answers them 403 "two-factor enrolment required".
    """
    if scope is not None and scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            bearer = _bearer(request)
            if bearer is not None:
                request[SESSION_KEY] = await _token_session(request, bearer, roles, scope)
                return await handler(request)
            accounts: AccountService = request.app[HUB].accounts
            info = await accounts.session(request.cookies.get(COOKIE, ""))
            if info is None:
                raise error(401, "login required")
            if request.method in UNSAFE:
                if request.headers.get("X-CSRF-Token") != info.csrf or not same_origin(request):
                    raise error(403, "CSRF token missing or wrong")
            if not enrolling and await request.app[HUB].totp.enrolment_required(info.agent):
                raise error(403, "two-factor enrolment required")
            if roles and not has_role(info.agent, *roles):
                raise error(403, "your role does not allow this")
            request[SESSION_KEY] = info
            return await handler(request)

        wrapper.__dict__["roles"] = [r.value for r in roles]
        wrapper.__dict__["scope"] = scope
        return wrapper

    return decorate


def _bearer(request: web.Request) -> str | None:
    """The bearer credential, if any. Other schemes (a proxy's Basic auth) are left to the proxy."""
    kind, _, value = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() != "bearer":
        return None
    if not value.strip():
        raise error(401, "Authorization: Bearer needs an API token")
    return value.strip()


async def _token_session(request: web.Request, bearer: str, roles: tuple[Role, ...],
                         scope: str | None) -> SessionInfo:
    """Check an API token against the route's scope (and the owner's roles); a session without CSRF."""
    tokens: ApiTokenService = request.app[HUB].apitokens
    principal = await tokens.authenticate(bearer)
    if principal is None:
        raise error(401, "API token unknown, revoked or expired")
    if scope is None:
        raise error(403, "this route does not accept API tokens")
    if scope not in principal.scopes:
        raise error(403, f"this API token lacks the scope {scope!r}")
    if principal.agent is not None and roles and not has_role(principal.agent, *roles):
        raise error(403, "the token owner's role does not allow this")
    request[TOKEN_KEY] = principal
    return SessionInfo("", "", principal.acting_as)


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
