"""The desk's contact record: search, the contact page (identities, attributes, tags, notes), its
timeline across channels, edits, and merging two contacts (hub.contactbook, hub.contactmerge).

Who may do what: agents and supervisors read, search, edit and note contacts; supervisors (and
admins, who hold every role) merge them. A merged-away id still answers: `GET` of it returns the
survivor with `redirected_from` naming the id asked for.
"""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import AfterValidator, Field, Strict

from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, body_of
from httpkit.fields import Body, Email, Name, Text, Token, no_surrogates
from hub.access import SUPERVISORS, TICKET_READERS
from hub.accounts import has_role
from hub.contactbook import (
    ContactConflict,
    ContactError,
    ContactNotFound,
    channel_label,
    identity_view,
    note_view,
    visible_identities,
)
from hub.display import display_name
from hub.hub import Hub
from hub.models import Role
from hub.names import SURROGATES
from hub.store import Doc, ObjectId, oid
from hub.views import jsonable

#: Who edits contacts and writes notes on them: the people who work tickets and their supervisors.
CONTACT_EDITORS: tuple[Role, ...] = (Role.AGENT, Role.SUPERVISOR)

AttributeValue = Annotated[str, Strict(), Field(max_length=500), AfterValidator(no_surrogates)]
#: Attribute names are checked by the domain (lower-case letters, digits and _: 400 with the reason).
AttributeKey = Annotated[str, Strict(), Field(max_length=40)]
ContactTag = Annotated[str, Strict(), Field(min_length=1, max_length=40, pattern=r"^[\w][\w .:-]*$")]


class ContactChange(Body):
    """Any of these; an empty `email` or `phone` removes the one an agent set (addresses the customer wrote
    from stay), an attribute set to null or "" is removed."""

    name: Name | None = None
    email: Email | None = None
    phone: Annotated[Token, Field(max_length=40)] | None = None
    attributes: Annotated[dict[AttributeKey, AttributeValue | None], Field(max_length=50)] | None = None
    tags: Annotated[list[ContactTag], Field(max_length=30)] | None = None


class ContactBlock(Body):
    blocked: Annotated[bool, Strict()] = Field(description="true: block the contact (spam, abuse); false: unblock")
    close_tickets: Annotated[bool, Strict()] = Field(
        False, description="with a block: also close the contact's active tickets (hub.blocking)")


class ContactNote(Body):
    text: Annotated[Text, Field(min_length=1, max_length=5000)]


class ContactMerge(Body):
    """Merge the contact `other_id` into the one in the path (the survivor)."""

    other_id: Token = Field(description="the contact that is merged away (it stays as a pointer to the survivor)")


def _hub(request: web.Request) -> Hub:
    hub: Hub = request.app[HUB]
    return hub


def _contact_id(request: web.Request, value: str | None = None) -> ObjectId:
    try:
        return oid(value if value is not None else request.match_info["id"])
    except ValueError as exc:
        raise error(404, "no such contact") from exc


def _failed(exc: ContactError) -> web.HTTPException:
    if isinstance(exc, ContactNotFound):
        return error(404, str(exc))
    if isinstance(exc, ContactConflict):
        return error(409, str(exc))
    return error(400, str(exc))


def contact_view(contact: Doc) -> dict[str, Any]:
    """What the desk shows of a contact: names and handles, never channel-internal ids."""
    return {
        "id": str(contact["_id"]), "display_name": display_name(contact), "name": contact.get("name"),
        "number": contact.get("number"), "emails": contact.get("emails", []), "phones": contact.get("phones", []),
        "claimed_email": contact.get("claimed_email"),
        "identities": [identity_view(i, contact) for i in visible_identities(contact)],
        "attributes": contact.get("attributes") or {}, "tags": contact.get("tags") or [],
        "notes": [note_view(n) for n in reversed(contact.get("notes") or [])],
        "merges": [{"contact_id": str(m.get("contact_id")), "name": m.get("name"), "by": m.get("by"),
                    "at": jsonable(m.get("at"))} for m in contact.get("merges") or []],
        "erased": contact.get("erased_at") is not None,
        "blocked": ({"at": jsonable(contact["blocked"].get("at")), "by_name": contact["blocked"].get("by_name")}
                    if contact.get("blocked") else None),
        "created_at": jsonable(contact.get("created_at")), "updated_at": jsonable(contact.get("updated_at")),
    }


