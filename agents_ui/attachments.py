"""Attachment downloads for desk users (customer files are never served to the public)."""

from __future__ import annotations

from aiohttp import web

from agents_ui.appkeys import HUB
from agents_ui.auth import error, requires
from hub.blobs import BlobStore
from hub.models import Role


@requires(Role.AGENT, Role.SUPERVISOR, Role.TRAINER)
async def download(request: web.Request) -> web.Response:
    """Download an attachment by its blob id (sent as a download, never rendered inline)."""
    found = await BlobStore(request.app[HUB].store).get(request.match_info["blob_id"])
    if found is None:
        raise error(404, "no such attachment")
    data, filename, _content_type = found
    safe = "".join(c for c in filename if c.isalnum() or c in "._- ")[:120] or "attachment"
    return web.Response(body=data, content_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{safe}"'})


def routes() -> list[web.RouteDef]:
    return [web.get("/api/attachments/{blob_id}", download)]
