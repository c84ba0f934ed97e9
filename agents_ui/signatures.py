"""My signature (hub.signatures): the lines under my replies by email. `GET`/`PUT /api/me/signature`."""

from __future__ import annotations

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, body_of
from hub.access import TICKET_READERS
from hub.ports import signs
from hub.signatures import SignatureError


def _shown(request: web.Request, signature: str) -> web.Response:
    senders = request.app[HUB].outbox.senders
    return web.json_response({"signature": signature,
                              "channels": sorted(c for c, s in senders.items() if signs(s))})


@requires(*TICKET_READERS)
async def get_signature(request: web.Request) -> web.Response:
    """My signature as kept ("" for none), and the channels whose replies carry it (email, when set up)."""
    return _shown(request, str(agent_of(request).get("signature") or ""))


@requires(*TICKET_READERS)
@accepts(schemas.Signature)
async def set_signature(request: web.Request) -> web.Response:
    """Keep my signature (empty: none); under my next replies by email."""
    body = body_of(request, schemas.Signature)
    try:
        kept = await request.app[HUB].signatures.set(agent_of(request)["_id"], body.signature)
    except SignatureError as exc:
        raise error(400, str(exc)) from exc
    return _shown(request, kept)


def routes() -> list[web.RouteDef]:
    return [web.get("/api/me/signature", get_signature), web.put("/api/me/signature", set_signature)]
