"""MMS files: agents' attachments handed to Twilio as signed, expiring URLs on the hub.

Twilio's Messages API takes media only as public URLs (`MediaUrl`, up to 10 per message),
which Twilio fetches itself when it sends the MMS (and again when it retries). So the SMS
sender (`files = FILES_LINK`) gets each file's `blob_id`, and this module turns it into
`{public_url}/api/phone/media/{blob_id}?expires=<unix>&sig=<hex>`, where `sig` is the
HMAC-SHA256, with the hub secret, of `phone-media\\n{blob_id}\\n{expires}`. Only the hub
can make such a link, and it stops working at `expires`; anybody holding a live link can
fetch that one file (Twilio sends no credentials), which is why the lifetime is bounded.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web

from channels.base import bad_request
from httpkit.uploads import file_headers
from hub.models import Attachment, SendError

if TYPE_CHECKING:
    from hub.hub import Hub

MEDIA_PATH = "/api/phone/media"
#: Long enough for Twilio's own fetch retries and for the outbox's retries of the message.
LINK_LIFETIME_SECONDS = 7 * 24 * 3600
#: Twilio's limits for one MMS: 10 media URLs, 5 MB of media in all.
MAX_MEDIA = 10
MAX_MMS_BYTES = 5 * 1024 * 1024
_MIME = re.compile(r"[\w.+-]+/[\w.+-]+", re.ASCII)


def media_signature(secret: str, blob_id: str, expires: int) -> str:
    """Hex HMAC-SHA256 of the blob id and expiry; the prefix keeps it apart from the hub's other signatures."""
    payload = f"phone-media\n{blob_id}\n{expires}".encode()
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


class MediaLinks:
    """Signs the links the SMS sender gives Twilio, and serves the files behind them."""

    def __init__(self, hub: Hub, public_url: str, secret: str, *,
                 lifetime_seconds: int = LINK_LIFETIME_SECONDS, clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ValueError("the hub secret is required to sign MMS media links")
        self.hub = hub
        self.base = public_url.rstrip("/")
        self.secret = secret
        self.lifetime_seconds = lifetime_seconds
        self.clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [web.get(f"{MEDIA_PATH}/{{blob_id}}", self.serve)]

    def url(self, blob_id: str) -> str:
        expires = int(self.clock()) + self.lifetime_seconds
        query = urlencode({"expires": expires, "sig": media_signature(self.secret, blob_id, expires)})
        return f"{self.base}{MEDIA_PATH}/{blob_id}?{query}"

    async def urls_for(self, attachments: Sequence[Attachment]) -> list[str]:
        """One signed URL per file, once the files are known to fit in one MMS (else a permanent SendError)."""
        if len(attachments) > MAX_MEDIA:
            raise SendError(f"an MMS carries at most {MAX_MEDIA} files ({len(attachments)} attached)",
                            transient=False)
        blobs = self.hub.blobs
        total = 0
        urls = []
        for attachment in attachments:
            info = await blobs.info(attachment.blob_id) if blobs is not None and attachment.blob_id else None
            if info is None:
                raise SendError(f"attachment {attachment.filename!r} is no longer stored", transient=False)
            total += int(info.get("length") or attachment.size or 0)
            urls.append(self.url(str(attachment.blob_id)))
        if total > MAX_MMS_BYTES:
            raise SendError(f"files too large for MMS: {total / 1_048_576:.1f} MB attached, Twilio takes at most "
                            f"{MAX_MMS_BYTES // 1_048_576} MB per message", transient=False)
        return urls

    def _verify(self, blob_id: str, expires: str, sig: str) -> None:
        """403 unless the link was signed by this hub and has not expired."""
        if not expires.isascii() or not expires.isdigit() or len(expires) > 12:
            raise bad_request("invalid media link", 403)
        expected = media_signature(self.secret, blob_id, int(expires))
        if not hmac.compare_digest(expected.encode(), sig.lower().encode()):
            raise bad_request("invalid media link", 403)
        if int(expires) < self.clock():
            raise bad_request("media link expired", 403)

    async def serve(self, request: web.Request) -> web.Response:
        """An agent's file for Twilio to attach to an MMS (signed, expiring link; no session)."""
        blob_id = request.match_info["blob_id"]
        self._verify(blob_id, request.query.get("expires", ""), request.query.get("sig", ""))
        found = await self.hub.blobs.get(blob_id) if self.hub.blobs is not None else None
        if found is None:
            raise bad_request("no such file", 404)
        data, filename, content_type = found
        if not _MIME.fullmatch(content_type):
            content_type = "application/octet-stream"
        return web.Response(body=data, headers={
            "Content-Type": content_type,
            **file_headers(filename, inline=True),
            # An HTML or SVG file opened from the link must not run as a page of the hub's origin.
            "Content-Security-Policy": "sandbox; default-src 'none'",
        })