def _ticket_summary(ticket: Doc) -> dict[str, Any]:
    return {"id": str(ticket["_id"]), "number": ticket.get("number"), "subject": ticket.get("subject") or "",
            "status": ticket.get("status"), "channel": ticket.get("channel"), "queue": ticket.get("queue"),
            "created_at": jsonable(ticket.get("created_at"))}


@requires(*TICKET_READERS, scope="contacts")
async def search_contacts(request: web.Request) -> web.Response:
    """Contacts whose name, email, phone or channel name match every word of `q`, newest first; `size` (1-50)
    and `after` (the previous page's `next`) page through them."""
    q = request.query.get("q", "")[:200]
    if SURROGATES.search(q):
        raise error(400, "q: text must be valid Unicode")
    try:
        size = int(request.query.get("size", "20"))
    except ValueError as exc:
        raise error(400, "size must be a whole number") from exc
    if not 1 <= size <= 50:
        raise error(400, "size must be 1 to 50")
    try:
        page = await _hub(request).contactbook.search(q, size, request.query.get("after") or None)
    except ContactError as exc:
        raise _failed(exc) from exc
    return web.json_response({
        "contacts": [{"id": str(c["_id"]), "display_name": display_name(c), "emails": c.get("emails", []),
                      "phones": c.get("phones", []),
                      "identities": [identity_view(i, c) for i in visible_identities(c)],
                      "tags": c.get("tags") or []} for c in page.contacts],
        "next": page.next_cursor})


@requires(*TICKET_READERS, scope="contacts")
async def get_contact(request: web.Request) -> web.Response:
    """A customer record: identities on every channel, attributes, tags, notes, tickets and conversations.

    A merged-away id answers with the contact it was merged into and `redirected_from`."""
    hub = _hub(request)
    asked = _contact_id(request)
    contact = await hub.contactbook.resolve(asked)
    if contact is None:
        raise error(404, "no such contact")
    tickets = await hub.contactbook.tickets_of(contact["_id"])
    conversations = await hub.contactbook.conversations_of(contact["_id"])
    body: dict[str, Any] = {
        "contact": contact_view(contact),
        "tickets": [_ticket_summary(t) for t in tickets],
        "conversations": [{"id": str(c["_id"]), "channel": c.get("channel"),
                           "channel_label": channel_label(str(c.get("channel"))), "open": bool(c.get("open")),
                           "ticket_id": jsonable(c.get("ticket_id")), "subject": c.get("subject"),
                           "started_at": jsonable(c.get("started_at")),
                           "last_message_at": jsonable(c.get("last_message_at"))} for c in conversations[:100]],
        "may_merge": has_merge_role(agent_of(request)),
    }
    if contact["_id"] != asked:
        old = await hub.contactbook.get(asked)
        body["redirected_from"] = {"id": str(asked), "name": display_name(old)}
    return web.json_response(body)


def has_merge_role(agent: Doc) -> bool:
    return has_role(agent, *SUPERVISORS)


@requires(*CONTACT_EDITORS, scope="contacts")
@accepts(ContactChange)
async def edit_contact(request: web.Request) -> web.Response:
    """Change `name`, `email`, `phone`, `attributes` (merged in; null removes one) or `tags` (the whole list).

    Validated (an address another contact holds: 409, merge them instead) and recorded in the audit trail."""
    body = body_of(request, ContactChange)
    try:
        contact = await _hub(request).contactbook.edit(
            _contact_id(request), agent_of(request), name=body.name, email=body.email, phone=body.phone,
            attributes=body.attributes, tags=body.tags, ip=request.remote)
    except ContactError as exc:
        raise _failed(exc) from exc
    return web.json_response({"contact": contact_view(contact)})


@requires(*CONTACT_EDITORS, scope="contacts")
@accepts(ContactBlock)
async def block_contact(request: web.Request) -> web.Response:
    """Block a contact (spam, abuse) or unblock them. A blocked contact's messages are still stored on their record,
    but no bot answers them, they open or reopen no ticket and are nobody's news. With `close_tickets`, their active
    tickets are closed too: `closed` (numbers) and `not_closed` ({number, reason}) say how it went. Recorded in the
    audit trail."""
    body = body_of(request, ContactBlock)
    try:
        contact, closed = await _hub(request).blocking.block(_contact_id(request), agent_of(request), body.blocked,
                                                             close_tickets=body.close_tickets, ip=request.remote)
    except ContactError as exc:
        raise _failed(exc) from exc
    return web.json_response({"contact": contact_view(contact), **(closed.public() if closed else {})})


