"""API token routes: create (the plain token is in this one answer only), list, revoke.

Tokens are managed with a desk session only (no route here names a scope), so a token
can never mint or revoke tokens.
"""

from __future__ import annotations

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, fields_of
from hub.accounts import has_role
from hub.apitokens import SCOPES, ApiTokenService, TokenError, allowed_scopes, token_view
from hub.models import Role
from hub.store import oid


def _tokens(request: web.Request) -> ApiTokenService:
    tokens: ApiTokenService = request.app[HUB].apitokens
    return tokens


@requires()
async def list_tokens(request: web.Request) -> web.Response:
    """Your API tokens (admins: every token, personal and service), newest first; the scopes you may grant."""
    me = agent_of(request)
    is_admin = has_role(me, Role.ADMIN)
    docs = await _tokens(request).list(None if is_admin else me["_id"])
    owner_ids = list({d["owner_id"] for d in docs if d.get("owner_id") is not None})
    names = {a["_id"]: a.get("name") or a["username"] for a in await request.app[HUB].store.agents.find(
        {"_id": {"$in": owner_ids}}, projection={"name": 1, "username": 1}).to_list()}
    return web.json_response({"tokens": [token_view(d, names.get(d.get("owner_id"))) for d in docs],
                              "scopes": list(SCOPES), "my_scopes": sorted(allowed_scopes(me))})


@requires()
@accepts(schemas.NewToken)
async def create_token(request: web.Request) -> web.Response:
    """Create a personal token (`name`, `scopes`, optional `expires_in_days`); admins: `service: true`.

    The answer holds the token itself, once: only its SHA-256 is stored.
    """
    body = fields_of(request)
    me = agent_of(request)
    service = body.get("service", False)
    if not isinstance(service, bool):
        raise error(400, "service must be true or false")
    if service and not has_role(me, Role.ADMIN):
        raise error(403, "only admins create service tokens")
    try:
        plain, doc = await _tokens(request).create(body.get("name"), body.get("scopes"),
                                                   owner=None if service else me, created_by=me,
                                                   expires_in_days=body.get("expires_in_days"))
    except TokenError as exc:
        status = 403 if "roles do not allow" in str(exc) else 400
        raise error(status, str(exc)) from exc
    view = token_view(doc, None if service else me.get("name"))
    return web.json_response({"token": view, "secret": plain}, status=201)


@requires()
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke one of your tokens (admins: any token); it stops working at once."""
    me = agent_of(request)
    try:
        token_id = oid(request.match_info["id"])
    except ValueError as exc:
        raise error(404, str(exc)) from exc
    tokens = _tokens(request)
    doc = await tokens.get(token_id)
    if doc is None or (doc.get("owner_id") != me["_id"] and not has_role(me, Role.ADMIN)):
        raise error(404, "no such token")
    revoked = await tokens.revoke(token_id)
    assert revoked is not None
    return web.json_response({"token": token_view(revoked)})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/tokens", list_tokens),
        web.post("/api/tokens", create_token),
        web.delete("/api/tokens/{id}", revoke_token),
    ]
