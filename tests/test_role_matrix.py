"""Every route, WebSocket and page of the running app against every kind of caller.

The routes come from `app.router.routes()` of a hub with every HTTP channel enabled, so a new
route cannot escape: it is either gated by `requires` (its `roles` attribute says who may
call it) or listed in `PUBLIC` with the reason it needs no desk session, else the test fails.

Callers are rows of `PRINCIPALS`. A desk user is a session cookie plus the CSRF token; the
API-token work adds rows here (a bearer token with scopes and its own `allows` rule) and
the whole matrix runs for them too.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.accounts import has_role
from hub.models import Role
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import http_client, running

#: A syntactically valid id of nothing: allowed callers get past the gate to a 4xx about the object.
NOTHING = "0123456789abcdef01234567"
#: Values for path parameters that are not ids (a real static file, a configured bot name...).
PARAMS = {"tail": "messages", "name": "desk.js", "bot_name": "support", "number": "999999", "file": "nlu.yml"}
#: Sent to every unsafe route: allowed callers get a 400 before any handler changes anything.
BAD_BODY = ("application/json", b"{not json")
#: Twilio posts forms: a well-formed, unsigned one shows the signature gate rather than a parse error.
UNSIGNED_FORM = ("application/x-www-form-urlencoded", b"From=%2B14155550123&To=%2B14155550100&Body=hi")

# Public routes, with why they need no desk session and what any desk user or anonymous caller gets.
PAGE = "a page or asset: it holds no data, which only the gated API serves"
VISITOR = "widget: needs a visitor token (a desk session is not one)"
WEBHOOK = "provider webhook: needs the provider's signature or secret token"
PUBLIC: dict[tuple[str, str], tuple[str, set[int]]] = {
    ("GET", "/"): ("redirects to the desk page", {302}),
    ("GET", "/healthz"): ("liveness for load balancers: database up or down, nothing else", {200}),
    ("GET", "/api/openapi.json"): ("the API's description, generated from the routes", {200}),
    ("GET", "/desk"): (PAGE, {200}),
    ("GET", "/desk/static/{name}"): (PAGE, {200}),
    ("GET", "/widget.js"): (PAGE, {200}),
    ("GET", "/demo"): (PAGE, {200}),
    ("GET", "/static/vendor/plotly.min.js"): ("the charting library's public bundle (plotly package), no data", {200}),
    ("POST", "/api/auth/login"): ("how a session is obtained (JSON from our origin, rate limited)", {400}),
    ("POST", "/api/auth/login/code"): ("the login's code step: needs a right password's pending token "
                                       "(JSON from our origin, rate limited)", {400}),
    ("GET", "/api/widget/sites/{site}"): ("a site's title and pre-chat form fields, what its pages show anyone",
                                         {404}),
    ("POST", "/api/widget/session"): ("how a visitor token is obtained for a configured site", {400}),
    ("OPTIONS", "/api/widget/{tail}"): ("CORS preflight: says which sites' origins may call, holds no data", {204}),
    ("POST", "/api/widget/messages"): (VISITOR, {401}),
    ("GET", "/api/widget/messages"): (VISITOR, {401}),
    ("POST", "/api/widget/files"): (VISITOR, {401}),
    ("GET", "/api/widget/ws"): (VISITOR, {401}),
    ("GET", "/api/widget/attachments/{blob_id}"): (VISITOR, {401}),
    ("POST", "/api/widget/attachments/{blob_id}/link"): (VISITOR, {401}),
    ("POST", "/api/widget/rating"): (VISITOR, {401}),
    ("POST", "/api/widget/end"): (VISITOR, {401}),
    ("GET", "/help"): ("the public help center: published articles only", {200}),
    ("GET", "/help/search"): ("the public help center's search: published articles only", {200}),
    ("GET", "/help/{slug}"): ("a published article's public page (unknown or unpublished: 404)", {404}),
    ("POST", "/help/{slug}/feedback"): ("a reader's 'was this helpful?': a same-origin form, rate limited, "
                                        "counted once per visitor token", {400}),
    ("GET", "/csat/{token}"): ("an email rating link's page: needs a signed, expiring link; shows the form only, "
                               "records nothing", {404}),
    ("POST", "/csat/{token}"): ("an email rating link's form: needs the signed link, same-origin, one rating per "
                                "ticket", {404}),
    ("GET", "/desk/set-password"): ("the page a one-time password link opens; the token stays in the fragment",
                                    {200}),
    ("POST", "/api/password-links/check"): ("whether a one-time password link works: needs its random token",
                                            {400}),
    ("POST", "/api/password-links/use"): ("choose a password through a one-time link: needs its random token, once",
                                          {400}),
    ("GET", "/api/phone/media/{blob_id}"): ("MMS media for Twilio: needs a signed, expiring link", {403}),
    ("POST", "/webhooks/slack/events"): (WEBHOOK, {401}),
    ("POST", "/webhooks/telegram/{bot_name}"): (WEBHOOK, {401}),
    ("POST", "/webhooks/twilio/sms"): (WEBHOOK, {403}),
    ("POST", "/webhooks/twilio/sms/status"): (WEBHOOK, {403}),
    ("POST", "/webhooks/twilio/voice"): (WEBHOOK, {403}),
    ("POST", "/webhooks/twilio/voice/gather"): (WEBHOOK, {403}),
    ("POST", "/webhooks/twilio/voice/choice"): (WEBHOOK, {403}),
    ("POST", "/webhooks/twilio/voice/recorded"): (WEBHOOK, {403}),
    ("POST", "/webhooks/twilio/voice/recording"): (WEBHOOK, {403}),
    ("POST", "/webhooks/twilio/voice/transcription"): (WEBHOOK, {403}),
    ("POST", "/webhooks/twilio/voice/status"): (WEBHOOK, {403}),
}
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
#: Ends the caller's session: run last for each caller.
LOGOUT = ("POST", "/api/auth/logout")


@dataclass(frozen=True)
class Principal:
    """One kind of caller: how it authenticates and which gated routes it may call."""

    name: str
    #: Desk roles of a session user; None for a caller without a desk session.
    roles: tuple[Role, ...] | None
    #: Extra request headers (an API token row sets `Authorization` here).
    headers: dict[str, str] = field(default_factory=dict)
    #: Overrides the role rule (an API token row decides by scope instead).
    rule: Callable[[list[str]], bool] | None = None

    def allows(self, route_roles: list[str]) -> bool:
        """Whether a route gated on `route_roles` (empty: any desk user) must let this caller in."""
        if self.rule is not None:
            return self.rule(route_roles)
        if self.roles is None:
            return False
        return not route_roles or has_role({"roles": [r.value for r in self.roles]},
                                           *(Role(r) for r in route_roles))


PRINCIPALS = [
    Principal("anonymous", None),
    Principal("agent", (Role.AGENT,)),
    Principal("trainer", (Role.TRAINER,)),
    Principal("supervisor", (Role.SUPERVISOR,)),
    Principal("admin", (Role.ADMIN,)),
]


@dataclass
class Caller:
    principal: Principal
    http: aiohttp.ClientSession
    #: Headers for unsafe requests (the CSRF token of the session).
    unsafe_headers: dict[str, str]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Any

    @property
    def roles(self) -> list[str] | None:
        roles: list[str] | None = getattr(self.handler, "roles", None)
        return roles

    @property
    def websocket(self) -> bool:
        return "WebSocketResponse" in str(inspect.signature(inspect.unwrap(self.handler)).return_annotation)

    def url(self) -> str:
        parts = []
        for segment in self.path.split("/"):
            if segment.startswith("{"):
                segment = PARAMS.get(segment[1:-1], NOTHING)
            parts.append(segment)
        return "/".join(parts)


def app_routes(app: web.Application) -> list[Route]:
    """Every (method, path) the app answers, HEAD aside (aiohttp answers it with the GET handler)."""
    found = []
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        assert path and route.method in METHODS, f"unexpected route {route.method} {path}"
        found.append(Route(route.method, path, route.handler))
    return sorted(found, key=lambda r: ((r.method, r.path) == LOGOUT, r.path, r.method))


@pytest.fixture
async def all_channels(settings: Settings, shop_bot: Any) -> AsyncIterator[Runtime]:
    """A hub with every channel that has HTTP routes enabled (their providers are never called here)."""
    nowhere = "http://127.0.0.1:9"
    settings.channels["slack"] = {"enabled": True, "bot_token": "xoxb-1-2-matrix", "signing_secret": "matrix-secret",
                                  "api_base_url": f"{nowhere}/api/", "file_base_url": nowhere}
    settings.channels["telegram"] = {"enabled": True, "api_base_url": nowhere,
                                     "bots": {"support": {"token": "7000000001:AAmatrix", "secret_token": "matrix"}}}
    settings.channels["phone"] = {"account_sid": "AC" + "0" * 32, "auth_token": "f" * 32,
                                  "public_url": "https://support.example.com", "api_base_url": nowhere}
    async with running(settings, shop_bot) as rt:
        yield rt


async def callers(runtime: Runtime, base_url: str) -> list[Caller]:
    """One HTTP session per principal (its own cookie jar), logged in as a user with exactly its roles."""
    assert runtime.hub is not None
    made = []
    for principal in PRINCIPALS:
        http = aiohttp.ClientSession(base_url=base_url, cookie_jar=aiohttp.CookieJar(unsafe=True),
                                     headers=principal.headers)
        unsafe: dict[str, str] = {}
        if principal.roles is not None:
            password = f"{principal.name} password"
            await runtime.hub.accounts.create(f"matrix-{principal.name}", password, roles=list(principal.roles))
            resp = await http.post("/api/auth/login", json={"username": f"matrix-{principal.name}",
                                                            "password": password})
            assert resp.status == 200, await resp.text()
            unsafe = {"X-CSRF-Token": (await resp.json())["csrf"]}
        made.append(Caller(principal, http, unsafe))
    return made


async def call(caller: Caller, route: Route) -> int:
    """The status this caller gets; WebSockets are opened for real (the handshake's status)."""
    if route.websocket:
        try:
            async with caller.http.ws_connect(route.url()) as ws:
                if not route.path.startswith("/api/widget/"):
                    return 101
                # The widget socket authenticates with its first frame: anything else is refused (4401).
                await ws.send_json({"type": "message", "text": "hi", "client_id": "matrix-probe"})
                await ws.receive(timeout=10)
                return 401 if ws.close_code == 4401 else 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
    unsafe = route.method not in ("GET", "OPTIONS")
    content_type, body = UNSIGNED_FORM if route.path.startswith("/webhooks/twilio/") else BAD_BODY
    async with caller.http.request(
        route.method, route.url(), data=body if unsafe else None, allow_redirects=False,
        headers={"Content-Type": content_type, **caller.unsafe_headers} if unsafe else None,
    ) as resp:
        return resp.status


def expected(route: Route, principal: Principal) -> tuple[str, Callable[[int], bool]]:
    """What the caller must get, as a description and a check of the status."""
    public = PUBLIC.get((route.method, route.path))
    if public is not None:
        statuses = public[1]
        return f"one of {sorted(statuses)} ({public[0]})", lambda s: s in statuses
    assert route.roles is not None, (
        f"{route.method} {route.path} is neither gated by `requires` nor listed in PUBLIC with a reason")
    if principal.roles is None and principal.rule is None:
        return "401", lambda s: s == 401
    if principal.allows(route.roles):
        return "allowed (not 401/403, no 5xx)", lambda s: s not in (401, 403) and s < 500
    return "403", lambda s: s == 403


async def test_every_route_answers_each_caller_as_its_roles_say(all_channels: Runtime) -> None:
    assert all_channels.app is not None
    routes = app_routes(all_channels.app)
    assert {(r.method, r.path) for r in routes} >= set(PUBLIC), "PUBLIC lists a route the app no longer has"
    failures = []
    async with http_client(all_channels) as client:
        made = await callers(all_channels, str(client.make_url("")))
        try:
            for caller in made:
                for route in routes:
                    want, ok = expected(route, caller.principal)
                    status = await call(caller, route)
                    if not ok(status):
                        failures.append(f"{caller.principal.name}: {route.method} {route.path} -> {status}, "
                                        f"expected {want}")
        finally:
            for caller in made:
                await caller.http.close()
    assert not failures, "\n".join(failures)
    gated = [r for r in routes if r.roles is not None]
    assert len(gated) >= 40 and any(r.websocket for r in gated)


def test_the_matrix_reads_the_decorator_roles() -> None:
    """The matrix is only as good as the `roles` attribute: check it on a few known routes."""
    from agents_ui import attachments, desk, metrics, trainer

    assert desk.websocket.roles == []  # type: ignore[attr-defined]
    assert desk.get_ticket.roles == ["agent", "supervisor"]  # type: ignore[attr-defined]
    assert desk.assign.roles == ["agent", "supervisor"]  # type: ignore[attr-defined]
    assert attachments.download.roles == ["agent", "supervisor"]  # type: ignore[attr-defined]
    assert metrics.live.roles == ["supervisor"]  # type: ignore[attr-defined]
    assert trainer.train.roles == ["trainer"]  # type: ignore[attr-defined]
    from agents_ui import kb

    assert kb.create_article.roles == ["trainer"] and kb.links.roles == []  # type: ignore[attr-defined]
    # GET /metrics (Prometheus): supervisors' sessions, or an API token with the `metrics` scope.
    from switchboard import prometheus

    assert prometheus.metrics.roles == ["supervisor"]  # type: ignore[attr-defined]
    assert prometheus.metrics.scope == "metrics"  # type: ignore[attr-defined]
