"""My saved views of the ticket list (hub.savedviews): `GET`/`PUT /api/me/views`. Each view's filters are checked
by the list's own parser (agents_ui.desk `ticket_query`) before they are kept: a view that could not load is a 400
with the reason, never saved."""

from __future__ import annotations

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from agents_ui.desk import ticket_query
from httpkit.bodies import accepts, body_of
from hub.access import TICKET_READERS
from hub.savedviews import SavedView, ViewError


def _shown(views: list[SavedView]) -> web.Response:
    return web.json_response({"views": [v.public() for v in views]})


@requires(*TICKET_READERS, scope="tickets:read")
async def my_views(request: web.Request) -> web.Response:
    """My views, in the order I keep them."""
    return _shown(await request.app[HUB].saved_views.of(agent_of(request)["_id"]))


@requires(*TICKET_READERS, scope="tickets:read")
@accepts(schemas.SavedViewList)
async def keep_views(request: web.Request) -> web.Response:
    """Replace my views (the whole list: add, rename, reorder, delete)."""
    body = body_of(request, schemas.SavedViewList)
    views = [SavedView(v.name, dict(v.filters)) for v in body.views]
    for view in views:
        ticket_query(request, view.filters)  # the list takes these filters, or a 400 says why
    try:
        kept = await request.app[HUB].saved_views.keep(agent_of(request)["_id"], views)
    except ViewError as exc:
        raise error(400, str(exc)) from exc
    return _shown(kept)


def routes() -> list[web.RouteDef]:
    return [web.get("/api/me/views", my_views), web.put("/api/me/views", keep_views)]
