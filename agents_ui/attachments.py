"""Files in the desk: downloads of customers' files, and files agents upload to send in a reply.

Customer files are never served to the public: downloads need a desk session whose role may read
the file's ticket (`hub.access`; trainers may not), and the file must belong to a message or a
ticket (see `_visible_file`). An upload is
tied to its ticket (GridFS metadata), so a reply can only send files uploaded for that ticket.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.uploads import UploadError, file_headers, read_upload
from hub.access import TICKET_READERS, TICKET_WORKERS, may_see_change
from hub.blobs import BlobStore
from hub.store import Doc, ObjectId, oid
from hub.tickets import NotFound

#: Largest file an agent may attach (most providers cap near here: Slack 1 GB, Telegram bots 50 MB, MMS 5 MB).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_FILES_PER_REPLY = 10


def _blobs(request: web.Request) -> BlobStore:
    blobs: BlobStore = request.app[HUB].blobs
    return blobs


async def _visible_file(request: web.Request, blob_id: str) -> bool:
    """Whether this desk user may download the file: it must belong to a message (a customer's file,
    a reply's, a private note's) or have been uploaded for a ticket, and that message or ticket must
    be visible to them by `hub.access`. Files stored for anything else (exports...) are never served here."""
    agent = agent_of(request)
    hub = request.app[HUB]
    messages = await hub.store.messages_with_file(blob_id)
    if messages:
        return any(may_see_change(agent, "messages", message) for message in messages)
    info = await _blobs(request).info(blob_id)
    ticket_id = (info or {}).get("metadata", {}).get("ticket_id")
    if ticket_id is None:
        return False
    ticket = await hub.store.tickets.find_one({"_id": ticket_id}, projection={"_id": 1, "queue": 1})
    return ticket is not None and may_see_change(agent, "tickets", ticket)


@requires(*TICKET_READERS, scope="tickets:read")
async def download(request: web.Request) -> web.Response:
    """Download a file of a ticket you may read (sent as a download, never rendered inline)."""
    blob_id = request.match_info["blob_id"]
    found = await _blobs(request).get(blob_id) if await _visible_file(request, blob_id) else None
    if found is None:
        raise error(404, "no such attachment")
    data, filename, _content_type = found
    return web.Response(body=data, content_type="application/octet-stream", headers=file_headers(filename))


@requires(*TICKET_WORKERS, scope="tickets:write")
async def upload(request: web.Request) -> web.Response:
    """Upload one file (multipart field `file`) to send with a reply on this ticket."""
    try:
        ticket_id = oid(request.match_info["id"])
        await request.app[HUB].tickets.get(ticket_id)
    except (ValueError, NotFound) as exc:
        raise error(404, "no such ticket") from exc
    try:
        upload = await read_upload(request, MAX_UPLOAD_BYTES)
    except UploadError as exc:
        raise error(exc.status, exc.reason) from exc
    blob_id = await _blobs(request).put(upload.filename, upload.content_type, upload.data, ticket_id=ticket_id,
                                        uploaded_by=agent_of(request)["_id"])
    return web.json_response({"attachment": {"blob_id": blob_id, "filename": upload.filename,
                                             "content_type": upload.content_type, "size": len(upload.data)}},
                             status=201)


async def files_for_reply(request: web.Request, ticket_id: ObjectId, ids: Any) -> list[Doc]:
    """The attachment records for a reply's `attachments` (blob ids uploaded for this ticket)."""
    if ids is None:
        return []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise error(400, "attachments must be a list of uploaded file ids")
    if len(ids) > MAX_FILES_PER_REPLY:
        raise error(400, f"at most {MAX_FILES_PER_REPLY} files per reply")
    files = []
    for blob_id in ids:
        info = await _blobs(request).info(blob_id)
        if info is None or (info.get("metadata") or {}).get("ticket_id") != ticket_id:
            raise error(400, f"file {blob_id} was not uploaded for this ticket")
        files.append({"filename": info["filename"], "content_type": info["metadata"].get("content_type"),
                      "size": info["length"], "blob_id": blob_id})
    return files


def routes() -> list[web.RouteDef]:
    return [web.get("/api/attachments/{blob_id}", download),
            web.post("/api/tickets/{id}/attachments", upload)]