@requires(*CONTACT_EDITORS, scope="contacts")
@accepts(ContactNote)
async def add_note(request: web.Request) -> web.Response:
    """A private note on the contact (never shown to the customer), with its author and time."""
    body = body_of(request, ContactNote)
    try:
        note = await _hub(request).contactbook.add_note(_contact_id(request), agent_of(request), body.text)
    except ContactError as exc:
        raise _failed(exc) from exc
    return web.json_response({"note": note_view(note)}, status=201)


@requires(*TICKET_READERS, scope="contacts")
async def timeline(request: web.Request) -> web.Response:
    """Every message of every conversation of the contact on every channel, newest first, `size` (1-100) per
    page; `before` is the previous page's `next`. Each names its channel and ticket."""
    hub = _hub(request)
    try:
        size = int(request.query.get("size", "30"))
    except ValueError as exc:
        raise error(400, "size must be a whole number") from exc
    if not 1 <= size <= 100:
        raise error(400, "size must be 1 to 100")
    contact = await hub.contactbook.resolve(_contact_id(request))
    if contact is None:
        raise error(404, "no such contact")
    try:
        page = await hub.contactbook.timeline(contact["_id"], request.query.get("before") or None, size)
    except ContactError as exc:
        raise _failed(exc) from exc
    items = []
    for m in page.messages:
        conversation = page.conversations.get(m["conversation_id"]) or {}
        ticket = page.tickets.get(conversation.get("ticket_id"))  # type: ignore[arg-type]
        items.append({
            "id": str(m["_id"]), "conversation_id": str(m["conversation_id"]), "channel": m.get("channel"),
            "channel_label": channel_label(str(m.get("channel"))), "direction": m.get("direction"),
            "author": {"kind": (m.get("author") or {}).get("kind"), "name": hub.contactbook.author_of(m, contact)},
            "text": m.get("text") or "", "private": bool(m.get("private")), "created_at": jsonable(m["created_at"]),
            "attachments": [{"filename": a.get("filename"), "blob_id": a.get("blob_id")}
                            for a in m.get("attachments") or []],
            "ticket": _ticket_summary(ticket) if ticket else None,
            "subject": conversation.get("subject"),
        })
    return web.json_response({"items": items, "next": page.next_cursor})


@requires(*SUPERVISORS, scope="contacts")
async def merge_plan(request: web.Request) -> web.Response:
    """What merging `other` (query) into this contact would move, and the reason it would be refused if so."""
    hub = _hub(request)
    other = request.query.get("other", "")
    if not ObjectId.is_valid(other):
        raise error(400, "other: the id of the contact to merge into this one")
    try:
        plan = await hub.merges.plan(_contact_id(request), oid(other))
    except ContactError as exc:
        raise _failed(exc) from exc
    return web.json_response({"survivor": contact_view(plan.survivor), "other": contact_view(plan.other),
                              "moves": {"identities": plan.identities, "conversations": plan.conversations,
                                        "tickets": plan.tickets},
                              "conflict": plan.conflict})


@requires(*SUPERVISORS, scope="contacts")
@accepts(ContactMerge)
async def merge(request: web.Request) -> web.Response:
    """Merge `other_id` into this contact: identities, conversations and tickets move; the other record stays
    as a pointer (`merged_into`). 409 with the reason when refused (different verified identities of one kind,
    an erased contact, already merged). Recorded in the audit trail."""
    hub = _hub(request)
    body = body_of(request, ContactMerge)
    if not ObjectId.is_valid(body.other_id):
        raise error(400, "other_id: the id of the contact to merge into this one")
    try:
        merged = await hub.merges.merge(_contact_id(request), oid(body.other_id), agent_of(request),
                                        ip=request.remote)
    except ContactError as exc:
        raise _failed(exc) from exc
    return web.json_response({"contact": contact_view(merged.survivor), "merged": str(merged.other_id),
                              "moved": {"tickets": len(merged.tickets), "conversations": merged.conversations}})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/contacts", search_contacts),
        web.get("/api/contacts/{id}", get_contact),
        web.patch("/api/contacts/{id}", edit_contact),
        web.post("/api/contacts/{id}/notes", add_note),
        web.post("/api/contacts/{id}/block", block_contact),
        web.get("/api/contacts/{id}/timeline", timeline),
        web.get("/api/contacts/{id}/merge", merge_plan),
        web.post("/api/contacts/{id}/merge", merge),
    ]
