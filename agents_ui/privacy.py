"""Admin data-protection routes: export a contact as a zip, erase a contact (both audited)."""

from __future__ import annotations

from aiohttp import web

from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, json_body, requires
from hub.models import Role
from hub.privacy import NoSuchContact
from hub.store import ObjectId, oid


def _contact_id(request: web.Request) -> ObjectId:
    try:
        return oid(request.match_info["id"])
    except ValueError as exc:
        raise error(404, "no such contact") from exc


@requires(Role.ADMIN)
async def export_contact(request: web.Request) -> web.Response:
    """Everything held about the contact: `contact.json` plus their files, as a zip."""
    contact_id = _contact_id(request)
    try:
        data = await request.app[HUB].export_contact(contact_id, agent_of(request), request.remote)
    except NoSuchContact as exc:
        raise error(404, str(exc)) from exc
    return web.Response(body=data, content_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="contact-{contact_id}.zip"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


@requires(Role.ADMIN)
async def erase_contact(request: web.Request) -> web.Response:
    """Erase the contact for good; the body must be `{"confirm": true}`. A second erase is a no-op."""
    body = await json_body(request)
    if body.get("confirm") is not True:
        raise error(400, 'erasure cannot be undone: send {"confirm": true}')
    try:
        erasure = await request.app[HUB].erase_contact(_contact_id(request), agent_of(request), request.remote)
    except NoSuchContact as exc:
        raise error(404, str(exc)) from exc
    return web.json_response({"erased": True, "already": erasure.already, "removed": erasure.removed.as_dict()})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/admin/contacts/{id}/export", export_contact),
        web.post("/api/admin/contacts/{id}/erase", erase_contact),
    ]
