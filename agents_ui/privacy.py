"""Admin data-protection routes: export a contact as a zip, erase a contact (both audited)."""

from __future__ import annotations

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, requires
from httpkit.bodies import accepts, body_of
from httpkit.errors import error
from hub.contactbook import ContactError
from hub.display import DISPLAY_FIELDS, display_name
from hub.models import Role
from hub.privacy import NoSuchContact
from hub.store import ObjectId, oid


def _contact_id(request: web.Request) -> ObjectId:
    try:
        return oid(request.match_info["id"])
    except ValueError as exc:
        raise error(404, "no such contact") from exc


@requires(Role.ADMIN)
async def find_contacts(request: web.Request) -> web.Response:
    """Contacts for the privacy page: `q` is an email, a phone number (+…) or the start of a name's words."""
    q = request.query.get("q", "").strip()
    if not 2 <= len(q) <= 200:
        raise error(400, "q: 2 to 200 characters")
    contacts = request.app[HUB].store.contacts
    projection = {**DISPLAY_FIELDS, "erased_at": 1, "created_at": 1}
    if "@" in q:
        found = await contacts.find({"emails": q.lower()}, projection=projection, limit=20).to_list()
    elif q.startswith("+"):
        found = await contacts.find({"phones": q}, projection=projection, limit=20).to_list()
    else:  # the contact book's word search (an index range per window, where a name regex walked every contact)
        try:
            found = (await request.app[HUB].contactbook.search(q, 20)).contacts
        except ContactError as exc:
            raise error(400, str(exc)) from exc
    return web.json_response({"contacts": [{
        "id": str(c["_id"]), "name": display_name(c), "emails": c.get("emails", []), "phones": c.get("phones", []),
        "channels": sorted({i["channel"] for i in c.get("identities", [])} - {"erased"}),
        "erased": c.get("erased_at") is not None} for c in found]})


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
@accepts(schemas.Erase)
async def erase_contact(request: web.Request) -> web.Response:
    """Erase the contact for good; the body must be `{"confirm": true}`. A second erase is a no-op."""
    if not body_of(request, schemas.Erase).confirm:
        raise error(400, 'erasure cannot be undone: send {"confirm": true}')
    try:
        erasure = await request.app[HUB].erase_contact(_contact_id(request), agent_of(request), request.remote)
    except NoSuchContact as exc:
        raise error(404, str(exc)) from exc
    return web.json_response({"erased": True, "already": erasure.already, "removed": erasure.removed.as_dict()})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/admin/contacts", find_contacts),
        web.get("/api/admin/contacts/{id}/export", export_contact),
        web.post("/api/admin/contacts/{id}/erase", erase_contact),
    ]
